import * as tf from "@tensorflow/tfjs";
import { lookUpNativeFunction, type SeaNativeAddon } from "../addon";
import { nativeKernelsActive } from "../kernels";
import { readFloat32 } from "../../util/takeData";
import { registerFastKernel } from "../implementation";

/**
 * The fast kernel of the op "solosimOfNormalized" (readable version: solosimOfNormalizedReadable in
 * src/losses/solosim.ts, docs/method.md §4): the addon's fused Solosim loss + gradient (native/src/solosim.cc).
 */
export type SolosimKernel = SeaNativeAddon["solosimForwardBackward"];

/**
 * Applies when the kernel exists, the native BLAS kernels are active and tfjs runs on its "cpu" backend — the
 * configuration where the unfused n×n element-wise work runs in tfjs's JS loops. Other backends (wasm,
 * tfjs-node) keep the readable composition.
 */
export function fusedSolosimApplies(): boolean {
  return nativeKernelsActive() && tf.getBackend() === "cpu" && lookUpNativeFunction("solosimForwardBackward").fn !== null;
}

registerFastKernel("solosimOfNormalized", {
  applies: fusedSolosimApplies,
  run: (aNormalized: tf.Tensor2D, bNormalized: tf.Tensor2D, tau: number): tf.Scalar => {
    const lookup = lookUpNativeFunction("solosimForwardBackward");
    if (!lookup.fn) throw new Error(`solosimLoss: the fused path needs the native solosimForwardBackward kernel: ${lookup.reason}`);
    return fusedSolosimOfNormalized(aNormalized, bNormalized, tau, lookup.fn);
  },
});

/**
 * Solosim loss of rows that are already L2-normalised, as one op whose forward pass is a single native call
 * returning the loss and both gradients, so the n×n score matrix never exists as a tensor (nor in full in
 * the kernel, which works in row blocks).
 *
 * The gradients are computed in the forward call even when nobody asks for them: the training loss is
 * always differentiated, and a second pass would redo the whole n×n computation. They are kept as plain
 * Float32Arrays (no tensors to leak when the loss is only evaluated) and become tensors in the gradient.
 */
export function fusedSolosimOfNormalized(aNormalized: tf.Tensor2D, bNormalized: tf.Tensor2D, tau: number, kernel: SolosimKernel): tf.Scalar {
  const [n, d] = aNormalized.shape;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, y] = args as tf.Tensor2D[];
    const dA = new Float32Array(n * d);
    const dB = new Float32Array(n * d);
    const loss = kernel(readFloat32(x!), readFloat32(y!), n, d, 1 / tau, dA, dB);
    return {
      value: tf.scalar(loss),
      gradFunc: (dy: tf.Tensor) => [tf.mul(dy, tf.tensor2d(dA, [n, d])), tf.mul(dy, tf.tensor2d(dB, [n, d]))],
    };
  });
  return op(aNormalized, bNormalized) as tf.Scalar;
}
