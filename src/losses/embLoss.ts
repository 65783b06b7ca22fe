import * as tf from "@tensorflow/tfjs";

/**
 * MMRec's EmbLoss (common/loss.py), the L2 regulariser of its LightGCN and VBPR:
 *
 *   EmbLoss(E_1, …, E_n) = (‖E_1‖_F + … + ‖E_n‖_F) / B,   B = rows of the last table (the batch size)
 *
 * Note the Frobenius norms are not squared (torch.norm with p = 2 over the whole table) and the sum is divided
 * by the batch size once, not per row: the gradient of each table is E_t / (‖E_t‖_F · B), a unit-norm
 * direction scaled by 1/B, not the weight decay 2·E_t a squared norm would give.
 */
export function embLoss(...tables: tf.Tensor2D[]): tf.Scalar {
  if (tables.length === 0) throw new Error("embLoss: need at least one table");
  const batch = tables[tables.length - 1]!.shape[0];
  if (!(batch > 0)) throw new Error("embLoss: the last table has no rows (the batch size divides the loss)");
  return tf.tidy(() => tf.div(tf.addN(tables.map((t) => frobeniusNorm(t))), batch) as tf.Scalar);
}

/**
 * √(Σ x²) with the gradient x / ‖x‖ written out, 0 for an all-zero table (tfjs's sqrt gradient would give
 * 0·∞ = NaN there; torch gives the subgradient 0 too).
 */
const frobeniusNorm = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = args[0] as tf.Tensor;
  const save = args[1] as tf.GradSaveFunc;
  const value = tf.sqrt(tf.sum(tf.square(x)));
  save([x, value]);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, norm] = saved as [tf.Tensor, tf.Tensor];
      const scale = tf.where(tf.greater(norm, 0), tf.div(dy, tf.maximum(norm, 1e-30)), tf.zerosLike(norm));
      return tf.mul(xs, scale);
    },
  };
}) as (x: tf.Tensor) => tf.Scalar;
