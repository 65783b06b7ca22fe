import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { bprLossOfTables } from "../../src/losses/bprTables";
import "../../src/backend/fused/bprTables"; // registers the fast kernel (this test does not go through selectBackend)
import { fastKernelCalls, resetFastKernelCalls, withImplementation } from "../../src/backend/implementation";
import type { BprTriples } from "../../src/data/bprSampling";
import { Rng } from "../../src/util/rng";
import { assertAllClose, assertClose, randomMatrix } from "./helpers";

before(async () => {
  await tf.setBackend("cpu");
});

const rng = new Rng(7);
const nUsers = 6;
const nItems = 5;
const width = 4;
const usersValues = randomMatrix(rng, nUsers, width);
const itemsValues = randomMatrix(rng, nItems, width);
// Repeated users and items (their gradients accumulate), an item both positive and negative.
const batch = {
  users: Int32Array.from([0, 3, 3, 5, 1, 0, 2]),
  pos: Int32Array.from([1, 4, 2, 0, 1, 3, 4]),
  neg: Int32Array.from([2, 0, 2, 4, 3, 1, 1]),
};

/** "fused": the fast kernel, "tfjs": the readable composition, both through the op's dispatch (which checks the batch). */
type BprTablesPath = "fused" | "tfjs";

function bprLossOfTablesWith(users: tf.Tensor2D, items: tf.Tensor2D, triples: BprTriples, path: BprTablesPath): tf.Scalar {
  resetFastKernelCalls();
  const loss = withImplementation(path === "fused" ? "fast" : "reference", () => bprLossOfTables(users, items, triples));
  assert.equal(fastKernelCalls().get("bprLossOfTables") ?? 0, path === "fused" ? 1 : 0, `${path}: kernel calls`);
  return loss;
}

function lossAndGrads(path: BprTablesPath, u = usersValues, i = itemsValues) {
  return tf.tidy(() => {
    const users = tf.tensor2d(Float32Array.from(u), [u.length / width, width]);
    const items = tf.tensor2d(Float32Array.from(i), [i.length / width, width]);
    const { value, grads } = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor) => bprLossOfTablesWith(a as tf.Tensor2D, b as tf.Tensor2D, batch, path))([users, items]);
    return { loss: value.dataSync()[0]!, dUsers: grads[0]!.dataSync().slice(), dItems: grads[1]!.dataSync().slice() };
  });
}

/** Loss in float64, written from the definition: −mean_b log2 σ(u_b·p_b − u_b·n_b). */
function referenceLoss(u: Float64Array, i: Float64Array): number {
  let total = 0;
  for (let b = 0; b < batch.users.length; b++) {
    let x = 0;
    for (let j = 0; j < width; j++) x += u[batch.users[b]! * width + j]! * (i[batch.pos[b]! * width + j]! - i[batch.neg[b]! * width + j]!);
    total += -Math.log2(1 / (1 + Math.exp(-x)));
  }
  return total / batch.users.length;
}

test("fused BPR of the tables equals the definition and the tfjs composition, loss and gradients", () => {
  const fused = lossAndGrads("fused");
  const composed = lossAndGrads("tfjs");
  assertClose(fused.loss, referenceLoss(usersValues, itemsValues), "fused loss vs float64", 1e-6);
  assertClose(fused.loss, composed.loss, "fused vs tfjs loss", 1e-6);
  assertAllClose(fused.dUsers, composed.dUsers, "dUsers", 1e-5, 1e-7);
  assertAllClose(fused.dItems, composed.dItems, "dItems", 1e-5, 1e-7);
  // Float64 central differences of the definition at a few coordinates of each table.
  const h = 1e-6;
  for (const [table, grad, other, isUsers] of [[usersValues, fused.dUsers, itemsValues, true], [itemsValues, fused.dItems, usersValues, false]] as const) {
    for (const k of [0, 5, 13, table.length - 1]) {
      const up = Float64Array.from(table);
      const down = Float64Array.from(table);
      up[k]! += h;
      down[k]! -= h;
      const fd = isUsers ? (referenceLoss(up, other) - referenceLoss(down, other)) / (2 * h) : (referenceLoss(other, up) - referenceLoss(other, down)) / (2 * h);
      assertClose(grad[k]!, fd, `${isUsers ? "dUsers" : "dItems"}[${k}] vs finite differences`, 1e-4, 1e-6);
    }
  }
  // Rows outside every triple get exactly zero gradient (user 4 is never sampled).
  assert.deepEqual(Array.from(fused.dUsers.slice(4 * width, 5 * width)), [0, 0, 0, 0]);
});

test("fused BPR stays finite for a margin far below −88 (where log2(sigmoid) is +inf in float32)", () => {
  const u = new Float64Array(nUsers * width).fill(10);
  const i = Float64Array.from(itemsValues);
  for (let j = 0; j < width; j++) { i[1 * width + j] = -5; i[2 * width + j] = 5; } // triple 0: x = 10·4·(−5 − 5) = −400
  const fused = lossAndGrads("fused", u, i);
  const composed = lossAndGrads("tfjs", u, i);
  assert.ok(Number.isFinite(fused.loss));
  assertClose(fused.loss, composed.loss, "large-margin loss vs tfjs", 1e-6);
  assertAllClose(fused.dUsers, composed.dUsers, "large-margin dUsers", 1e-5, 1e-6);
  assert.ok(fused.dItems.every(Number.isFinite));
});

test("fused BPR refuses ids outside the tables and leaks no tensors", () => {
  const users = tf.ones([3, 2]) as tf.Tensor2D;
  const items = tf.ones([2, 2]) as tf.Tensor2D;
  assert.throws(() => bprLossOfTablesWith(users, items, { users: Int32Array.of(3), pos: Int32Array.of(0), neg: Int32Array.of(1) }, "fused"), /users\[0\] = 3 is outside \[0, 3\)/);
  assert.throws(() => bprLossOfTablesWith(users, items, { users: Int32Array.of(0), pos: Int32Array.of(0), neg: Int32Array.of(-1) }, "fused"), /neg\[0\] = -1/);
  assert.throws(() => bprLossOfTablesWith(users, items, { users: new Int32Array(0), pos: new Int32Array(0), neg: new Int32Array(0) }, "fused"), /non-empty batch/);
  tf.dispose([users, items]);
  lossAndGrads("fused");
  const before = tf.memory().numTensors;
  for (let r = 0; r < 3; r++) lossAndGrads("fused");
  assert.equal(tf.memory().numTensors, before);
});
