import * as tf from "@tensorflow/tfjs";
import { addRowsBySegment } from "./segmentSum";

/**
 * Repairs to the tfjs `wasm` backend (4.22) for what the kit needs:
 *  - UnsortedSegmentSum is missing, and it is the gradient of tf.gather (every embedding lookup), so
 *    without it no model trains on wasm. Implemented in JS over the wasm heap.
 *  - _FusedMatMul returns wrong values when a bias is combined with transposeA/transposeB (measured:
 *    relative errors 0.2-1.0 against a float64 reference; without bias, or untransposed, it is
 *    right). The wrapper transposes the operands with wasm's own Transpose kernel first.
 */

interface WasmBackendLike {
  readSync(dataId: tf.TensorInfo["dataId"]): unknown;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

function unsortedSegmentSum(args: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const { x, segmentIds } = args.inputs;
  const numSegments = Number(args.attrs?.numSegments);
  if (!x || !segmentIds) throw new Error("UnsortedSegmentSum needs inputs x and segmentIds");
  const backend = args.backend as WasmBackendLike;
  const xValues = backend.readSync(x.dataId) as ArrayLike<number>;
  const ids = backend.readSync(segmentIds.dataId) as ArrayLike<number>;
  const innerShape = x.shape.slice(segmentIds.shape.length);
  const inner = innerShape.reduce((p, d) => p * d, 1);
  const out = backend.makeOutput([numSegments, ...innerShape], x.dtype);
  const outValues = backend.typedArrayFromHeap(out);
  outValues.fill(0); // heap memory is not zeroed
  addRowsBySegment(outValues, xValues, ids, inner, numSegments);
  return out;
}

interface WasmDisposer {
  disposeData(dataId: tf.TensorInfo["dataId"]): boolean;
}

let originalFusedMatMul: tf.KernelFunc | null = null;

/** wasm's _FusedMatMul with the transposes applied beforehand whenever a bias is present. */
function fusedMatMulUntransposed(args: Parameters<tf.KernelFunc>[0]): tf.TensorInfo | tf.TensorInfo[] {
  const original = originalFusedMatMul!;
  const transA = Boolean(args.attrs?.transposeA);
  const transB = Boolean(args.attrs?.transposeB);
  if (!args.inputs.bias || (!transA && !transB)) return original(args);
  const transpose = tf.getKernel("Transpose", "wasm").kernelFunc;
  const swapLast = (x: tf.TensorInfo): tf.TensorInfo => {
    const perm = x.shape.map((_, i) => i);
    [perm[perm.length - 2], perm[perm.length - 1]] = [perm[perm.length - 1]!, perm[perm.length - 2]!];
    return transpose({ inputs: { x }, backend: args.backend, attrs: { perm } }) as tf.TensorInfo;
  };
  const a = transA ? swapLast(args.inputs.a!) : args.inputs.a!;
  const b = transB ? swapLast(args.inputs.b!) : args.inputs.b!;
  try {
    return original({ ...args, inputs: { ...args.inputs, a, b }, attrs: { ...args.attrs, transposeA: false, transposeB: false } });
  } finally {
    const backend = args.backend as WasmDisposer;
    if (transA) backend.disposeData(a.dataId);
    if (transB) backend.disposeData(b.dataId);
  }
}

/** Registers the repairs on `wasm` (idempotent). */
export function registerWasmFallbackKernels(): void {
  if (!tf.getKernel("UnsortedSegmentSum", "wasm")) {
    tf.registerKernel({ kernelName: "UnsortedSegmentSum", backendName: "wasm", kernelFunc: unsortedSegmentSum });
  }
  if (!originalFusedMatMul) {
    const config = tf.getKernel("_FusedMatMul", "wasm");
    if (!config) return;
    originalFusedMatMul = config.kernelFunc;
    tf.unregisterKernel("_FusedMatMul", "wasm");
    // setupFunc binds the wasm export the original kernel calls; keep it.
    tf.registerKernel({ ...config, kernelFunc: fusedMatMulUntransposed });
  }
}
