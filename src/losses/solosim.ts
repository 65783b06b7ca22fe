import * as tf from "@tensorflow/tfjs";
import { assertSameShape2d, normalizeRows } from "./normalize";
import { diagonalCrossEntropy } from "./diagonalCrossEntropy";
import { fusedSolosimOfNormalized, fusedSolosimPreferred } from "./solosimFused";
import { lookUpNativeFunction } from "../backend/addon";

/**
 * How solosimLossWith computes the loss after normalising the rows:
 *   "auto":  "fused" when fusedSolosimPreferred() (native addon + native kernels + tfjs "cpu" backend), else "tfjs";
 *   "fused": one native call for the loss and both gradients (solosimFused.ts); throws if the kernel is missing;
 *   "tfjs":  tf.matMul, then diagonalCrossEntropy.
 */
export type SolosimPath = "auto" | "fused" | "tfjs";

/**
 * Solosim loss (docs/method.md §4): rows of a and b L2-normalised, S = a·bᵀ / tau, loss = −mean_i log softmax(S_i)_i,
 * i.e. InfoNCE in one direction with the same row of b as the positive for row i of a.
 * Takes the fused native path when it is available and the tfjs backend is "cpu" (see solosimLossWith).
 */
export function solosimLoss(a: tf.Tensor2D, b: tf.Tensor2D, tau: number): tf.Scalar {
  return solosimLossWith(a, b, tau, "auto");
}

/** The path "auto" takes right now. */
export function solosimAutoPath(): "fused" | "tfjs" {
  return fusedSolosimPreferred() ? "fused" : "tfjs";
}

/**
 * solosimLoss on a chosen path (tests compare the two). Both normalise the rows with tf ops, so the
 * normalisation's gradient is tfjs autodiff either way; the paths differ only in S and what follows.
 */
export function solosimLossWith(a: tf.Tensor2D, b: tf.Tensor2D, tau: number, path: SolosimPath): tf.Scalar {
  assertSameShape2d("solosimLoss", a, b);
  if (!(tau > 0) || !Number.isFinite(tau)) throw new Error(`solosimLoss: tau must be a positive number (got ${tau})`);
  if (path !== "auto" && path !== "fused" && path !== "tfjs") throw new Error(`solosimLoss: unknown path "${String(path)}" (auto, fused or tfjs)`);
  const chosen = path === "auto" ? solosimAutoPath() : path;
  if (chosen === "fused") {
    const lookup = lookUpNativeFunction("solosimForwardBackward");
    if (!lookup.fn) throw new Error(`solosimLoss: the fused path needs the native solosimForwardBackward kernel: ${lookup.reason}`);
    const kernel = lookup.fn;
    return tf.tidy(() => fusedSolosimOfNormalized(normalizeRows(a), normalizeRows(b), tau, kernel));
  }
  return tf.tidy(() => {
    // N can be all 7,050 items, so only S itself is N×N: −log softmax(S_i)_i = logsumexp_j S_ij − S_ii is read
    // off S by diagonalCrossEntropy without materialising the log-softmax matrix (or logsumexp's temporaries).
    const logits = tf.div(tf.matMul(normalizeRows(a), normalizeRows(b), false, true), tau) as tf.Tensor2D;
    return diagonalCrossEntropy(logits, "rows");
  });
}
