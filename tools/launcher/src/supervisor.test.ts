import { nodeArgs } from "./supervisor.js";

describe("nodeArgs", () => {
  it("passes SLOUGHGPT_NODE_ARGS to services as separate options", () => {
    expect(nodeArgs({ SLOUGHGPT_NODE_ARGS: " --cpu-prof  --cpu-prof-dir=/tmp/prof " })).toEqual([
      "--cpu-prof",
      "--cpu-prof-dir=/tmp/prof",
    ]);
  });

  it("adds nothing when unset or blank", () => {
    expect(nodeArgs({})).toEqual([]);
    expect(nodeArgs({ SLOUGHGPT_NODE_ARGS: "  " })).toEqual([]);
  });
});
