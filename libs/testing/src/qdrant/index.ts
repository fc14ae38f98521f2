export { type FakeQdrant, QDRANT_DEFAULT_RRF_K, startFakeQdrant } from "./fake.js";
