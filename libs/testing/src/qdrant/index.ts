export { type FakeQdrant, startFakeQdrant } from "./fake.js";
