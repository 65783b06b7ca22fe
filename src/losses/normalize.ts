import * as tf from "@tensorflow/tfjs";

import { NORM_EPS } from "../util/normEps";

export { NORM_EPS };

/**
 * Rows scaled to unit L2 norm: x_i / max(‖x_i‖, eps). The max is taken on the squared norm before
 * the square root, so an all-zero row gives a zero row and a finite (not NaN) gradient, dy/eps: the
 * gradient of sqrt at 0 is infinite, and tf.maximum routes the gradient to the constant branch there.
 */
export function normalizeRows(x: tf.Tensor2D, eps = NORM_EPS): tf.Tensor2D {
  return tf.tidy(() => {
    const sq = tf.sum(tf.square(x), 1, true);
    return tf.mul(x, tf.rsqrt(tf.maximum(sq, eps * eps))) as tf.Tensor2D;
  });
}

/** Row-wise dot products a_i · b_i, as a 1-D tensor. */
export function rowDot(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.sum(tf.mul(a, b), 1) as tf.Tensor1D);
}

export function assertSameShape2d(fn: string, a: tf.Tensor, b: tf.Tensor, sameCols = true): void {
  if (a.rank !== 2 || b.rank !== 2 || a.shape[0] !== b.shape[0] || (sameCols && a.shape[1] !== b.shape[1])) {
    throw new Error(`${fn}: expected two 2-D tensors with the same ${sameCols ? "shape" : "number of rows"} (got [${a.shape}] and [${b.shape}])`);
  }
}
