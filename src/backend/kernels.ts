import * as tf from "@tensorflow/tfjs";
import type { SeaNativeAddon } from "./addon";
import { cpuBackendOf, float32Values, type CpuBackendLike, type KernelArgs } from "./cpuBackendAccess";

/**
 * BLAS-backed replacements for the tfjs `cpu` backend's BatchMatMul and _FusedMatMul kernels.
 * They read the inputs' Float32Arrays in place (`backend.data.get(dataId).values`), let cblas_sgemm
 * write a fresh output array, and hand it to `backend.makeTensorInfo` (the cpu backend adopts the
 * array without copying). Anything BLAS cannot express (non-float32 dtypes, shapes that do not
 * broadcast, prelu/unknown activations) goes to the original JS kernels, so behaviour and error
 * messages stay tfjs's own.
 */

const BATCH_MAT_MUL = "BatchMatMul";
const FUSED_MAT_MUL = "_FusedMatMul";
const CPU = "cpu";

/** Activation codes understood by the addon's biasActivation (native/src/sea_native.cc). */
const ACTIVATION_CODES: Readonly<Record<string, number>> = { linear: 0, relu: 1, relu6: 2, elu: 3, leakyrelu: 4, sigmoid: 5 };

let originals: { batchMatMul: tf.KernelConfig; fusedMatMul: tf.KernelConfig } | null = null;
let activeAddon: SeaNativeAddon | null = null;

/** Registers the native kernels on the `cpu` backend. Idempotent; a second addon replaces the first. */
export function enableNativeKernels(addon: SeaNativeAddon): void {
  if (!originals) {
    originals = { batchMatMul: tf.getKernel(BATCH_MAT_MUL, CPU), fusedMatMul: tf.getKernel(FUSED_MAT_MUL, CPU) };
    if (!originals.batchMatMul || !originals.fusedMatMul) {
      originals = null;
      throw new Error("the tfjs cpu backend has no BatchMatMul/_FusedMatMul kernel to replace");
    }
  }
  activeAddon = addon;
  replaceKernel({ kernelName: BATCH_MAT_MUL, backendName: CPU, kernelFunc: (args) => nativeBatchMatMul(addon, args) });
  replaceKernel({ kernelName: FUSED_MAT_MUL, backendName: CPU, kernelFunc: (args) => nativeFusedMatMul(addon, args) });
}

/** Puts the original JS kernels back. Idempotent. */
export function disableNativeKernels(): void {
  if (!originals) return;
  replaceKernel(originals.batchMatMul);
  replaceKernel(originals.fusedMatMul);
  originals = null;
  activeAddon = null;
}

export function nativeKernelsActive(): boolean {
  return activeAddon !== null;
}

/** The original JS BatchMatMul kernel (tests compare against it). */
export function jsBatchMatMulKernel(): tf.KernelFunc {
  return (originals?.batchMatMul ?? tf.getKernel(BATCH_MAT_MUL, CPU)).kernelFunc;
}

function replaceKernel(config: tf.KernelConfig): void {
  // unregister first: registering over an existing kernel logs a warning.
  if (tf.getKernel(config.kernelName, config.backendName)) tf.unregisterKernel(config.kernelName, config.backendName);
  tf.registerKernel(config);
}

// ---------------------------------------------------------------------------------------------- plan

/** How one BatchMatMul maps onto sgemm calls: C[i] = op(A[aBatch[i]]) · op(B[bBatch[i]]). */
export interface GemmPlan {
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly aBatch: Int32Array;
  readonly bBatch: Int32Array;
  readonly outShape: number[];
}

/**
 * Shapes → sgemm plan, or null when the shapes are invalid (the JS kernel then throws tfjs's own
 * message). Batch dims broadcast numpy-style (right-aligned, 1 stretches). When B is shared by every
 * batch and A is not transposed, the batches are stacked into one tall sgemm (A's batches are
 * contiguous rows), which is what BLAS is fastest at.
 */
export function planBatchMatMul(aShape: readonly number[], bShape: readonly number[], transA: boolean, transB: boolean): GemmPlan | null {
  if (aShape.length < 2 || bShape.length < 2) return null;
  const aRank = aShape.length;
  const bRank = bShape.length;
  const m = transA ? aShape[aRank - 1]! : aShape[aRank - 2]!;
  const kA = transA ? aShape[aRank - 2]! : aShape[aRank - 1]!;
  const kB = transB ? bShape[bRank - 1]! : bShape[bRank - 2]!;
  const n = transB ? bShape[bRank - 2]! : bShape[bRank - 1]!;
  if (kA !== kB) return null;
  const aOuter = aShape.slice(0, -2);
  const bOuter = bShape.slice(0, -2);
  const outOuter = broadcastShape(aOuter, bOuter);
  if (!outOuter) return null;
  const outShape = [...outOuter, m, n];
  const count = outOuter.reduce((p, d) => p * d, 1);
  const aCount = aOuter.reduce((p, d) => p * d, 1);
  const bCount = bOuter.reduce((p, d) => p * d, 1);
  if (bCount === 1 && aCount === count && !transA && count > 1) {
    return { m: m * count, n, k: kA, aBatch: Int32Array.of(0), bBatch: Int32Array.of(0), outShape };
  }
  return { m, n, k: kA, aBatch: batchIndices(aOuter, outOuter), bBatch: batchIndices(bOuter, outOuter), outShape };
}

function broadcastShape(a: readonly number[], b: readonly number[]): number[] | null {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) return null;
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** For each output batch (row-major over outOuter), the flat batch index into an operand with dims `outer`. */
function batchIndices(outer: readonly number[], outOuter: readonly number[]): Int32Array {
  const count = outOuter.reduce((p, d) => p * d, 1);
  const result = new Int32Array(count);
  const offset = outOuter.length - outer.length;
  const strides = new Array<number>(outer.length).fill(0);
  for (let i = outer.length - 1, s = 1; i >= 0; i--) {
    strides[i] = outer[i] === 1 ? 0 : s; // a size-1 dim is broadcast: it never advances
    s *= outer[i]!;
  }
  for (let o = 0; o < count; o++) {
    let rest = o;
    let index = 0;
    for (let d = outOuter.length - 1; d >= 0; d--) {
      const coord = rest % outOuter[d]!;
      rest = Math.floor(rest / outOuter[d]!);
      if (d >= offset) index += coord * strides[d - offset]!;
    }
    result[o] = index;
  }
  return result;
}

// ---------------------------------------------------------------------------------------------- kernels

/** The BLAS product of a and b, or null when the JS kernel must handle the case. */
function blasProduct(addon: SeaNativeAddon, backend: CpuBackendLike, args: KernelArgs): { values: Float32Array; shape: number[] } | null {
  const a = args.inputs.a;
  const b = args.inputs.b;
  const transA = Boolean(args.attrs?.transposeA);
  const transB = Boolean(args.attrs?.transposeB);
  const aValues = float32Values(backend, a);
  const bValues = float32Values(backend, b);
  if (!a || !b || !aValues || !bValues) return null;
  const plan = planBatchMatMul(a.shape, b.shape, transA, transB);
  if (!plan) return null;
  const values = new Float32Array(plan.outShape.reduce((p, d) => p * d, 1));
  addon.sgemmBatched(transA, transB, plan.m, plan.n, plan.k, aValues, bValues, values, plan.aBatch, plan.bBatch);
  return { values, shape: plan.outShape };
}

function nativeBatchMatMul(addon: SeaNativeAddon, args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const backend = cpuBackendOf(args);
  const product = blasProduct(addon, backend, args);
  if (!product) return originals!.batchMatMul.kernelFunc(args);
  return backend.makeTensorInfo(product.shape, "float32", product.values);
}

/** True when adding `bias` to a tensor of `outShape` is "repeat bias every bias.size entries" and keeps the shape. */
export function biasRepeatsOverRows(biasShape: readonly number[], outShape: readonly number[]): boolean {
  if (biasShape.length > outShape.length) return false; // broadcasting would add leading dims
  let start = 0;
  while (start < biasShape.length && biasShape[start] === 1) start++;
  const core = biasShape.slice(start);
  if (core.length > outShape.length) return false;
  const tail = outShape.slice(outShape.length - core.length);
  return core.every((d, i) => d === tail[i]);
}

function nativeFusedMatMul(addon: SeaNativeAddon, args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const backend = cpuBackendOf(args);
  const bias = args.inputs.bias;
  const activation = typeof args.attrs?.activation === "string" ? args.attrs.activation : "linear";
  const alpha = typeof args.attrs?.leakyreluAlpha === "number" ? args.attrs.leakyreluAlpha : 0.2;
  const code = ACTIVATION_CODES[activation];
  if (code === undefined && activation !== "prelu") return originals!.fusedMatMul.kernelFunc(args); // tfjs throws its own error
  const product = blasProduct(addon, backend, args);
  if (!product) return originals!.fusedMatMul.kernelFunc(args);

  const biasValues = bias ? float32Values(backend, bias) : null;
  if (code !== undefined && (!bias || (biasValues && biasRepeatsOverRows(bias.shape, product.shape)))) {
    addon.biasActivation(product.values, biasValues, code, alpha); // the common case: all in place
    return backend.makeTensorInfo(product.shape, "float32", product.values);
  }
  // General broadcasting bias and prelu: tfjs's own Add/Prelu kernels on the BLAS product.
  let current = backend.makeTensorInfo(product.shape, "float32", product.values);
  if (bias) current = runAndDispose(backend, "Add", { a: current, b: bias }, {}, current);
  if (activation === "prelu") {
    const weights = args.inputs.preluActivationWeights;
    if (!weights) throw new Error("_FusedMatMul: prelu activation needs preluActivationWeights");
    return runAndDispose(backend, "Prelu", { x: current, alpha: weights }, {}, current);
  }
  const values = float32Values(backend, current);
  if (code !== undefined && code !== 0 && values) addon.biasActivation(values, null, code, alpha);
  return current;
}

/** Runs a cpu kernel on `inputs` and releases the intermediate `consumed`. */
function runAndDispose(backend: CpuBackendLike, kernelName: string, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap, consumed: tf.TensorInfo): tf.TensorInfo {
  const out = tf.getKernel(kernelName, CPU).kernelFunc({ inputs, backend, attrs }) as tf.TensorInfo;
  backend.disposeIntermediateTensorInfo(consumed);
  return out;
}
