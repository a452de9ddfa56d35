#!/usr/bin/env node
// A member process: `raftkv-serve.js serve <flags>`. Launchers start the
// bundle of this file, dist/raftkv-serve-loader.cjs (see src/member-process.ts),
// which runs the member's own bundle, dist/raftkv-serve.cjs, with V8's code
// cache (see src/serve-loader.ts).
import { runMemberBundle } from "../dist/src/serve-loader.js";

runMemberBundle(new URL("../dist/raftkv-serve.cjs", import.meta.url));
