export * from "./errors.js";
export * from "./http.js";
export * from "./mapping.js";
export * from "./models.js";
export * from "./schemas.js";
export * from "./sse.js";
export * from "./stream.js";
