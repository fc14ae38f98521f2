#!/usr/bin/env node
// The CLI's sources are TypeScript, run through tsx like every part of the platform.
import { register } from "tsx/esm/api";

register();
await import("../src/main.ts");
