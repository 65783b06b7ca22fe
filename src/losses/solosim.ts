import * as tf from "@tensorflow/tfjs";
import { assertSameShape2d, normalizeRows } from "./normalize";
import { diagonalCrossEntropy } from "./diagonalCrossEntropy";

/**
 * Solosim loss (DESIGN §1): rows of a and b L2-normalised, S = a·bᵀ / tau, loss = −mean_i log softmax(S_i)_i,
 * i.e. InfoNCE in one direction with the same row of b as the positive for row i of a.
 *
 * N can be all 7,050 items, so only S itself is N×N: −log softmax(S_i)_i = logsumexp_j S_ij − S_ii is read off S
 * by diagonalCrossEntropy without materialising the log-softmax matrix (or logsumexp's broadcast temporaries).
 */
export function solosimLoss(a: tf.Tensor2D, b: tf.Tensor2D, tau: number): tf.Scalar {
  assertSameShape2d("solosimLoss", a, b);
  if (!(tau > 0) || !Number.isFinite(tau)) throw new Error(`solosimLoss: tau must be a positive number (got ${tau})`);
  return tf.tidy(() => {
    const logits = tf.div(tf.matMul(normalizeRows(a), normalizeRows(b), false, true), tau) as tf.Tensor2D;
    return diagonalCrossEntropy(logits, "rows");
  });
}
