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
  /**
   * dst[dstOffset + r·dstStride + j] = src[srcOffset + r·srcStride + j] for r < count, j < run; both arrays of one
   * type, their ranges not overlapping (native/src/array_ops.cc, threads for large copies).
   */
  copyStrided(
    dst: Float32Array | Int32Array,
    dstOffset: number,
    dstStride: number,
    src: Float32Array | Int32Array,
    srcOffset: number,
    srcStride: number,
    run: number,
    count: number,
  ): void;
  /**
   * out[i·inner + j] = a[i·aOuter + j·aInner] op b[i·bOuter + j·bInner] in float32 (op 0 +, 1 −, 2 ×, 3 ÷; inner
   * strides 0 or 1, not both 0): the cpu binary kernels' two-level broadcasts (native/src/array_ops.cc).
   */
  binary2d(
    op: number,
    out: Float32Array,
    a: Float32Array,
    aOuter: number,
    aInner: number,
    b: Float32Array,
    bOuter: number,
    bInner: number,
    outer: number,
    inner: number,
  ): void;
  /** c = act(c + bias) with bias repeated every bias.length entries; activation codes in kernels.ts. */
  biasActivation(c: Float32Array, bias: Float32Array | null, activation: number, alpha: number): void;
  /** out[nRows×d] = A · x[nCols×d] for the CSR matrix A (threads over row blocks of equal nnz). */
  spmm(indptr: Int32Array, indices: Int32Array, values: Float32Array, nCols: number, x: Float32Array, d: number, out: Float32Array): void;
  /** out[nCols×d] = Aᵀ · x[nRows×d] (single-threaded scatter). */
  spmmTranspose(indptr: Int32Array, indices: Int32Array, values: Float32Array, nCols: number, x: Float32Array, d: number, out: Float32Array): void;
  /**
   * `steps` Adam steps of the CLUB network's negative log-likelihood on fixed (detached) pairs, in place
   * (native/src/club_fit.cc; the TypeScript twin and the layouts are in src/backend/fused/clubFit.ts and clubLayout.ts).
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
   * One Adam step of one parameter array (native/src/adam.cc; the twin is hostAdamUpdate in src/backend/fused/adam.ts):
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
   * (native/src/club_bound.cc; the twin is clubUpperBoundGradJs in src/backend/fused/clubBound.ts):
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
  // Row passes of the fused graph-encoder and projection-head ops (native/src/row_ops.cc), in place, threaded over
  // rows (columns for sums) when large; each is the twin of a JS loop in src/backend/fused/graphEncoders.ts or
  // src/backend/fused/projectionHead.ts and gives the same bits (same double accumulations, same float32 roundings, same
  // order).
  /** out = x < 0 ? slope·x : x (the product in double, rounded once). */
  leakyRelu(x: Float32Array, slope: number, out: Float32Array): void;
  /** dx = dOut·(p + (1 − p)·slope32) with p = positiveTest > 0 ? 1 : 0. */
  leakyReluGrad(dOut: Float32Array, positiveTest: Float32Array, slope32: number, dx: Float32Array): void;
  /**
   * Rows [first, first + n) of x0 [rows, k] ← normalised (source row + bias, rounded to float32); invNorm[row] =
   * float32(1/√max(‖·‖², eps2)) with ‖·‖² summed in double and rounded to float32; active[row] = ‖·‖² ≥ eps2.
   */
  encoderNormalizeRows(
    source: Float32Array,
    bias: Float32Array | null,
    x0: Float32Array,
    first: number,
    n: number,
    k: number,
    eps2: number,
    invNorm: Float32Array,
    active: Uint8Array,
  ): void;
  /**
   * Per row of [U+N, k], sum = ((base + next) + last) in float32; user rows to sumUsers [U, k] and, times
   * weights[i·M + m], to out [U+N, M·k] columns [m·k, (m+1)·k); item rows to out as they are.
   */
  encoderWriteOutputs(
    base: Float32Array,
    next: Float32Array | null,
    last: Float32Array | null,
    sumUsers: Float32Array,
    weights: Float32Array,
    m: number,
    M: number,
    out: Float32Array,
    U: number,
    N: number,
    k: number,
  ): void;
  /**
   * g [U+N, k] = dy's columns [m·k, (m+1)·k) (dy [U+N, M·k]), user rows times weights[i·M + m];
   * dWeights[i·M + m] = that dy row · sumUsers row (double).
   */
  encoderLayerSumGradient(
    dy: Float32Array,
    weights: Float32Array,
    sumUsers: Float32Array,
    m: number,
    M: number,
    g: Float32Array,
    dWeights: Float32Array,
    U: number,
    N: number,
    k: number,
  ): void;
  /**
   * Row normalisation's backward for rows [first, first + n) of the unit rows y [rows, k] into dx [n, k]: with
   * d = ((base + next) + last) of the row and dot = d·y in double (0 where not active), dx = invNorm·(d − y·dot).
   */
  normalizeRowsBackward(
    base: Float32Array,
    next: Float32Array | null,
    last: Float32Array | null,
    y: Float32Array,
    invNorm: Float32Array,
    active: Uint8Array,
    dx: Float32Array,
    first: number,
    n: number,
    k: number,
  ): void;
  /** out[j] = Σ_i x[i·w + j] (x [n, w]), summed in double in row order and rounded once. */
  columnSums(x: Float32Array, n: number, w: number, out: Float32Array): void;
  /**
   * Batch-statistics BatchNorm then ReLU over x [n, h]: invStd[j] = 1/√(biased var + eps) (double), xHat =
   * (x − mean)·invStd, out = max(0, γ·x̂ + β).
   */
  bnReluForward(
    x: Float32Array,
    n: number,
    h: number,
    gamma: Float32Array,
    beta: Float32Array,
    eps: number,
    out: Float32Array,
    xHat: Float32Array,
    invStd: Float64Array,
  ): void;
  /** Backward of ReLU(BN(x)): d [n, h] holds d(out) in and dx out; writes dGamma = Σ g·x̂ and dBeta = Σ g. */
  bnReluBackward(
    d: Float32Array,
    relued: Float32Array,
    xHat: Float32Array,
    invStd: Float64Array,
    gamma: Float32Array,
    n: number,
    h: number,
    dGamma: Float32Array,
    dBeta: Float32Array,
  ): void;
  /**
   * In place z [n, w] ← (z + bias)·r per row, r = 1/√max(‖z + bias‖², eps2) (the sum and r unrounded in double,
   * ‖·‖² rounded to float32 for the comparison); invNorm[i] = float32(r), active[i] = ‖·‖² ≥ eps2.
   */
  headNormalizeRows(z: Float32Array, n: number, w: number, bias: Float32Array, eps2: number, invNorm: Float32Array, active: Uint8Array): void;
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
  // own setting wins; an empty one counts as unset, as OpenBLAS reads it (it spun, ~10% slower per step).
  if (!process.env.OPENBLAS_THREAD_TIMEOUT) process.env.OPENBLAS_THREAD_TIMEOUT = String(OPENBLAS_IDLE_SPIN_LOG2);
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

/** The addon's functions `names` together, or why the first unavailable one is (as lookUpNativeFunction). */
export function lookUpNativeFunctions<K extends keyof SeaNativeAddon>(
  names: readonly K[],
): { fns: Pick<SeaNativeAddon, K>; reason: null } | { fns: null; reason: string } {
  const found: Partial<Pick<SeaNativeAddon, K>> = {};
  for (const name of names) {
    const lookup: NativeFunctionLookup<keyof SeaNativeAddon> = lookUpNativeFunction(name);
    if (lookup.fn === null) return { fns: null, reason: lookup.reason };
    found[name] = lookup.fn as SeaNativeAddon[K];
  }
  return { fns: found as Pick<SeaNativeAddon, K>, reason: null };
}

/**
 * A getter of the addon's function `name` that looks it up on its first call and then returns the same answer
 * (null when unavailable): for kernels that take a native path per call.
 */
export function nativeFunctionOnce<K extends keyof SeaNativeAddon>(name: K): () => SeaNativeAddon[K] | null {
  let found: SeaNativeAddon[K] | null | undefined;
  return () => {
    if (found === undefined) found = lookUpNativeFunction(name).fn;
    return found;
  };
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
