export { type Io, run, USAGE } from "./cli.js";
