import * as tf from "@tensorflow/tfjs";
import { addRowsBySegment } from "./segmentSum";

/**
 * Repairs to the tfjs `cpu` backend (4.22) that the kit needs whatever else is available. Each kernel
 * handles the common case fast and hands every other case to the original kernel; gradients are
 * registered by kernel name, so they are unchanged.
 *
 * UnsortedSegmentSum is the gradient of tf.gather (every embedding lookup, every row permutation).
 * tfjs-backend-cpu computes it as one masked reduction per segment — O(segments × rows × width) — which
 * made it 95% of a SEA training step (5.4 s of 5.7 s on the `tiny` preset). This kernel is one pass
 * over the rows: O(rows × width).
 */
interface CpuBackendLike {
  data: { get(dataId: tf.TensorInfo["dataId"]): { values: ArrayLike<number> } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array | Int32Array): tf.TensorInfo;
}

function unsortedSegmentSum(args: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const { x, segmentIds } = args.inputs;
  if (!x || !segmentIds) throw new Error("UnsortedSegmentSum needs inputs x and segmentIds");
  const numSegments = Number(args.attrs?.numSegments);
  const backend = args.backend as CpuBackendLike;
  const xValues = backend.data.get(x.dataId).values;
  const ids = backend.data.get(segmentIds.dataId).values;
  const innerShape = x.shape.slice(segmentIds.shape.length);
  const inner = innerShape.reduce((p, d) => p * d, 1);
  const out = x.dtype === "int32" ? new Int32Array(numSegments * inner) : new Float32Array(numSegments * inner);
  addRowsBySegment(out, xValues, ids, inner, numSegments);
  return backend.makeTensorInfo([numSegments, ...innerShape], x.dtype, out);
}

/**
 * Slice: tfjs-backend-cpu copies a non-contiguous slice element by element through index arithmetic
 * (~400 ns per element: slicing the generic half out of a [1000, 256] block took 97 ms). Copying the
 * innermost contiguous runs with TypedArray.set is memory-bound.
 */
function slice(original: tf.KernelFunc) {
  return (args: Parameters<tf.KernelFunc>[0]): tf.TensorInfo | tf.TensorInfo[] => {
    const x = args.inputs.x!;
    const backend = args.backend as CpuBackendLike;
    const values = backend.data.get(x.dataId).values;
    if (x.dtype !== "float32" || !(values instanceof Float32Array)) return original(args);
    const rank = x.shape.length;
    const begin = normaliseAttr(args.attrs?.begin, rank, 0);
    const size = normaliseAttr(args.attrs?.size, rank, -1).map((s, i) => (s === -1 ? x.shape[i]! - begin[i]! : s));
    if (begin.some((b, i) => b < 0 || b + size[i]! > x.shape[i]!)) return original(args);
    const total = size.reduce((p, d) => p * d, 1);
    const out = new Float32Array(total);
    if (total > 0) {
      const strides = new Array<number>(rank).fill(1);
      for (let i = rank - 2; i >= 0; i--) strides[i] = strides[i + 1]! * x.shape[i + 1]!;
      const run = size[rank - 1] ?? 1;
      const outer = total / run;
      const index = new Array<number>(Math.max(rank - 1, 0)).fill(0);
      for (let o = 0; o < outer; o++) {
        let src = rank > 0 ? begin[rank - 1]! : 0;
        for (let i = 0; i < rank - 1; i++) src += (begin[i]! + index[i]!) * strides[i]!;
        out.set(values.subarray(src, src + run), o * run);
        for (let i = rank - 2; i >= 0; i--) {
          if (++index[i]! < size[i]!) break;
          index[i] = 0;
        }
      }
    }
    return backend.makeTensorInfo(size, "float32", out);
  };
}

function normaliseAttr(value: unknown, rank: number, fill: number): number[] {
  const a = typeof value === "number" ? [value] : Array.isArray(value) ? (value as number[]) : [];
  return Array.from({ length: rank }, (_, i) => a[i] ?? fill);
}

type BinaryFn = (a: number, b: number) => number;

/**
 * Float32 Add/Sub/Multiply/RealDiv: tfjs-backend-cpu broadcasts through per-element index arithmetic
 * (~150 ns per element for a bias add on [1000, 384]). Same-shape operands, a scalar, and a trailing
 * vector broadcast over rows (bias adds) and a column broadcast along rows (row norms) are plain loops here.
 */
function binary(original: tf.KernelFunc, fn: BinaryFn) {
  return (args: Parameters<tf.KernelFunc>[0]): tf.TensorInfo | tf.TensorInfo[] => {
    const a = args.inputs.a!;
    const b = args.inputs.b!;
    if (a.dtype !== "float32" || b.dtype !== "float32") return original(args);
    const backend = args.backend as CpuBackendLike;
    const av = backend.data.get(a.dataId).values;
    const bv = backend.data.get(b.dataId).values;
    const na = av.length;
    const nb = bv.length;
    const sameShape = a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);
    if (sameShape) {
      const out = new Float32Array(na);
      for (let i = 0; i < na; i++) out[i] = fn(av[i]!, bv[i]!);
      return backend.makeTensorInfo([...a.shape], "float32", out);
    }
    if (nb === 1 && b.shape.length <= a.shape.length) {
      const out = new Float32Array(na);
      const s = bv[0]!;
      for (let i = 0; i < na; i++) out[i] = fn(av[i]!, s);
      return backend.makeTensorInfo([...a.shape], "float32", out);
    }
    if (na === 1 && a.shape.length <= b.shape.length) {
      const out = new Float32Array(nb);
      const s = av[0]!;
      for (let i = 0; i < nb; i++) out[i] = fn(s, bv[i]!);
      return backend.makeTensorInfo([...b.shape], "float32", out);
    }
    if (isRowBroadcast(a.shape, b.shape)) {
      const out = new Float32Array(na);
      for (let i = 0; i < na; i += nb) for (let j = 0; j < nb; j++) out[i + j] = fn(av[i + j]!, bv[j]!);
      return backend.makeTensorInfo([...a.shape], "float32", out);
    }
    if (isRowBroadcast(b.shape, a.shape)) {
      const out = new Float32Array(nb);
      for (let i = 0; i < nb; i += na) for (let j = 0; j < na; j++) out[i + j] = fn(av[j]!, bv[i + j]!);
      return backend.makeTensorInfo([...b.shape], "float32", out);
    }
    if (isColumnBroadcast(a.shape, b.shape)) {
      const d = a.shape[a.shape.length - 1]!;
      const out = new Float32Array(na);
      for (let r = 0; r < nb; r++) for (let j = 0, i = r * d; j < d; j++, i++) out[i] = fn(av[i]!, bv[r]!);
      return backend.makeTensorInfo([...a.shape], "float32", out);
    }
    if (isColumnBroadcast(b.shape, a.shape)) {
      const d = b.shape[b.shape.length - 1]!;
      const out = new Float32Array(nb);
      for (let r = 0; r < na; r++) for (let j = 0, i = r * d; j < d; j++, i++) out[i] = fn(av[r]!, bv[i]!);
      return backend.makeTensorInfo([...b.shape], "float32", out);
    }
    return original(args);
  };
}

/** `small` is `big` with its last dimension 1: one value per row, repeated along it (row norms, per-user weights). */
function isColumnBroadcast(big: readonly number[], small: readonly number[]): boolean {
  return big.length >= 2 && small.length === big.length && small[small.length - 1] === 1 && small.slice(0, -1).every((s, i) => s === big[i]);
}

/** `small` is [D], [1, D], [1, 1, D] … and `big` is [..., D]: small repeats along big's rows. */
function isRowBroadcast(big: readonly number[], small: readonly number[]): boolean {
  if (small.length === 0 || small.length > big.length) return false;
  const d = big[big.length - 1]!;
  return small[small.length - 1] === d && small.slice(0, -1).every((s) => s === 1) && big.length >= 1;
}

const BINARY: Record<string, BinaryFn> = {
  Add: (x, y) => x + y,
  Sub: (x, y) => x - y,
  Multiply: (x, y) => x * y,
  RealDiv: (x, y) => x / y,
};

const originals = new Map<string, tf.KernelFunc>();

function override(kernelName: string, make: (original: tf.KernelFunc) => tf.KernelFunc): void {
  let original = originals.get(kernelName);
  if (!original) {
    const existing = tf.getKernel(kernelName, "cpu");
    if (!existing) return;
    original = existing.kernelFunc;
    originals.set(kernelName, original);
  }
  tf.unregisterKernel(kernelName, "cpu");
  tf.registerKernel({ kernelName, backendName: "cpu", kernelFunc: make(original) });
}

/** Registers the repairs on `cpu` (idempotent; the originals stay reachable for the cases not handled). */
export function registerCpuRepairKernels(): void {
  override("UnsortedSegmentSum", () => unsortedSegmentSum);
  override("Slice", slice);
  for (const [name, fn] of Object.entries(BINARY)) override(name, (original) => binary(original, fn));
}
