import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { embLoss } from "../../src/losses/embLoss";
import { Rng } from "../../src/util/rng";
import { assertAllClose, assertClose, randomMatrix } from "./helpers";

test("embLoss: (Σ unsquared Frobenius norms) / batch size, with gradient E_t / (‖E_t‖·B)", async () => {
  await tf.setBackend("cpu");
  const rng = new Rng(3);
  const a = randomMatrix(rng, 5, 3);
  const b = randomMatrix(rng, 5, 3);
  const norm = (x: Float64Array): number => Math.sqrt(x.reduce((s, v) => s + v * v, 0));
  const ta = tf.tensor2d(Float32Array.from(a), [5, 3]);
  const tb = tf.tensor2d(Float32Array.from(b), [5, 3]);
  assertClose(embLoss(ta, tb).dataSync()[0]!, (norm(a) + norm(b)) / 5, "value");
  const grads = tf.grads((x: tf.Tensor, y: tf.Tensor) => embLoss(x as tf.Tensor2D, y as tf.Tensor2D))([ta, tb]);
  assertAllClose(grads[0]!.dataSync(), Array.from(a, (v) => v / (norm(a) * 5)), "∂/∂a");
  // An all-zero table: value 0, gradient 0 (not NaN).
  const zero = tf.zeros([4, 3]) as tf.Tensor2D;
  const gz = tf.grad((x: tf.Tensor) => embLoss(x as tf.Tensor2D))(zero);
  assert.deepEqual(Array.from(gz.dataSync()), new Array(12).fill(0));
  [ta, tb, zero, gz, ...grads].forEach((t) => t.dispose());
});
