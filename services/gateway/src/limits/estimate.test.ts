import { completionAllowance, estimateJsonTokens, estimateTextTokens } from "./estimate.js";

describe("token estimates", () => {
  it("counts about four UTF-8 bytes a token, rounding up", () => {
    expect(estimateTextTokens("")).toBe(0);
    expect(estimateTextTokens("abcd")).toBe(1);
    expect(estimateTextTokens("abcde")).toBe(2);
    // Four bytes each in UTF-8.
    expect(estimateTextTokens("😀😀")).toBe(2);
  });

  it("counts chat messages with their structure", () => {
    const messages = [{ role: "user", content: "hello there" }];
    expect(estimateJsonTokens(messages)).toBe(Math.ceil(JSON.stringify(messages).length / 4));
  });

  it("reserves the completion a request asked for, the first limit given", () => {
    expect(completionAllowance(null, 64)).toBe(64);
    expect(completionAllowance(32, 64)).toBe(32);
    expect(completionAllowance(undefined, null)).toBe(0);
  });
});
