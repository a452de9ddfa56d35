#!/usr/bin/env node
import { run } from "../dist/src/main.js";

process.exit(await run(process.argv));
