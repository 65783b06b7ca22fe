import * as os from "node:os";
import * as tf from "@tensorflow/tfjs";
import { SeaError } from "../util/errors";
import { describeBlas, loadNativeAddon, NATIVE_BUILD_HINT, nativeAllowed, nativeLoadError } from "./addon";
import { disableNativeKernels, enableNativeKernels } from "./kernels";
import { registerWasmFallbackKernels } from "./wasmKernels";
import { registerCpuRepairKernels } from "./cpuKernels";
// Registers the built-in fast kernels of the fused ops (the implementation switch, src/backend/implementation.ts).
import "./fused";

/** Recorded in every run's metadata. */
export interface BackendInfo {
  /** tfjs-node-gpu | tfjs-node | native | wasm | cpu */
  name: string;
  /** true when the kit's BLAS kernels (native/) serve matMul on the tfjs cpu backend */
  native: boolean;
  /** compute threads (BLAS threads for native; 1 for pure JS and Node's single-threaded wasm) */
  threads: number;
  /** e.g. "openblas 0.3.21 (pthreads)", "libtensorflow (tfjs-node 4.22.0)", "none (pure JS)" */
  blas: string;
}

export interface SelectBackendOptions {
  /** Overrides env SEA_BACKEND; one of BACKEND_NAMES. */
  backend?: string;
  /** No stderr line. */
  quiet?: boolean;
}

export const BACKEND_NAMES = ["tfjs-node-gpu", "tfjs-node", "native", "wasm", "cpu"] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

type Attempt = { ok: true; info: BackendInfo } | { ok: false; reason: string };

/**
 * Picks and activates the fastest available tfjs backend: tfjs-node-gpu → tfjs-node → native
 * (cpu + BLAS kernels) → wasm → cpu, or the one named by `options.backend` / env SEA_BACKEND (an
 * unavailable named backend is a SeaError, never a silent fallback). SEA_NATIVE=0 disables the
 * native kernels. Prints one line to stderr unless quiet. Safe to call repeatedly.
 */
export async function selectBackend(options: SelectBackendOptions = {}): Promise<BackendInfo> {
  const fromOption = options.backend !== undefined && options.backend !== "";
  const requested = fromOption ? options.backend : process.env.SEA_BACKEND || undefined;
  if (requested !== undefined && !isBackendName(requested)) {
    throw new SeaError(`unknown backend '${requested}' (expected one of: ${BACKEND_NAMES.join(", ")})`, {
      where: fromOption ? "--backend" : "env SEA_BACKEND",
    });
  }
  const order: readonly BackendName[] = requested ? [requested] : BACKEND_NAMES;
  const skipped: string[] = [];
  for (const name of order) {
    const attempt = await activate(name);
    if (attempt.ok) {
      if (!options.quiet) process.stderr.write(`${describeChoice(attempt.info, skipped)}\n`);
      return attempt.info;
    }
    skipped.push(`${name}: ${attempt.reason}`);
  }
  const hint = requested === "native" ? `; to build it: ${NATIVE_BUILD_HINT}` : "";
  throw new SeaError(`backend '${order.join("/")}' is not available (${skipped.join("; ")})${hint}`, {
    where: requested ? (fromOption ? "--backend" : "env SEA_BACKEND") : undefined,
  });
}

function isBackendName(name: string): name is BackendName {
  return (BACKEND_NAMES as readonly string[]).includes(name);
}

async function activate(name: BackendName): Promise<Attempt> {
  switch (name) {
    case "tfjs-node-gpu":
    case "tfjs-node":
      return activateTfjsNode(name);
    case "native":
      return activateNative();
    case "wasm":
      return activateWasm();
    case "cpu":
      return activateCpu();
  }
}

/**
 * Real tfjs-node only: in this repository `@tensorflow/tfjs-node` is an npm alias of plain
 * `@tensorflow/tfjs` (danfojs needs the name), so the installed package.json's own name must match
 * and loading it must register the `tensorflow` backend.
 */
async function activateTfjsNode(name: "tfjs-node-gpu" | "tfjs-node"): Promise<Attempt> {
  const pkg = `@tensorflow/${name}`;
  let manifest: { name?: string; version?: string };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    manifest = require(`${pkg}/package.json`) as { name?: string; version?: string };
  } catch {
    return { ok: false, reason: "not installed" };
  }
  if (manifest.name !== pkg) return { ok: false, reason: `not installed (the name is an alias of ${manifest.name ?? "another package"})` };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require(pkg);
  } catch (e) {
    return { ok: false, reason: `failed to load: ${(e as Error).message.split("\n")[0]}` };
  }
  if (!tf.findBackendFactory("tensorflow") || !(await tf.setBackend("tensorflow"))) {
    return { ok: false, reason: "loaded but did not register the 'tensorflow' backend" };
  }
  disableNativeKernels();
  return { ok: true, info: { name, native: false, threads: os.availableParallelism(), blas: `libtensorflow (${name} ${manifest.version ?? "?"})` } };
}

async function activateNative(): Promise<Attempt> {
  if (!nativeAllowed()) return { ok: false, reason: "disabled by SEA_NATIVE=0" };
  const addon = loadNativeAddon();
  if (!addon) return { ok: false, reason: nativeLoadError() ?? "native addon unavailable" };
  enableNativeKernels(addon);
  await useCpuBackend();
  return { ok: true, info: { name: "native", native: true, threads: addon.getThreads(), blas: describeBlas(addon) } };
}

async function activateWasm(): Promise<Attempt> {
  try {
    // Loaded only when chosen: it registers the backend and reads its .wasm from its package folder.
    await import("@tensorflow/tfjs-backend-wasm");
    if (!(await tf.setBackend("wasm"))) return { ok: false, reason: "the wasm backend failed to initialise" };
  } catch (e) {
    return { ok: false, reason: `failed to load: ${(e as Error).message.split("\n")[0]}` };
  }
  registerWasmFallbackKernels();
  disableNativeKernels();
  return { ok: true, info: { name: "wasm", native: false, threads: 1, blas: "xnnpack wasm" } };
}

async function activateCpu(): Promise<Attempt> {
  disableNativeKernels();
  await useCpuBackend();
  return { ok: true, info: { name: "cpu", native: false, threads: 1, blas: "none (pure JS)" } };
}

async function useCpuBackend(): Promise<void> {
  if (!(await tf.setBackend("cpu"))) throw new Error("the tfjs cpu backend failed to initialise");
  registerCpuRepairKernels();
  // The cpu backend greets its first tensor with a multi-line "install tfjs-node" banner; the one
  // stderr line from selectBackend replaces it (tfjs-node cannot be installed offline anyway).
  const backend = tf.backend() as unknown as { firstUse?: boolean };
  if (backend.firstUse === true) backend.firstUse = false;
}

function describeChoice(info: BackendInfo, skipped: readonly string[]): string {
  const base = `sea: backend ${info.name} (${info.blas}, ${info.threads} thread${info.threads === 1 ? "" : "s"})`;
  if (info.native || info.name.startsWith("tfjs-node")) return base;
  if (!nativeAllowed()) return `${base} - native BLAS kernels disabled by SEA_NATIVE=0`;
  if (loadNativeAddon()) return `${base} - native BLAS kernels are built and ~100x faster at matMul (--backend native)`;
  const reason = skipped.find((s) => s.startsWith("native:")) ?? `native: ${nativeLoadError() ?? "unavailable"}`;
  return `${base} - matMul ~100x slower than native BLAS kernels [${reason}]; to get them: ${NATIVE_BUILD_HINT}`;
}
