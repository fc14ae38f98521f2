export * from "./local.js";
export * from "./logs.js";
export * from "./plan.js";
export * from "./supervisor.js";
