import * as tf from "@tensorflow/tfjs";
import { normalizeRows } from "../losses/normalize";
import type { SparseMatrix } from "../backend/sparse";
import { dispatchOp } from "../backend/implementation";

/**
 * The per-modality graph encoders and the user-side fusion (docs/method.md §5.1–§5.3, "Graph encoder per modality" and
 * "Fusion"), from each encoder's first-layer pre-activation to the fused user and item representations:
 *
 *   itemIn_m = leakyRelu(hidden_m)·W2_m + b2_m                         [N, k]
 *   x0_m     = normalizeRows([userPreference_m; itemIn_m])            [U+N, k], users first
 *   sum_m    = Σ_{l=0..L} Aˡ·x0_m                                      (LightGCN-style layer sum)
 *   users    = [sum_1[:U]·w_1, …, sum_M[:U]·w_M]                       [U, M·k], w_m = modalityWeights[:, m]
 *   items    = [sum_1[U:], …, sum_M[U:]]                               [N, M·k]
 */
export interface GraphEncoderModality {
  /** The encoder's first-layer pre-activation [N, H] (LeakyReLU is applied here). */
  readonly hidden: tf.Tensor2D;
  /** The encoder's second layer: w [H, k], b [k]. */
  readonly second: { readonly w: tf.Tensor; readonly b: tf.Tensor };
  /** Free user embeddings of this modality [U, k]. */
  readonly userPreference: tf.Tensor2D;
}

export interface GraphEncoderOptions {
  /** The normalised user–item graph A, (U+N)×(U+N), users first (not assumed symmetric). */
  readonly graph: SparseMatrix;
  /** Propagation layers L ≥ 0 (config graphLayers). */
  readonly layers: number;
  /** LeakyReLU slope for negative inputs (config leakySlope). */
  readonly leakySlope: number;
}

export interface GraphEncoderOutput {
  readonly users: tf.Tensor2D; // [U, M·k]
  readonly items: tf.Tensor2D; // [N, M·k]
}

/**
 * The graph encoders of all modalities, after checking the shapes. The op "graphEncoders" (docs/method.md,
 * "Implementations: reference and fast"): graphEncodersReadable below, or under the "fast" implementation on
 * tfjs's cpu backend one custom op with a hand-written backward over host arrays (src/backend/fused/graphEncoders.ts).
 */
export function graphEncoders(modalities: readonly GraphEncoderModality[], modalityWeights: tf.Tensor2D, options: GraphEncoderOptions): GraphEncoderOutput {
  checkShapes(modalities, modalityWeights, options);
  return dispatchOp("graphEncoders", graphEncodersReadable)(modalities, modalityWeights, options);
}

/**
 * The readable composition, op by op, as the equations of docs/method.md §5.1–§5.3 (shapes as graphEncoders
 * checks them).
 */
export function graphEncodersReadable(modalities: readonly GraphEncoderModality[], modalityWeights: tf.Tensor2D, options: GraphEncoderOptions): GraphEncoderOutput {
  const nUsers = modalityWeights.shape[0];
  const nItems = modalities[0]!.hidden.shape[0];
  return tf.tidy(() => {
    const userParts: tf.Tensor2D[] = [];
    const itemParts: tf.Tensor2D[] = [];
    for (const m of modalities) {
      const activated = tf.leakyRelu(m.hidden, options.leakySlope) as tf.Tensor2D;
      const itemIn = tf.add(tf.matMul(activated, m.second.w as tf.Tensor2D), m.second.b) as tf.Tensor2D; // [N, k]
      const x0 = normalizeRows(tf.concat([m.userPreference, itemIn], 0) as tf.Tensor2D);
      let h = x0;
      let sum = x0;
      for (let l = 0; l < options.layers; l++) {
        h = options.graph.matMul(h);
        sum = tf.add(sum, h) as tf.Tensor2D;
      }
      // split, not two slices: its gradient is one concat, where each slice's would be a full-size pad.
      const [userPart, itemPart] = tf.split(sum, [nUsers, nItems], 0) as [tf.Tensor2D, tf.Tensor2D];
      userParts.push(userPart);
      itemParts.push(itemPart);
    }
    const users = tf.concat(userParts.map((u, i) => tf.mul(u, modalityWeights.slice([0, i], [-1, 1]))), 1) as tf.Tensor2D;
    const items = tf.concat(itemParts, 1) as tf.Tensor2D;
    return { users, items };
  });
}

function checkShapes(modalities: readonly GraphEncoderModality[], modalityWeights: tf.Tensor2D, options: GraphEncoderOptions): void {
  const fail = (why: string): never => {
    const shapes = modalities
      .map((m, i) => `modality ${i}: hidden [${m.hidden.shape}], w2 [${m.second.w.shape}], b2 [${m.second.b.shape}], userPreference [${m.userPreference.shape}]`)
      .join("; ");
    throw new Error(`graphEncoders: ${why} (modalityWeights [${modalityWeights.shape}]; ${shapes || "no modality"}; graph ${options.graph.nRows}x${options.graph.nCols})`);
  };
  if (!Number.isInteger(options.layers) || options.layers < 0) fail(`layers must be an integer ≥ 0, got ${options.layers}`);
  if (!Number.isFinite(options.leakySlope)) fail(`leakySlope must be finite, got ${options.leakySlope}`);
  if (modalities.length === 0) fail("need at least one modality");
  if (modalityWeights.rank !== 2 || modalityWeights.shape[1] !== modalities.length) fail(`modalityWeights must be [U, ${modalities.length}]`);
  const nUsers = modalityWeights.shape[0];
  const first = modalities[0]!;
  const nItems = first.hidden.shape[0]!;
  const k = first.second.w.shape[1]!;
  modalities.forEach((m, i) => {
    const h = m.hidden.shape[1]!;
    if (m.hidden.rank !== 2 || m.hidden.shape[0] !== nItems) fail(`modality ${i}: hidden must be [N = ${nItems}, H]`);
    if (m.second.w.rank !== 2 || m.second.w.shape[0] !== h || m.second.w.shape[1] !== k) fail(`modality ${i}: w2 must be [H = ${h}, k = ${k}]`);
    if (m.second.b.size !== k || m.second.b.rank > 2 || m.second.b.shape[m.second.b.rank - 1] !== k) fail(`modality ${i}: b2 must be [k = ${k}]`);
    if (m.userPreference.rank !== 2 || m.userPreference.shape[0] !== nUsers || m.userPreference.shape[1] !== k) {
      fail(`modality ${i}: userPreference must be [U = ${nUsers}, k = ${k}]`);
    }
  });
  if (options.graph.nRows !== nUsers + nItems || options.graph.nCols !== nUsers + nItems) fail(`graph must be (U+N)x(U+N) = ${nUsers + nItems}x${nUsers + nItems}`);
  if (nUsers + nItems < 1 || k < 1) fail("need U + N ≥ 1 and k ≥ 1");
}
