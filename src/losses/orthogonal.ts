import * as tf from "@tensorflow/tfjs";
import { assertSameShape2d, normalizeRows, rowDot } from "./normalize";

export type OrthogonalMode = "frobenius" | "cosine";

/**
 * The prior-work baseline's orthogonality penalty between a generic part g and a unique part u
 * (both [n, d], row i = item i), docs/method.md §3.5.
 *
 * * "frobenius": ‖gᵀu‖²_F / n. gᵀu is the d_g×d_u cross-product matrix summed over rows; dividing by n
 *   makes the value a per-row average of outer-product correlations, so it does not grow with the batch.
 *   It penalises correlated *directions* over the whole set, and is sensitive to the parts' scale.
 * * "cosine": mean_i cos²(g_i, u_i), in [0, 1], scale-free: each item's two parts should be orthogonal.
 *
 * Both are 0 exactly when the constraint holds. Zero rows count as orthogonal (eps-guarded normalisation).
 */
export function orthogonalPenalty(g: tf.Tensor2D, u: tf.Tensor2D, mode: OrthogonalMode): tf.Scalar {
  assertSameShape2d("orthogonalPenalty", g, u, mode === "frobenius" ? false : true);
  return tf.tidy(() => {
    switch (mode) {
      case "frobenius":
        return tf.div(tf.sum(tf.square(tf.matMul(g, u, true, false))), g.shape[0]) as tf.Scalar;
      case "cosine":
        return tf.mean(tf.square(rowDot(normalizeRows(g), normalizeRows(u)))) as tf.Scalar;
      default:
        throw new Error(`orthogonalPenalty: unknown mode ${String(mode)}`);
    }
  });
}
