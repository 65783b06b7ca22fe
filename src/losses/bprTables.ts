import * as tf from "@tensorflow/tfjs";
import { bprLoss } from "./bpr";
import type { BprTriples } from "../data/bprSampling";
import { dispatchOp } from "../backend/implementation";

/**
 * bprLoss of a batch read straight from the full embedding tables (docs/method.md §5.5): for triple b the scores
 * are users[u_b]·items[p_b] and users[u_b]·items[n_b]. The op "bprLossOfTables" (docs/method.md, "Implementations:
 * reference and fast"): bprLossOfTablesReadable below, or under the "fast" implementation on tfjs's cpu backend
 * one custom op that scatters each triple's gradient straight into the tables' gradients
 * (src/backend/fused/bprTables.ts).
 */
export function bprLossOfTables(users: tf.Tensor2D, items: tf.Tensor2D, batch: BprTriples): tf.Scalar {
  checkBatch(users, items, batch);
  return dispatchOp("bprLossOfTables", bprLossOfTablesReadable)(users, items, batch);
}

/** The readable composition: gather the three rows of each triple, two row-wise dot products, bprLoss. */
export function bprLossOfTablesReadable(users: tf.Tensor2D, items: tf.Tensor2D, batch: BprTriples): tf.Scalar {
  return tf.tidy(() => {
    const u = tf.gather(users, tf.tensor1d(batch.users, "int32"));
    const p = tf.gather(items, tf.tensor1d(batch.pos, "int32"));
    const n = tf.gather(items, tf.tensor1d(batch.neg, "int32"));
    return bprLoss(tf.sum(tf.mul(u, p), 1) as tf.Tensor1D, tf.sum(tf.mul(u, n), 1) as tf.Tensor1D);
  });
}

function checkBatch(users: tf.Tensor2D, items: tf.Tensor2D, batch: BprTriples): void {
  if (users.rank !== 2 || items.rank !== 2 || users.shape[1] !== items.shape[1]) {
    throw new Error(`bprLossOfTables: users and items must be 2-D with the same width (got [${users.shape}] and [${items.shape}])`);
  }
  const size = batch.users.length;
  if (size === 0 || batch.pos.length !== size || batch.neg.length !== size) {
    throw new Error(`bprLossOfTables: need a non-empty batch with as many users, positives and negatives (got ${size}, ${batch.pos.length}, ${batch.neg.length})`);
  }
  const inRange = (ids: Int32Array, n: number, what: string): void => {
    for (let b = 0; b < ids.length; b++) {
      const id = ids[b]!;
      if (!(id >= 0 && id < n)) throw new Error(`bprLossOfTables: ${what}[${b}] = ${id} is outside [0, ${n})`);
    }
  };
  inRange(batch.users, users.shape[0], "users");
  inRange(batch.pos, items.shape[0], "pos");
  inRange(batch.neg, items.shape[0], "neg");
}
