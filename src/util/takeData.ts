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
