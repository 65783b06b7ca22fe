import * as tf from "@tensorflow/tfjs";

/**
 * BPR loss in the reference's base-2 form, −mean(log2(sigmoid(pos − neg))) (docs/method.md §5.5), one sampled
 * negative per positive.
 *
 * Computed as mean(softplus(−(pos − neg))) / ln 2, which is the same function: −log σ(x) = softplus(−x).
 * The reference evaluates log2(sigmoid(x)) directly; in float32 sigmoid(x) underflows to 0 once
 * x < −88.8 (exp(88.8) overflows), so its loss becomes +inf and its gradient NaN. Here the loss stays
 * finite (≈ −x / ln 2) and the gradient is −sigmoid(−x) / ln 2 per pair, bounded by 1/ln 2.
 */
export function bprLoss(pos: tf.Tensor1D, neg: tf.Tensor1D): tf.Scalar {
  if (pos.rank !== 1 || neg.rank !== 1 || pos.shape[0] !== neg.shape[0]) {
    throw new Error(`bprLoss: pos and neg must be 1-D of equal length (got [${pos.shape}] and [${neg.shape}])`);
  }
  return tf.tidy(() => tf.div(tf.mean(stableSoftplus(tf.sub(neg, pos))), Math.LN2) as tf.Scalar);
}

/**
 * softplus(z) = max(z, 0) + log1p(exp(−|z|)): no exp of a large positive number on any backend (kernels of
 * other backends need not guard it as the cpu one does). The gradient is given explicitly as sigmoid(z), since
 * differentiating the max/abs form would give 0 instead of ½ at z = 0 (an exact tie between two scores).
 */
const stableSoftplus = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const z = args[0] as tf.Tensor;
  const save = args[1] as tf.GradSaveFunc;
  save([z]);
  const value = tf.add(tf.relu(z), tf.log1p(tf.exp(tf.neg(tf.abs(z)))));
  return { value, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, tf.sigmoid(saved[0]!)) };
}) as (z: tf.Tensor) => tf.Tensor;

/**
 * The weight that puts MMRec's natural-log BPR and an added regulariser R in MMRec's ratio on top of the kit's
 * BPR, which is −mean log₂ σ(·) = (natural-log BPR) / ln 2 (bprLoss above): BPR₂ + (λ / ln 2)·R equals
 * (BPR_e + λ·R) / ln 2, MMRec's objective times a constant, and Adam's steps do not change under a constant
 * factor on the loss (up to its ε). Regularisers that are themselves BPR terms (FREEDOM's) keep λ as it is.
 */
export function naturalLogRegWeight(regWeight: number): number {
  return regWeight / Math.LN2;
}
