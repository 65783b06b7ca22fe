import * as tf from "@tensorflow/tfjs";
import { assertSameShape2d, normalizeRows } from "./normalize";
import { diagonalCrossEntropy } from "./diagonalCrossEntropy";
import { dispatchOp } from "../backend/implementation";

/**
 * Solosim loss (docs/method.md §4): rows of a and b L2-normalised, S = a·bᵀ / tau, loss = −mean_i log softmax(S_i)_i,
 * i.e. InfoNCE in one direction with the same row of b as the positive for row i of a.
 *
 * The rows are normalised with tf ops (so the normalisation's gradient is tfjs autodiff under every implementation);
 * what follows is the op "solosimOfNormalized" (docs/method.md, "Implementations: reference and fast"):
 * solosimOfNormalizedReadable below, or under the "fast" implementation, with the native kernels active on tfjs's
 * cpu backend, one native call for the loss and both gradients (src/backend/fused/solosim.ts).
 */
export function solosimLoss(a: tf.Tensor2D, b: tf.Tensor2D, tau: number): tf.Scalar {
  assertSameShape2d("solosimLoss", a, b);
  if (!(tau > 0) || !Number.isFinite(tau)) throw new Error(`solosimLoss: tau must be a positive number (got ${tau})`);
  if (a.shape[0] < 1) throw new Error(`solosimLoss: expected at least one row (got shape [${a.shape}])`);
  return tf.tidy(() => dispatchOp("solosimOfNormalized", solosimOfNormalizedReadable)(normalizeRows(a), normalizeRows(b), tau));
}

/** The readable composition on unit rows: S = a·bᵀ / tau, then the row-wise cross-entropy with the diagonal as targets. */
export function solosimOfNormalizedReadable(aNormalized: tf.Tensor2D, bNormalized: tf.Tensor2D, tau: number): tf.Scalar {
  return tf.tidy(() => {
    // N can be all 7,050 items, so only S itself is N×N: −log softmax(S_i)_i = logsumexp_j S_ij − S_ii is read
    // off S by diagonalCrossEntropy without materialising the log-softmax matrix.
    const logits = tf.div(tf.matMul(aNormalized, bNormalized, false, true), tau) as tf.Tensor2D;
    return diagonalCrossEntropy(logits, "rows");
  });
}
