import { serving } from "@sloughgpt/proto";
import { NotFoundError } from "@sloughgpt/runtime";
import { availableModels, findModel } from "./models.js";

const model = (id: string, state: serving.ModelState): serving.Model => ({
  id,
  ownedBy: "sloughgpt",
  createdUnix: 1700000000,
  contextSize: 2048,
  quantization: "F32",
  engine: "llama",
  state,
  chatTemplate: "chatml",
});

describe("availableModels", () => {
  it("lists loaded and idle models in OpenAI's shape, not loading or failed ones", () => {
    const list = availableModels([
      model("a", serving.ModelState.MODEL_STATE_LOADED),
      model("b", serving.ModelState.MODEL_STATE_LOADING),
      model("c", serving.ModelState.MODEL_STATE_IDLE),
      model("d", serving.ModelState.MODEL_STATE_FAILED),
    ]);
    expect(list).toEqual([
      { id: "a", object: "model", created: 1700000000, owned_by: "sloughgpt" },
      { id: "c", object: "model", created: 1700000000, owned_by: "sloughgpt" },
    ]);
  });
});

describe("findModel", () => {
  it("finds a model by id, or refuses with model_not_found", () => {
    const list = availableModels([model("a", serving.ModelState.MODEL_STATE_LOADED)]);
    expect(findModel(list, "a").id).toBe("a");
    expect(() => findModel(list, "zz")).toThrow(NotFoundError);
    expect(() => findModel(list, "zz")).toThrow("The model 'zz' does not exist");
  });
});
