import * as tf from "@tensorflow/tfjs";
import { nativeFunctionOnce } from "./addon";

/**
 * What the kit's cpu kernels (the repairs registered by cpuKernels.ts, the BLAS kernels in kernels.ts) use
 * of tfjs's MathBackendCPU, which is not a direct dependency: each tensor's values live in
 * `data.get(dataId).values` (a typed array), `makeTensorInfo` adopts a fresh typed array as a new tensor
 * without copying it, and `disposeIntermediateTensorInfo` frees a kernel's temporary output.
 */
export interface CpuBackendLike {
  data: { get(dataId: tf.TensorInfo["dataId"]): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array | Int32Array | Uint8Array): tf.TensorInfo;
  disposeIntermediateTensorInfo(info: tf.TensorInfo): void;
}

export type KernelArgs = Parameters<tf.KernelFunc>[0];
export type KernelResult = tf.TensorInfo | tf.TensorInfo[];

/** A typed array the structural kernels copy from and to unchanged (float32 and int32 tensors). */
export type NumericArray = Float32Array | Int32Array;

export function cpuBackendOf(args: KernelArgs): CpuBackendLike {
  return args.backend as unknown as CpuBackendLike;
}

/**
 * The values of a float32 tensor as a Float32Array; null for other dtypes. tfjs casts bool and int32
 * tensors to float32 without converting their storage (a float32 tensor can hold a Uint8Array or an
 * Int32Array): those are converted here, exactly — an int32 value that float32 cannot hold gives null,
 * and the original kernel, which computes with the int as it is, takes the call. The kernels' loops
 * thus only ever see Float32Arrays.
 */
export function float32Values(backend: CpuBackendLike, t: tf.TensorInfo | undefined): Float32Array | null {
  if (!t || t.dtype !== "float32") return null;
  const values = backend.data.get(t.dataId).values;
  if (values instanceof Float32Array) return values;
  if (values instanceof Uint8Array) return new Float32Array(values);
  if (!(values instanceof Int32Array)) return null;
  const converted = new Float32Array(values);
  for (let i = 0; i < values.length; i++) if (converted[i] !== values[i]) return null;
  return converted;
}

/** The tensor's values when it is float32 or int32 (kernels that only move values); null otherwise. */
export function numericValues(backend: CpuBackendLike, t: tf.TensorInfo | undefined): NumericArray | null {
  if (!t) return null;
  const values = backend.data.get(t.dataId).values;
  if (t.dtype === "float32") return float32Values(backend, t);
  return t.dtype === "int32" && values instanceof Int32Array ? values : null;
}

/** A zeroed array of the same kind as `like`. */
export function allocLike(like: NumericArray, length: number): NumericArray {
  return like instanceof Float32Array ? new Float32Array(length) : new Int32Array(length);
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides of `shape`. */
export function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

/**
 * A non-negative integer axis list from a kernel attribute (number, number[] or null = every axis),
 * negative axes counted from the end; null when an axis is out of range or repeated (the original
 * kernel then reports it).
 */
export function parseAxes(value: unknown, rank: number): number[] | null {
  const raw = value === null || value === undefined ? Array.from({ length: rank }, (_, i) => i) : typeof value === "number" ? [value] : value;
  if (!Array.isArray(raw)) return null;
  const axes: number[] = [];
  for (const a of raw as unknown[]) {
    if (typeof a !== "number" || !Number.isInteger(a) || a < -rank || a >= rank) return null;
    const axis = a < 0 ? a + rank : a;
    if (axes.includes(axis)) return null;
    axes.push(axis);
  }
  return axes;
}

/**
 * Copies `n` consecutive values. TypedArray.set on a subarray costs a view allocation (~100 ns), so
 * short runs (row pieces of a few dozen values) are copied by a plain loop instead.
 */
export function copyRun(dst: NumericArray, dstOffset: number, src: NumericArray, srcOffset: number, n: number): void {
  if (n >= 32) {
    dst.set(src.subarray(srcOffset, srcOffset + n), dstOffset);
  } else {
    for (let j = 0; j < n; j++) dst[dstOffset + j] = src[srcOffset + j]!;
  }
}

/** Copies of at least this many values (over several runs) go to the addon in one call. */
const NATIVE_COPY_MIN_VALUES = 1 << 14;

const nativeCopyStrided = nativeFunctionOnce("copyStrided");

/**
 * `count` runs of `n` values: run r goes from src[srcOffset + r·srcStride] to dst[dstOffset + r·dstStride]. Large
 * copies are one addon call (memcpy per run, on the addon's threads) instead of one TypedArray view per run.
 */
export function copyRuns(
  dst: NumericArray,
  dstOffset: number,
  dstStride: number,
  src: NumericArray,
  srcOffset: number,
  srcStride: number,
  n: number,
  count: number,
): void {
  if (count > 1 && n * count >= NATIVE_COPY_MIN_VALUES && dst.constructor === src.constructor) {
    const copy = nativeCopyStrided();
    if (copy) {
      copy(dst, dstOffset, dstStride, src, srcOffset, srcStride, n, count);
      return;
    }
  }
  for (let r = 0; r < count; r++) copyRun(dst, dstOffset + r * dstStride, src, srcOffset + r * srcStride, n);
}

/**
 * True when `t` alone holds its storage on tfjs's cpu backend (no clone, reshape or other tensor shares it; the
 * backend counts them), so writing its values in place changes no other tensor. False on other backends, whose
 * host reads are copies.
 */
export function ownsHostStorage(t: tf.Tensor): boolean {
  if (tf.getBackend() !== "cpu") return false;
  const backend = tf.engine().backend as unknown as { refCount?(dataId: tf.Tensor["dataId"]): number };
  return typeof backend.refCount === "function" && backend.refCount(t.dataId) === 1;
}
