import * as tf from "@tensorflow/tfjs";
import { bprLoss } from "./bpr";
import type { BprTriples } from "../data/bprSampling";
import { readFloat32 } from "../util/takeData";


/** "fused": one custom op over host memory; "tfjs": gathers, products and row sums op by op. */
export type BprTablesPath = "fused" | "tfjs";

/**
 * bprLoss of a batch read straight from the full embedding tables: for triple b the scores are
 * users[u_b]·items[p_b] and users[u_b]·items[n_b].
 *
 * On the tfjs "cpu" backend this is one custom op. The composition costs three gathers, two products and two
 * row sums forward and, backward, three UnsortedSegmentSums into zeroed full-size tables (the gradient of a
 * gather); the fused op scatters each triple's gradient straight into the two tables' gradients in one pass
 * over the batch. Other backends keep the composition (host reads would cost a device sync).
 */
export function bprLossOfTables(users: tf.Tensor2D, items: tf.Tensor2D, batch: BprTriples): tf.Scalar {
  return bprLossOfTablesWith(users, items, batch, tf.getBackend() === "cpu" ? "fused" : "tfjs");
}

/** bprLossOfTables on a chosen path (tests compare the two; they agree to float32 rounding). */
export function bprLossOfTablesWith(users: tf.Tensor2D, items: tf.Tensor2D, batch: BprTriples, path: BprTablesPath): tf.Scalar {
  checkBatch(users, items, batch);
  if (path === "tfjs") return bprLossComposed(users, items, batch);
  return fusedOp(batch)(users, items) as tf.Scalar;
}

function bprLossComposed(users: tf.Tensor2D, items: tf.Tensor2D, batch: BprTriples): tf.Scalar {
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

/**
 * The op for one batch. With x_b = s_pos − s_neg the loss is mean_b softplus(−x_b) / ln 2 (bprLoss's stable
 * form), and ∂loss/∂x_b = −σ(−x_b) / (B·ln 2) =: c_b; then ∂/∂users[u_b] += c_b·(items[p_b] − items[n_b]),
 * ∂/∂items[p_b] += c_b·users[u_b], ∂/∂items[n_b] −= c_b·users[u_b]. Dot products are summed in float64; the
 * scattered gradient is accumulated in float32, one rounding per addition (as torch's index_add_; tfjs's
 * segment sum rounds once, a difference in the last bit for rows that occur several times in a batch).
 */
function fusedOp(batch: BprTriples): (users: tf.Tensor, items: tf.Tensor) => tf.Tensor {
  return tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [usersT, itemsT] = args as [tf.Tensor2D, tf.Tensor2D];
    const width = usersT.shape[1];
    // The tables' own storage, not copies: they are tensors computed by this step's forward (not variables an
    // optimiser writes in place), kept alive by the tape until this op's backward has run.
    const U = readFloat32(usersT);
    const I = readFloat32(itemsT);
    const size = batch.users.length;
    const margin = new Float64Array(size); // x_b in float64 (float32 scores rounded as the composition's)
    let total = 0;
    for (let b = 0; b < size; b++) {
      const u = batch.users[b]! * width;
      const p = batch.pos[b]! * width;
      const n = batch.neg[b]! * width;
      let sp = 0;
      let sn = 0;
      for (let j = 0; j < width; j++) {
        sp += U[u + j]! * I[p + j]!;
        sn += U[u + j]! * I[n + j]!;
      }
      const x = Math.fround(Math.fround(sp) - Math.fround(sn));
      margin[b] = x;
      total += softplus(-x);
    }
    const value = tf.scalar(total / size / Math.LN2);

    const gradFunc = (dy: tf.Tensor): tf.Tensor[] => {
      const scale = -readFloat32(dy)[0]! / (size * Math.LN2);
      const dU = new Float32Array(U.length);
      const dI = new Float32Array(I.length);
      for (let b = 0; b < size; b++) {
        const c = scale * sigmoid(-margin[b]!);
        const u = batch.users[b]! * width;
        const p = batch.pos[b]! * width;
        const n = batch.neg[b]! * width;
        for (let j = 0; j < width; j++) {
          const uj = U[u + j]!;
          dU[u + j]! += c * (I[p + j]! - I[n + j]!);
          dI[p + j]! += c * uj;
          dI[n + j]! -= c * uj;
        }
      }
      return [tf.tensor2d(dU, usersT.shape), tf.tensor2d(dI, itemsT.shape)];
    };
    return { value, gradFunc };
  }) as (users: tf.Tensor, items: tf.Tensor) => tf.Tensor;
}

/** log(1 + e^z) without overflow. */
function softplus(z: number): number {
  return Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)));
}

function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}
