#!/usr/bin/env node
// The `sea` command. Runs the TypeScript sources through tsx so the CLI never depends on a stale build.
"use strict";

// Process settings for long numeric runs (bin/process-settings.js says what each does and what it was measured to
// gain). Neither can change inside a running process, so the command re-runs itself once with them;
// SEA_PROCESS_TUNING=0 keeps Node's and glibc's defaults, and so does a process started with --inspect (the child
// would ask for the same debugger port). A GLIBC_TUNABLES of the user's own is left as it is.
const { GC_FLAG, MALLOC_TUNABLES } = require("./process-settings.js");
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
  // bench/ sits beside the CLI: it imports the library, and the CLI does not import it; the entry joins the two.
  const { registerBenchCommands } = require("../bench/commands.ts");
  require("../src/cli/main.ts").main(process.argv, [registerBenchCommands]);
}
