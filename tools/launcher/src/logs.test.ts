import { formatLogLine } from "./logs.js";

describe("formatLogLine", () => {
  it("renders pino JSON as level, message and fields", () => {
    const line = JSON.stringify({
      level: 30,
      time: "t",
      service: "rag",
      msg: "Started service",
      grpcPort: 1,
    });
    expect(formatLogLine("rag", line, 4)).toBe("rag  | INFO  Started service grpcPort=1");
  });

  it("passes other lines through", () => {
    expect(formatLogLine("x", "plain text", 1)).toBe("x | plain text");
    expect(formatLogLine("x", "42", 1)).toBe("x | 42");
  });
});
