// Regenerates libs/proto/src/generated from proto/. The output is committed and never edited by hand.
import { parseArgs } from "node:util";
import { generate } from "./generate.js";

const { values } = parseArgs({ options: { out: { type: "string" } } });
generate(values.out);
