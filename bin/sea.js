#!/usr/bin/env node
// The `sea` command. Runs the TypeScript sources through tsx so the CLI never depends on a stale build.
"use strict";

// Process settings for long numeric runs. Neither can change inside a running process, so the command re-runs
// itself once with them; SEA_PROCESS_TUNING=0 keeps Node's and glibc's defaults, and so does a process started
// with --inspect (the child would ask for the same debugger port). Measured on a Baby-shaped training step
// (2 cores, alternating runs of `sea bench step`):
// * --single-threaded-gc: V8 otherwise marks and sweeps on helper threads, which compete with the BLAS and addon
//   threads that use both cores; 0.92–0.99 → 0.82–0.86 s per step.
// * glibc malloc serving arrays under 32 MiB from its heap (mmap_threshold) and keeping up to 256 MiB of freed heap
//   (trim_threshold) instead of a fresh mmap per array, whose every page faults on first touch; a further ~3%.
//   A GLIBC_TUNABLES of the user's own is left as it is.
const GC_FLAG = "--single-threaded-gc";
const MALLOC_TUNABLES = "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=268435456";
const debugging = process.execArgv.some((arg) => arg.startsWith("--inspect"));
if (process.env.SEA_PROCESS_TUNING !== "0" && !debugging && !process.execArgv.includes(GC_FLAG)) {
  const { spawn } = require("node:child_process");
  const env = { ...process.env, GLIBC_TUNABLES: process.env.GLIBC_TUNABLES ?? MALLOC_TUNABLES };
  const child = spawn(process.execPath, [...process.execArgv, GC_FLAG, __filename, ...process.argv.slice(2)], { stdio: "inherit", env });
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
