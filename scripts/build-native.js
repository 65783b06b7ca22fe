#!/usr/bin/env node
/**
 * Builds the optional BLAS addon (native/ -> native/build/Release/sea_native.node) with node-gyp and
 * Node's own headers. Runs as the package's install step and by hand:
 *
 *   node scripts/build-native.js [--strict] [--verbose]
 *
 * The addon is an accelerator, never a requirement: when the toolchain or CBLAS is missing, or the
 * compile fails, this prints one line saying so and exits 0 (the kit then runs on pure-JS tfjs).
 * --strict (or SEA_NATIVE_STRICT=1) exits 1 instead, for CI machines that must have the addon.
 * SEA_NATIVE=0 skips the build. Compiler output is shown only on failure or with --verbose.
 */
"use strict";

const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const repo = path.resolve(__dirname, "..");
const nativeDir = path.join(repo, "native");
const addonPath = path.join(nativeDir, "build", "Release", "sea_native.node");
const args = new Set(process.argv.slice(2));
const strict = args.has("--strict") || process.env.SEA_NATIVE_STRICT === "1";
const verbose = args.has("--verbose");
const HINT = "the kit falls back to pure-JS tfjs (about 100x slower matmul)";

function say(message) {
  console.log(`sea native: ${message}`);
}

/** One line, then exit: 0 normally, 1 under --strict. */
function giveUp(reason) {
  say(`${reason} - addon not built; ${HINT}`);
  process.exit(strict ? 1 : 0);
}

function runs(command, commandArgs) {
  const r = spawnSync(command, commandArgs, { stdio: "ignore" });
  return r.status === 0;
}

/** Linux: OpenBLAS through pkg-config. macOS: Accelerate is always there. */
function checkBlas() {
  if (process.platform === "darwin") return;
  if (process.platform !== "linux") giveUp(`platform ${process.platform} is not supported by native/binding.gyp`);
  if (!runs("pkg-config", ["--version"])) giveUp("pkg-config not found (apt-get install pkg-config libopenblas-dev)");
  if (!runs("pkg-config", ["--exists", "openblas"])) giveUp("OpenBLAS not found by pkg-config (apt-get install libopenblas-dev)");
}

function checkToolchain() {
  const cxx = process.env.CXX || (process.platform === "darwin" ? "clang++" : "g++");
  if (!runs(cxx, ["--version"])) giveUp(`C++ compiler '${cxx}' not found (apt-get install g++)`);
  if (!runs("make", ["--version"])) giveUp("make not found (apt-get install make)");
  if (!runs("python3", ["--version"])) giveUp("python3 not found (node-gyp needs it)");
}

/** node-gyp from this checkout, else the copy bundled with npm. */
function findNodeGyp() {
  const candidates = [
    path.join(repo, "node_modules", "node-gyp", "bin", "node-gyp.js"),
    path.join(path.dirname(process.execPath), "..", "lib", "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js"),
  ];
  try {
    candidates.push(require.resolve("node-gyp/bin/node-gyp.js", { paths: [repo] }));
  } catch {
    // not resolvable: the fixed candidates above are all there is
  }
  return candidates.find((c) => fs.existsSync(c));
}

/**
 * Node's own headers (Debian's nodejs and the official tarballs ship include/node next to bin/):
 * passing them as --nodedir keeps node-gyp from downloading headers, which fails offline.
 */
function findNodeDir() {
  const prefix = path.resolve(path.dirname(process.execPath), "..");
  const headers = path.join(prefix, "include", "node");
  const ok = ["node_api.h", "common.gypi"].every((f) => fs.existsSync(path.join(headers, f)));
  return ok ? prefix : undefined;
}

function hasNodeAddonApi() {
  try {
    require.resolve("node-addon-api", { paths: [repo] });
    return true;
  } catch {
    return false;
  }
}

/** Loads the fresh addon in a child process (a broken link would otherwise surface only at run time). */
function describeAddon() {
  const probe = `const a = require(${JSON.stringify(addonPath)}); const i = a.info(); console.log(i.vendor + " " + (i.config || "") + " (" + i.parallel + ")")`;
  const r = spawnSync(process.execPath, ["-e", probe], { encoding: "utf8" });
  if (r.status !== 0) return { ok: false, detail: (r.stderr || "").trim().split("\n").slice(-3).join(" | ") };
  return { ok: true, detail: r.stdout.trim() };
}

function main() {
  if (process.env.SEA_NATIVE === "0") {
    say("SEA_NATIVE=0 - build skipped");
    return;
  }
  checkBlas();
  checkToolchain();
  if (!hasNodeAddonApi()) giveUp("node-addon-api is not installed (npm install)");
  const nodeGyp = findNodeGyp();
  if (!nodeGyp) giveUp("node-gyp not found (npm install)");
  const gypArgs = [nodeGyp, "rebuild", "--directory", nativeDir];
  const nodeDir = findNodeDir();
  if (nodeDir) gypArgs.push(`--nodedir=${nodeDir}`);
  const started = Date.now();
  const r = spawnSync(process.execPath, gypArgs, {
    cwd: nativeDir,
    encoding: "utf8",
    stdio: verbose ? "inherit" : "pipe",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0 || !fs.existsSync(addonPath)) {
    if (!verbose) {
      const tail = `${r.stdout || ""}${r.stderr || ""}`.trim().split("\n").slice(-25).join("\n");
      if (tail) console.log(tail);
    }
    giveUp(`node-gyp rebuild failed${r.error ? ` (${r.error.message})` : ""}; rerun with --verbose for the full log`);
  }
  const loaded = describeAddon();
  if (!loaded.ok) giveUp(`built ${path.relative(repo, addonPath)} but it does not load: ${loaded.detail}`);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  say(`built ${path.relative(repo, addonPath)} in ${seconds}s - ${loaded.detail}`);
}

main();
