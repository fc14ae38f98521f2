export * from "./kube/index.js";
export * from "./nats.js";
export * from "./platform.js";
export * from "./postgres.js";
export * from "./qdrant/index.js";
