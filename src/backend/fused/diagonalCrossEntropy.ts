import * as tf from "@tensorflow/tfjs";
import { registerFastKernel } from "../implementation";

/**
 * The fast kernel of the op "diagonalCrossEntropy" (readable version: diagonalCrossEntropyReadable in
 * src/losses/diagonalCrossEntropy.ts). Gradient: (softmax(S) − I)/N per direction.
 *
 * One op with an explicit gradient and float64 loops over the values, instead of composing tf.logSumExp: on
 * tfjs's cpu backend that composition is a chain of broadcasting element-wise kernels (max, sub, exp, sum, log,
 * add, and max's gradient mask), each a full N×N pass with per-element index arithmetic, which dominated the cost
 * at N = 7,050. Here the forward pass keeps only the N log-sum-exps and the backward pass recomputes the softmax
 * from the saved scores, so no extra N×N tensor lives between the two. It reads the scores synchronously
 * (dataSync), which every backend available in Node supports, so it applies on every backend.
 */

type CrossEntropyDirection = "rows" | "both";

registerFastKernel("diagonalCrossEntropy", {
  applies: () => true,
  run: diagonalCrossEntropyFused,
});

/** The fused op (shape checked by diagonalCrossEntropy; tests call it directly). */
export function diagonalCrossEntropyFused(scores: tf.Tensor2D, direction: CrossEntropyDirection): tf.Scalar {
  const n = scores.shape[0];
  let rowLse: Float64Array | null = null;
  let colLse: Float64Array | null = null;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const s = args[0] as tf.Tensor2D;
    (args[1] as tf.GradSaveFunc)([s]);
    const values = s.dataSync() as Float32Array;
    rowLse = logSumExps(values, n, "rows");
    let loss = meanLseMinusDiagonal(values, rowLse, n);
    if (direction === "both") {
      colLse = logSumExps(values, n, "columns");
      loss = (loss + meanLseMinusDiagonal(values, colLse, n)) / 2;
    }
    return {
      value: tf.scalar(loss),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const grad = softmaxMinusIdentity(saved[0]!.dataSync() as Float32Array, n, rowLse!, colLse);
        return tf.mul(dy, tf.tensor2d(grad, [n, n]));
      },
    };
  });
  return op(scores) as tf.Scalar;
}

/** log Σ exp along each row (or column), with the max subtracted first so exp never overflows. */
function logSumExps(s: Float32Array, n: number, along: "rows" | "columns"): Float64Array {
  if (along === "columns") return columnLogSumExps(s, n);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const base = i * n;
    let max = -Infinity;
    for (let j = 0; j < n; j++) if (s[base + j]! > max) max = s[base + j]!;
    let sum = 0;
    for (let j = 0; j < n; j++) sum += Math.exp(s[base + j]! - max);
    out[i] = max + Math.log(sum);
  }
  return out;
}

/**
 * The column version, reading the matrix row by row (a strided walk down each column missed the cache on every
 * value). Each column's max and sum still take its values in row order, so the results are the same bits.
 */
function columnLogSumExps(s: Float32Array, n: number): Float64Array {
  const max = new Float64Array(n).fill(-Infinity);
  for (let i = 0; i < n; i++) {
    const base = i * n;
    for (let j = 0; j < n; j++) if (s[base + j]! > max[j]!) max[j] = s[base + j]!;
  }
  const sum = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const base = i * n;
    for (let j = 0; j < n; j++) sum[j] += Math.exp(s[base + j]! - max[j]!);
  }
  const out = new Float64Array(n);
  for (let j = 0; j < n; j++) out[j] = max[j]! + Math.log(sum[j]!);
  return out;
}

function meanLseMinusDiagonal(s: Float32Array, lse: Float64Array, n: number): number {
  let total = 0;
  for (let i = 0; i < n; i++) total += lse[i]! - s[i * n + i]!;
  return total / n;
}

/** d loss / d S: (softmax_rows(S) − I)/N, averaged with (softmax_columns(S) − I)/N for "both". */
function softmaxMinusIdentity(s: Float32Array, n: number, rowLse: Float64Array, colLse: Float64Array | null): Float32Array {
  const g = new Float32Array(n * n);
  const scale = colLse ? 1 / (2 * n) : 1 / n;
  for (let i = 0; i < n; i++) {
    const r = rowLse[i]!;
    for (let j = 0; j < n; j++) {
      const k = i * n + j;
      let v = Math.exp(s[k]! - r);
      if (colLse) v += Math.exp(s[k]! - colLse[j]!);
      if (i === j) v -= colLse ? 2 : 1;
      g[k] = v * scale;
    }
  }
  return g;
}
