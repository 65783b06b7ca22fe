import * as tf from "@tensorflow/tfjs";
import type { SparseMatrix } from "../../backend/sparse";

/**
 * LightGCN's propagation with the layer MEAN, as MMRec's LightGCN and FREEDOM compute it:
 *
 *   x_0 = [users; items],  x_l = Â·x_{l−1},  out = (x_0 + x_1 + … + x_L) / (L + 1)
 *
 * (SEA's own encoder sums the layers instead, docs/method.md §5.2.) Returns the users' and the items' rows of
 * `out` ([U, k] and [N, k]); `graph` is (U+N)², users first.
 */
export function layerMeanPropagation(
  graph: SparseMatrix,
  users: tf.Tensor2D,
  items: tf.Tensor2D,
  layers: number,
): { users: tf.Tensor2D; items: tf.Tensor2D } {
  const nUsers = users.shape[0];
  const nItems = items.shape[0];
  if (graph.nRows !== nUsers + nItems) {
    throw new Error(`layerMeanPropagation: a ${graph.nRows}-node graph does not fit ${nUsers} users + ${nItems} items`);
  }
  return tf.tidy(() => {
    let x = tf.concat([users, items], 0) as tf.Tensor2D;
    const outputs: tf.Tensor2D[] = [x];
    for (let l = 0; l < layers; l++) {
      x = graph.matMul(x);
      outputs.push(x);
    }
    const mean = (outputs.length === 1 ? outputs[0]! : tf.div(tf.addN(outputs), outputs.length)) as tf.Tensor2D;
    const [u, i] = tf.split(mean, [nUsers, nItems], 0) as [tf.Tensor2D, tf.Tensor2D];
    return { users: u, items: i };
  });
}
