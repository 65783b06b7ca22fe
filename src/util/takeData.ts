import type * as tf from "@tensorflow/tfjs";

/**
 * Reads a tensor's values and disposes it. Use it instead of returning `.dataSync()` from tf.tidy:
 * tidy walks whatever it returns looking for tensors, and for a large typed array that walk is element by
 * element (seconds for a score block).
 */
export function takeData(t: tf.Tensor): Float32Array {
  try {
    return t.dataSync() as Float32Array;
  } finally {
    t.dispose();
  }
}

/**
 * A tensor's values as a Float32Array, the tensor kept (read-only use: on the cpu backend this is the tensor's
 * own storage; other dtypes are converted). For custom ops that hand their inputs to host or native code.
 */
export function readFloat32(t: tf.Tensor): Float32Array {
  const values = t.dataSync();
  return values instanceof Float32Array ? values : Float32Array.from(values as ArrayLike<number>);
}
