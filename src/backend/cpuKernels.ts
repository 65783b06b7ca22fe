import * as tf from "@tensorflow/tfjs";
import { addRowsBySegment } from "./segmentSum";
import { cpuBackendOf, float32Values, type KernelArgs } from "./cpuBackendAccess";
import { BINARY_KERNEL_NAMES, makeBinaryKernel } from "./cpuBinary";
import { UNARY_KERNEL_NAMES, makeUnaryKernel } from "./cpuUnary";
import { REDUCE_KERNEL_NAMES, makeReduceKernel } from "./cpuReduce";
import {
  makeConcatKernel,
  makeGatherV2Kernel,
  makePadV2Kernel,
  makeSelectKernel,
  makeSliceKernel,
  makeSplitVKernel,
  makeTransposeKernel,
} from "./cpuStructural";

/**
 * Repairs to the tfjs `cpu` backend (4.22) that the kit needs whatever else is available. Each kernel
 * handles the common case fast and hands every other case to the original kernel; gradients are
 * registered by kernel name, so they are unchanged. Results are bit-identical to the originals
 * (test/backend/cpuKernelsExact.test.ts compares every handled case against them).
 *
 * - UnsortedSegmentSum (below): the gradient of tf.gather.
 * - cpuBinary.ts: Add, Sub, Multiply, RealDiv, Maximum, Minimum, SquaredDifference, Pow, comparisons.
 * - cpuUnary.ts: Neg, Exp, Log, Sqrt, Rsqrt, Relu, LeakyRelu, Tanh, Sigmoid, Softplus, Step, ….
 * - cpuReduce.ts: Sum, Mean, Max, Min over leading or trailing axes.
 * - cpuStructural.ts: Slice, SplitV, Concat, PadV2, Transpose, GatherV2, Select.
 */

/**
 * UnsortedSegmentSum is the gradient of tf.gather (every embedding lookup, every row permutation).
 * tfjs-backend-cpu computes it as one masked reduction per segment — O(segments × rows × width) — which
 * made it 95% of a SEA training step (5.4 s of 5.7 s on the `tiny` preset). This kernel is one pass
 * over the rows: O(rows × width).
 *
 * Float32: tfjs's masked sum adds each segment's rows in row order in a float64 variable (the other
 * rows add ±0, which changes nothing) and rounds once, so the accumulator here is float64 too and the
 * result is bit-identical for finite values. (tfjs's 0 × Inf = NaN also spreads an Inf of one segment
 * to every segment's column; here it stays in its own segment.)
 */
function unsortedSegmentSum(args: KernelArgs): tf.TensorInfo {
  const { x, segmentIds } = args.inputs;
  if (!x || !segmentIds) throw new Error("UnsortedSegmentSum needs inputs x and segmentIds");
  const numSegments = Number(args.attrs?.numSegments);
  const backend = cpuBackendOf(args);
  const ids = backend.data.get(segmentIds.dataId).values as ArrayLike<number>;
  const innerShape = x.shape.slice(segmentIds.shape.length);
  const inner = innerShape.reduce((p, d) => p * d, 1);
  const outShape = [numSegments, ...innerShape];
  const x32 = float32Values(backend, x);
  if (x32) {
    const acc = new Float64Array(numSegments * inner);
    addRowsBySegment(acc, x32, ids, inner, numSegments);
    return backend.makeTensorInfo(outShape, "float32", new Float32Array(acc));
  }
  const xValues = backend.data.get(x.dataId).values as ArrayLike<number>;
  const out = x.dtype === "int32" ? new Int32Array(numSegments * inner) : new Float32Array(numSegments * inner);
  addRowsBySegment(out, xValues, ids, inner, numSegments);
  return backend.makeTensorInfo(outShape, x.dtype, out);
}

const originals = new Map<string, tf.KernelFunc>();

function override(kernelName: string, make: MakeKernel): void {
  let original = originals.get(kernelName);
  if (!original) {
    const existing = tf.getKernel(kernelName, "cpu");
    if (!existing) return;
    original = existing.kernelFunc;
    originals.set(kernelName, original);
  }
  if (tf.getKernel(kernelName, "cpu")) tf.unregisterKernel(kernelName, "cpu");
  tf.registerKernel({ kernelName, backendName: "cpu", kernelFunc: make(original) });
}

/** Builds a repaired kernel from the original one, which it calls for the cases it leaves. */
type MakeKernel = (original: tf.KernelFunc) => tf.KernelFunc;

const REPAIRS: readonly [string, MakeKernel][] = [
  ["UnsortedSegmentSum", () => unsortedSegmentSum],
  ...BINARY_KERNEL_NAMES.map((name): [string, MakeKernel] => [name, (original) => makeBinaryKernel(name, original)]),
  ...UNARY_KERNEL_NAMES.map((name): [string, MakeKernel] => [name, (original) => makeUnaryKernel(name, original)]),
  ...REDUCE_KERNEL_NAMES.map((name): [string, MakeKernel] => [name, (original) => makeReduceKernel(name, original)]),
  ["Slice", makeSliceKernel],
  ["SplitV", makeSplitVKernel],
  ["Concat", makeConcatKernel],
  ["PadV2", makePadV2Kernel],
  ["Transpose", makeTransposeKernel],
  ["GatherV2", makeGatherV2Kernel],
  ["Select", makeSelectKernel],
];

/** Names of the cpu kernels registerCpuRepairKernels() replaces. */
export const CPU_REPAIR_KERNEL_NAMES: readonly string[] = REPAIRS.map(([name]) => name);

/** Registers the repairs on `cpu` (idempotent; the originals stay reachable for the cases not handled). */
export function registerCpuRepairKernels(): void {
  for (const [name, make] of REPAIRS) override(name, make);
}

/**
 * Test and benchmark hook: puts tfjs's own cpu kernels back in place of the repairs (idempotent;
 * registerCpuRepairKernels() installs the repairs again). The kit itself never calls it.
 */
export function restoreOriginalCpuKernels(): void {
  for (const [kernelName, kernelFunc] of originals) {
    if (tf.getKernel(kernelName, "cpu")) tf.unregisterKernel(kernelName, "cpu");
    tf.registerKernel({ kernelName, backendName: "cpu", kernelFunc });
  }
}

/** Test and benchmark hook: tfjs's own cpu kernel that a repair replaced (undefined before registration). */
export function originalCpuKernel(kernelName: string): tf.KernelFunc | undefined {
  return originals.get(kernelName);
}
