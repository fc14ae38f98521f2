// What other packages embed: the local backend runs a TrainingJob as local processes (the CLI's
// `train submit --local`), with the manifest parser the gateway's submissions use.
export { parseManifest } from "./api/manifest.js";
export type { TrainingJob, TrainingJobStatus } from "./api/types.js";
export { LocalJobCluster } from "./local/runner.js";
