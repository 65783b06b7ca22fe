import * as tf from "@tensorflow/tfjs";
import type { SparseMatrix } from "../sparse";
import { registerFastKernel } from "../implementation";

/**
 * The fast kernel of the op "sparseMatMul" (readable version: SparseMatrix.opsMatMul in src/backend/sparse.ts,
 * the gather/scale/segment-sum composition that tfjs differentiates): one custom op over host arrays, the addon's
 * threaded CSR kernel when the native kernels are active on the cpu backend, else the same loop in JS, with the
 * gradient Aᵀ·dy by the stored transposed CSR. It reads the operand on the host, so it applies on tfjs's host
 * backends (cpu, wasm); elsewhere the ops composition stays on the device.
 */
registerFastKernel("sparseMatMul", {
  applies: () => tf.getBackend() === "cpu" || tf.getBackend() === "wasm",
  run: (matrix: SparseMatrix, dense: tf.Tensor2D) => matrix.customMatMul(dense),
});
