#!/usr/bin/env node
// The `sea` command. Runs the TypeScript sources through tsx so the CLI never depends on a stale build.
"use strict";
require("tsx/cjs");
require("../src/cli/main.ts").main(process.argv);
