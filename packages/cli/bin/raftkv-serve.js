#!/usr/bin/env node
// A member process: `raftkv-serve.js serve <flags>`. Launchers start the
// bundle of this file, dist/raftkv-serve.js (see src/member-process.ts).
import { runServe } from "../dist/src/serve-main.js";

process.exit(await runServe(process.argv));
