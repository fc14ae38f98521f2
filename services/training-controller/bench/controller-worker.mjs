// Worker threads do not inherit tsx's loader: load the TypeScript entry through its API.
import { tsImport } from "tsx/esm/api";

await tsImport("./controller-worker.ts", import.meta.url);
