import * as tf from "@tensorflow/tfjs";
import { readFloat32 } from "../../util/takeData";
import { registerFastKernel } from "../implementation";

/**
 * The fast kernel of the op "bprLossOfTables" (readable version: bprLossOfTablesReadable in
 * src/losses/bprTables.ts, docs/method.md §5.5). The composition costs three gathers, two products and two row
 * sums forward and, backward, three UnsortedSegmentSums into zeroed full-size tables (the gradient of a gather);
 * this op scatters each triple's gradient straight into the two tables' gradients in one pass over the batch.
 * It reads the tables on the host, so it applies on the tfjs "cpu" backend only (elsewhere a device sync).
 */

/** A batch of BPR triples (the data module's BprTriples). */
export interface TripleBatch {
  readonly users: Int32Array;
  readonly pos: Int32Array;
  readonly neg: Int32Array;
}

registerFastKernel("bprLossOfTables", {
  applies: () => tf.getBackend() === "cpu",
  run: bprLossOfTablesFused,
});

/** The fused loss (batch checked by bprLossOfTables; tests call it directly). */
export function bprLossOfTablesFused(users: tf.Tensor2D, items: tf.Tensor2D, batch: TripleBatch): tf.Scalar {
  return fusedOp(batch)(users, items) as tf.Scalar;
}

/**
 * The op for one batch. With x_b = s_pos − s_neg the loss is mean_b softplus(−x_b) / ln 2 (bprLoss's stable
 * form), and ∂loss/∂x_b = −σ(−x_b) / (B·ln 2) =: c_b; then ∂/∂users[u_b] += c_b·(items[p_b] − items[n_b]),
 * ∂/∂items[p_b] += c_b·users[u_b], ∂/∂items[n_b] −= c_b·users[u_b]. Dot products are summed in float64; the
 * scattered gradient is accumulated in float32, one rounding per addition (as torch's index_add_; tfjs's
 * segment sum rounds once, a difference in the last bit for rows that occur several times in a batch).
 */
function fusedOp(batch: TripleBatch): (users: tf.Tensor, items: tf.Tensor) => tf.Tensor {
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
