import * as tf from "@tensorflow/tfjs";
import { lookUpNativeFunction, type SeaNativeAddon } from "../backend/addon";
import { nativeKernelsActive } from "../backend/kernels";
import { readFloat32 } from "../util/takeData";

/** The addon's fused Solosim loss + gradient (native/src/solosim.cc). */
export type SolosimKernel = SeaNativeAddon["solosimForwardBackward"];

/**
 * True when solosimLoss's default path is the fused kernel: the kernel exists, the native BLAS kernels are
 * active and tfjs runs on its "cpu" backend — the configuration where the unfused n×n element-wise work runs
 * in tfjs's JS loops. Other backends (wasm, tfjs-node) keep the tfjs path.
 */
export function fusedSolosimPreferred(): boolean {
  return nativeKernelsActive() && tf.getBackend() === "cpu" && lookUpNativeFunction("solosimForwardBackward").fn !== null;
}

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
  if (n < 1) throw new Error(`solosimLoss: expected at least one row (got shape [${aNormalized.shape}])`);
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
