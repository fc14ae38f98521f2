// ESM mode (NODE_OPTIONS=--experimental-vm-modules) with the swc transform:
// node-llama-cpp, @nats-io/* and @kubernetes/client-node 1.x are ESM-only.
const transform = {
  "^.+\\.ts$": [
    "@swc/jest",
    {
      jsc: { target: "es2022", parser: { syntax: "typescript" } },
      module: { type: "es6" },
    },
  ],
};
const common = {
  transform,
  extensionsToTreatAsEsm: [".ts"],
  moduleNameMapper: { "^(\\.{1,2}/.*)\\.js$": "$1" },
  testEnvironment: "node",
};

export default {
  projects: [
    {
      ...common,
      displayName: "unit",
      testMatch: [
        "<rootDir>/{services,libs,tools}/*/src/**/*.test.ts",
        "<rootDir>/k8s/**/*.test.ts",
        "<rootDir>/charts/**/*.test.ts",
        "<rootDir>/bench/**/*.test.ts",
      ],
    },
    {
      ...common,
      displayName: "integration",
      testMatch: ["<rootDir>/{services,libs,tools}/*/test/**/*.test.ts"],
    },
  ],
  maxWorkers: 2,
  reporters: ["default", "<rootDir>/tools/jest/summary-reporter.js"],
};
