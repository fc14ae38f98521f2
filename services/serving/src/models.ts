import { serving } from "@sloughgpt/proto";
import type { ModelInfo, ModelState } from "./engine/engine.js";

const STATE: Record<ModelState, serving.ModelState> = {
  loading: serving.ModelState.MODEL_STATE_LOADING,
  loaded: serving.ModelState.MODEL_STATE_LOADED,
  idle: serving.ModelState.MODEL_STATE_IDLE,
  failed: serving.ModelState.MODEL_STATE_FAILED,
};

/** A registry entry as the serving contract describes it, for the gRPC and HTTP front ends alike. */
export function toProtoModel(m: ModelInfo & { state: ModelState }): serving.Model {
  return {
    id: m.id,
    ownedBy: "sloughgpt",
    createdUnix: m.createdUnix,
    contextSize: m.contextSize,
    quantization: m.quantization,
    engine: m.engine,
    state: STATE[m.state],
    chatTemplate: m.chatTemplate,
  };
}
