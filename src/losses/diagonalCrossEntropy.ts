import * as tf from "@tensorflow/tfjs";
import { dispatchOp } from "../backend/implementation";

export type CrossEntropyDirection = "rows" | "both";

/**
 * The InfoNCE / Solosim cross-entropy of a square score matrix whose positives lie on the diagonal
 * (docs/method.md §4 and §10.1, InfoNCE):
 *   "rows": mean_i [logsumexp_j S_ij − S_ii]   (softmax over each row)
 *   "both": the mean of that and the same over columns (softmax over each column).
 * The op "diagonalCrossEntropy" (docs/method.md, "Implementations: reference and fast"):
 * diagonalCrossEntropyReadable below, or under the "fast" implementation one op with an explicit gradient and
 * float64 loops over the values, which keeps no N×N temporary between forward and backward
 * (src/backend/fused/diagonalCrossEntropy.ts).
 */
export function diagonalCrossEntropy(scores: tf.Tensor2D, direction: CrossEntropyDirection): tf.Scalar {
  const [n, m] = scores.shape;
  if (n !== m || n < 1) throw new Error(`diagonalCrossEntropy: expected a non-empty square matrix (got [${scores.shape}])`);
  return dispatchOp("diagonalCrossEntropy", diagonalCrossEntropyReadable)(scores, direction);
}

/** The readable composition: tf.logSumExp along rows (and columns) minus the diagonal, averaged. */
export function diagonalCrossEntropyReadable(scores: tf.Tensor2D, direction: CrossEntropyDirection): tf.Scalar {
  return tf.tidy(() => {
    const diagonal = tf.sum(tf.mul(scores, tf.eye(scores.shape[0])), 1);
    const rows = tf.mean(tf.sub(tf.logSumExp(scores, 1), diagonal));
    if (direction === "rows") return rows as tf.Scalar;
    const columns = tf.mean(tf.sub(tf.logSumExp(scores, 0), diagonal));
    return tf.div(tf.add(rows, columns), 2) as tf.Scalar;
  });
}
