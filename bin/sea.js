#!/usr/bin/env node
// The `sea` command. Runs the TypeScript sources through tsx so the CLI never depends on a stale build.
"use strict";

// V8 collects garbage on helper threads by default. On a 2-core machine those threads compete with the BLAS and
// addon threads that use both cores, and a training step spends much of its time allocating large arrays: a
// Baby-shaped step ran ~12% faster with --single-threaded-gc (0.82 against 0.90–1.02 s, alternating runs). The flag
// cannot be switched on once V8 runs, so the command re-runs itself with it; SEA_GC=concurrent keeps V8's default.
const GC_FLAG = "--single-threaded-gc";
if (process.env.SEA_GC !== "concurrent" && !process.execArgv.includes(GC_FLAG)) {
  const { spawn } = require("node:child_process");
  const child = spawn(process.execPath, [...process.execArgv, GC_FLAG, __filename, ...process.argv.slice(2)], { stdio: "inherit" });
  const forward = (signal) => child.kill(signal);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, forward);
  child.on("error", (error) => {
    process.stderr.write(`sea: cannot start ${process.execPath}: ${error.message}\n`);
    process.exit(1);
  });
  child.on("exit", (code, signal) => {
    if (signal) {
      // End the way the child ended, so callers see the same signal.
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
      return;
    }
    process.exit(code ?? 1);
  });
} else {
  require("tsx/cjs");
  require("../src/cli/main.ts").main(process.argv);
}
