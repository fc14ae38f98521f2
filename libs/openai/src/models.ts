import { serving } from "@sloughgpt/proto";
import { NotFoundError } from "@sloughgpt/runtime";

export interface OpenAIModel {
  id: string;
  object: "model";
  created: number;
  owned_by: string;
}

/** Loaded models, and idle ones that load again on the first request; not those still loading or failed. */
export function availableModels(models: readonly serving.Model[]): OpenAIModel[] {
  return models
    .filter(
      (m) =>
        m.state === serving.ModelState.MODEL_STATE_LOADED || m.state === serving.ModelState.MODEL_STATE_IDLE,
    )
    .map((m) => ({ id: m.id, object: "model", created: m.createdUnix, owned_by: m.ownedBy }));
}

/** `GET /v1/models/{id}`: the model, or 404 `model_not_found`. */
export function findModel(models: readonly OpenAIModel[], id: string): OpenAIModel {
  const model = models.find((m) => m.id === id);
  if (!model) {
    throw new NotFoundError(`The model '${id}' does not exist`, {
      param: "model",
      reason: "model_not_found",
    });
  }
  return model;
}
