import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** What the addon (native/src/*.cc) exports. All arrays are read and written in place. */
export interface SeaNativeAddon {
  /** C[i] = op(A[aBatch[i]]) · op(B[bBatch[i]]) for i < aBatch.length; row-major, C is [count, m, n]. */
  sgemmBatched(
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    a: Float32Array,
    b: Float32Array,
    c: Float32Array,
    aBatch: Int32Array,
    bBatch: Int32Array,
  ): void;
  /** c = act(c + bias) with bias repeated every bias.length entries; activation codes in kernels.ts. */
  biasActivation(c: Float32Array, bias: Float32Array | null, activation: number, alpha: number): void;
  /** out[nRows×d] = A · x[nCols×d] for the CSR matrix A (threads over row blocks of equal nnz). */
  spmm(indptr: Int32Array, indices: Int32Array, values: Float32Array, nCols: number, x: Float32Array, d: number, out: Float32Array): void;
  /** out[nCols×d] = Aᵀ · x[nRows×d] (single-threaded scatter). */
  spmmTranspose(indptr: Int32Array, indices: Int32Array, values: Float32Array, nCols: number, x: Float32Array, d: number, out: Float32Array): void;
  /**
   * `steps` Adam steps of the CLUB network's negative log-likelihood on fixed (detached) pairs, in place
   * (native/src/club_fit.cc; the TypeScript twin and the layouts are in src/losses/clubFit.ts).
   * x: [rows, xDim], y: [rows, yDim]; rows are groups of `rowsPerGroup` (one per modality) and the loss is the
   * sum over groups of each group's mean NLL. params/m/v: the 8 CLUB arrays concatenated in Club.variables order.
   * `adamStep` is the number of Adam steps already taken (bias corrections use beta^(adamStep + s + 1)).
   * Returns the loss of the last step, computed before its update.
   */
  clubFitAdam(
    x: Float32Array,
    y: Float32Array,
    rowsPerGroup: number,
    xDim: number,
    yDim: number,
    hiddenUnits: number,
    logvarScale: number,
    params: Float32Array,
    m: Float32Array,
    v: Float32Array,
    adamStep: number,
    steps: number,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
  ): number;
  /**
   * Solosim's loss and gradients in one pass, never holding the n×n score matrix (native/src/solosim.cc):
   * a, b: [n, d] rows already L2-normalised; S = a·bᵀ·invTau; loss = mean_i [logsumexp_j S_ij − S_ii];
   * writes dA = ∂loss/∂a and dB = ∂loss/∂b (each [n, d]); returns the loss.
   */
  solosimForwardBackward(a: Float32Array, b: Float32Array, n: number, d: number, invTau: number, dA: Float32Array, dB: Float32Array): number;
  /**
   * One Adam step of one parameter array (native/src/adam.cc; the twin is hostAdamUpdate in src/train/adam.ts):
   * m and v in place, the new parameters written to `out`; stepSize = lr/(1−β₁ᵗ), invCorrection2 = 1/(1−β₂ᵗ).
   */
  adamUpdate(
    params: Float32Array,
    grad: Float32Array,
    m: Float32Array,
    v: Float32Array,
    out: Float32Array,
    stepSize: number,
    invCorrection2: number,
    beta1: number,
    beta2: number,
    eps: number,
  ): void;
  /**
   * The CLUB upper bound term of the encoder's loss and its gradient wrt x and y in one pass
   * (native/src/club_bound.cc; the twin is clubUpperBoundGradJs in src/losses/clubBound.ts):
   * B = max(0, ½·mean_i[ll(x_i, y_i) − ll(x_i, y_perm(i))]) under the CLUB net q(y|x) (src/losses/club.ts) with
   * weights `params` (the 8 arrays concatenated in Club.variables order, read as constants). x: [rows, xDim],
   * y: [rows, yDim], perm: rows indices in [0, rows). Writes dx = ∂B/∂x and dy = ∂B/∂y (all zero when D ≤ 0,
   * as tfjs's relu gradient); returns B. Computed in double; the result does not depend on the thread count.
   */
  clubUpperBoundGrad(
    x: Float32Array,
    y: Float32Array,
    perm: Int32Array,
    rows: number,
    xDim: number,
    yDim: number,
    hiddenUnits: number,
    logvarScale: number,
    params: Float32Array,
    dx: Float32Array,
    dy: Float32Array,
  ): number;
  /** Sets the BLAS and spmm thread count; returns the value applied. */
  setThreads(n: number): number;
  getThreads(): number;
  info(): { vendor: string; config: string; parallel: string; threads: number; hardwareThreads: number };
}

/** Where scripts/build-native.js puts the addon (same relative path from src/backend and dist/backend). */
export const NATIVE_ADDON_PATH = path.resolve(__dirname, "..", "..", "native", "build", "Release", "sea_native.node");

export const NATIVE_BUILD_HINT = "apt-get install libopenblas-dev && npm rebuild (or: node scripts/build-native.js)";

/** OpenBLAS's OPENBLAS_THREAD_TIMEOUT: its worker threads spin for 2^this cycles before sleeping (4 is its minimum). */
export const OPENBLAS_IDLE_SPIN_LOG2 = 4;

let loaded: { addon: SeaNativeAddon | null; error: string | null } | null = null;

/** True unless SEA_NATIVE=0 switches the native kernels off. */
export function nativeAllowed(): boolean {
  return process.env.SEA_NATIVE !== "0";
}

/**
 * The addon, loaded once (null when it was not built or does not load; `nativeLoadError()` says why).
 * On first load the thread count is set from OPENBLAS_NUM_THREADS, else the machine's cores.
 */
export function loadNativeAddon(): SeaNativeAddon | null {
  if (loaded) return loaded.addon;
  if (!fs.existsSync(NATIVE_ADDON_PATH)) {
    loaded = { addon: null, error: `native addon not built (${path.relative(process.cwd(), NATIVE_ADDON_PATH)} missing)` };
    return null;
  }
  // OpenBLAS reads this when the addon pulls it in. Its idle workers otherwise spin (sched_yield) for 2^28
  // cycles after every call, competing on a small machine with the JS thread and the kit's own worker threads:
  // 2^4 halved the system time of `sea bench step --preset baby-shape` and made the step ~7% faster. A user's
  // own setting wins.
  process.env.OPENBLAS_THREAD_TIMEOUT ??= String(OPENBLAS_IDLE_SPIN_LOG2);
  try {
    // A compiled .node file can only be loaded through require.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const addon = require(NATIVE_ADDON_PATH) as SeaNativeAddon;
    addon.setThreads(defaultThreadCount());
    loaded = { addon, error: null };
  } catch (e) {
    loaded = { addon: null, error: `native addon failed to load: ${(e as Error).message.split("\n")[0]}` };
  }
  return loaded.addon;
}

/** A function of the addon, bound, or why there is none. */
export type NativeFunctionLookup<K extends keyof SeaNativeAddon> = { fn: SeaNativeAddon[K]; reason: null } | { fn: null; reason: string };

/**
 * The addon's function `name`, or why it is unavailable: native code switched off (SEA_NATIVE=0), the addon not
 * built or not loadable, or an addon built before the function existed (the addon is plain JS at run time, so
 * a stale build simply lacks what the interface declares).
 */
export function lookUpNativeFunction<K extends keyof SeaNativeAddon>(name: K): NativeFunctionLookup<K> {
  if (!nativeAllowed()) return { fn: null, reason: "native code is disabled by SEA_NATIVE=0" };
  const addon = loadNativeAddon();
  if (!addon) return { fn: null, reason: nativeLoadError() ?? "the native addon is unavailable" };
  const fn = (addon as Partial<SeaNativeAddon>)[name];
  if (typeof fn !== "function") return { fn: null, reason: `the native addon predates ${name} (rebuild: node scripts/build-native.js)` };
  return { fn: (fn as (...args: never[]) => unknown).bind(addon) as SeaNativeAddon[K], reason: null };
}

export function nativeLoadError(): string | null {
  loadNativeAddon();
  return loaded?.error ?? null;
}

/** OPENBLAS_NUM_THREADS when it is a positive integer, else all available cores. */
export function defaultThreadCount(): number {
  const fromEnv = Number(process.env.OPENBLAS_NUM_THREADS);
  if (Number.isInteger(fromEnv) && fromEnv > 0) return fromEnv;
  return Math.max(1, os.availableParallelism());
}

/** "openblas 0.3.21 (pthreads)", "accelerate", or "cblas". */
export function describeBlas(addon: SeaNativeAddon): string {
  const info = addon.info();
  const version = /OpenBLAS\s+([0-9][0-9.]*)/.exec(info.config)?.[1];
  const parts = [info.vendor];
  if (version) parts.push(version);
  if (info.parallel !== "unknown") parts.push(`(${info.parallel})`);
  return parts.join(" ");
}
