import * as tf from "@tensorflow/tfjs";
import { applyLinear, batchNormTrain, type BatchNormParams, type Linear } from "./params";
import { normalizeRows } from "../losses/normalize";
import { dispatchOp } from "../backend/implementation";

/**
 * The Solosim projection head after its first linear layer (docs/method.md §4):
 * BN → ReLU → Linear(h→h) → BN → ReLU → Linear(h→out) → row L2-normalise, BN with batch statistics.
 */
export interface ProjectionHeadParams {
  readonly bn1: BatchNormParams;
  readonly l2: Linear;
  readonly bn2: BatchNormParams;
  readonly l3: Linear;
}
/**
 * The rest of a Solosim head applied to h1 [N, h] (the first Linear's output): [N, out], rows unit-norm. The op
 * "projectionHeadRest" (docs/method.md, "Implementations: reference and fast"): projectionHeadReadable below, or
 * under the "fast" implementation on tfjs's cpu backend one custom op with a hand-written backward over host
 * arrays (src/backend/fused/projectionHead.ts).
 */
export function projectionHeadRest(h1: tf.Tensor2D, params: ProjectionHeadParams): tf.Tensor2D {
  checkShapes(h1, params);
  return dispatchOp("projectionHeadRest", projectionHeadReadable)(h1, params);
}

/** The readable composition, op by op, as docs/method.md §4 writes the head. */
export function projectionHeadReadable(h1: tf.Tensor2D, head: ProjectionHeadParams): tf.Tensor2D {
  return tf.tidy(() => {
    const a = tf.relu(batchNormTrain(h1, head.bn1)) as tf.Tensor2D;
    const b = tf.relu(batchNormTrain(applyLinear(a, head.l2), head.bn2)) as tf.Tensor2D;
    return normalizeRows(applyLinear(b, head.l3));
  });
}
function checkShapes(h1: tf.Tensor2D, p: ProjectionHeadParams): void {
  const [n, h] = h1.shape;
  const [w3In, out] = p.l3.w.shape;
  const ok =
    h1.rank === 2 && n >= 1 &&
    p.bn1.gamma.size === h && p.bn1.beta.size === h &&
    p.l2.w.shape.join() === `${h},${h}` && p.l2.b.size === h &&
    p.bn2.gamma.size === h && p.bn2.beta.size === h &&
    p.l3.w.rank === 2 && w3In === h && p.l3.b.size === out;
  if (!ok) {
    throw new Error(
      `projectionHeadRest: inconsistent shapes (h1 [${h1.shape}], bn1 [${p.bn1.gamma.shape}], l2.w [${p.l2.w.shape}], ` +
        `l2.b [${p.l2.b.shape}], bn2 [${p.bn2.gamma.shape}], l3.w [${p.l3.w.shape}], l3.b [${p.l3.b.shape}]; need N ≥ 1)`,
    );
  }
}
