import * as tf from "@tensorflow/tfjs";
import { assertSameShape2d } from "./normalize";

/**
 * The paper's simpler distance alternative: −mean((g − u)²) over all elements. Minimising it pushes the
 * parts apart; it has no minimum on unbounded inputs, so callers normalise the rows first (Separation.distanceTerm, src/model/separation/separation.ts).
 */
export function negL2(g: tf.Tensor2D, u: tf.Tensor2D): tf.Scalar {
  assertSameShape2d("negL2", g, u);
  return tf.tidy(() => tf.neg(tf.mean(tf.squaredDifference(g, u))) as tf.Scalar);
}
