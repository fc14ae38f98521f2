export { DEFAULT_OUT, parseTinyModelArgs, type TinyModelCommand, USAGE, UsageError } from "./args.js";
