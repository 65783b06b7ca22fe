import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { Adam, pytorchAdam } from "../../src/optim/adam";
import { hostAdamUpdate } from "../../src/backend/fused/adam"; // also registers the host moments (no selectBackend here)
import { withImplementation, type Implementation } from "../../src/backend/implementation";
import { availableAddon, NATIVE_SKIP, randomArray } from "../backend/helpers";
import type { SavedTensor } from "../../src/train/checkpoint";
import { Rng } from "../../src/util/rng";

const SHAPES: number[][] = [[7, 5], [5], [1]];
let created = 0;

function makeVariables(seed: number): { name: string; variable: tf.Variable }[] {
  const rng = new Rng(seed);
  return SHAPES.map((shape, i) => {
    const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
    rng.fillNormal(values);
    // tf.variable keeps its initial tensor alive unless created inside tidy.
    const variable = tf.tidy(() => tf.variable(tf.tensor(values, shape), true, `adamTest_${seed}_${i}_${++created}`));
    return { name: `p${i}`, variable };
  });
}

/** A loss with gradients of very different scales per element, so Adam's per-element normalisation matters. */
function loss(vars: readonly tf.Variable[]): tf.Scalar {
  return tf.tidy(() => {
    const [a, b, c] = vars as [tf.Variable, tf.Variable, tf.Variable];
    const y = tf.add(tf.matMul(a, tf.reshape(b, [5, 1])), c);
    return tf.add(tf.sum(tf.square(tf.sub(y, 1))), tf.mul(0.01, tf.sum(tf.pow(a, 4)))) as tf.Scalar;
  });
}

function step(vars: readonly tf.Variable[], apply: (g: tf.NamedTensorMap) => void): void {
  const { value, grads } = tf.variableGrads(() => loss(vars), [...vars]);
  apply(grads);
  value.dispose();
  Object.values(grads).forEach((g) => g.dispose());
}

/** "host": the fast kernel's typed-array moments (cpu backend); "tensor": the readable tf.Variable moments. */
type AdamStorage = "host" | "tensor";

function newAdam(entries: { name: string; variable: tf.Variable }[], lr: number, storage: AdamStorage): Adam {
  const implementation: Implementation = storage === "host" ? "fast" : "reference";
  return withImplementation(implementation, () => new Adam(entries, pytorchAdam(lr)));
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

for (const storage of ["host", "tensor"] as AdamStorage[]) {
  test(`Adam (${storage} moments) follows tfjs's Adam with PyTorch's defaults`, async () => {
    await tf.setBackend("cpu");
    const before = tf.memory().numTensors;
    const ours = makeVariables(3);
    const theirs = makeVariables(3);
    const adam = newAdam(ours, 0.01, storage);
    const reference = tf.train.adam(0.01, 0.9, 0.999, 1e-8);
    for (let s = 0; s < 25; s++) {
      step(ours.map((e) => e.variable), (g) => adam.apply(g));
      step(theirs.map((e) => e.variable), (g) => (reference as tf.Optimizer).applyGradients(g));
    }
    assert.equal(adam.iterations, 25);
    ours.forEach((e, i) => {
      const d = maxAbsDiff(e.variable.dataSync(), theirs[i]!.variable.dataSync());
      // 25 steps of lr 0.01 move parameters by up to 0.25; float32 rounding differences stay far below that.
      assert.ok(d < 2e-5, `${e.name} differs by ${d}`);
    });
    adam.dispose();
    reference.dispose();
    [...ours, ...theirs].forEach((e) => e.variable.dispose());
    assert.equal(tf.memory().numTensors, before, "no leaked tensors");
  });
}

test("Adam save/restore continues exactly where the saved optimiser was", async () => {
  await tf.setBackend("cpu");
  const a = makeVariables(9);
  const adamA = newAdam(a, 0.05, "host");
  for (let s = 0; s < 4; s++) step(a.map((e) => e.variable), (g) => adamA.apply(g));
  const saved = new Map<string, SavedTensor>(adamA.save("adam").map((t) => [t.name, { ...t, values: Float32Array.from(t.values) }]));
  // A fresh optimiser on a copy of the parameters, restored from the save, then both take 5 more steps.
  const b = makeVariables(9);
  b.forEach((e, i) => e.variable.assign(a[i]!.variable));
  const adamB = newAdam(b, 0.05, "tensor");
  adamB.restore(saved, "adam", "test.ckpt");
  assert.equal(adamB.iterations, 4);
  for (let s = 0; s < 5; s++) {
    step(a.map((e) => e.variable), (g) => adamA.apply(g));
    step(b.map((e) => e.variable), (g) => adamB.apply(g));
  }
  a.forEach((e, i) => assert.ok(maxAbsDiff(e.variable.dataSync(), b[i]!.variable.dataSync()) < 1e-6, e.name));
  assert.throws(() => adamB.restore(new Map(), "adam", "old.ckpt"), /old\.ckpt.*no optimiser state 'adam'/);
  const wrong = new Map(saved);
  wrong.set("adam/m/p1", { name: "adam/m/p1", shape: [3], values: new Float32Array(3) });
  assert.throws(() => adamB.restore(wrong, "adam", "x.ckpt"), /does not match parameter p1/);
  adamA.dispose();
  adamB.dispose();
  [...a, ...b].forEach((e) => e.variable.dispose());
});

test("the addon's adamUpdate equals the JS update bit for bit (multithreaded, odd length)", (t) => {
  const addon = availableAddon();
  if (!addon) {
    t.diagnostic(NATIVE_SKIP);
    return;
  }
  const n = 300_001; // several threads' ranges, not a multiple of anything
  const rng = new Rng(21);
  const [params, grad, m0, v0] = [0, 1, 2, 3].map(() => randomArray(rng, n)) as [Float32Array, Float32Array, Float32Array, Float32Array];
  v0.forEach((x, i) => (v0[i] = Math.abs(x))); // a second moment is non-negative
  const run = (update: typeof hostAdamUpdate): { out: Float32Array; m: Float32Array; v: Float32Array } => {
    const m = Float32Array.from(m0);
    const v = Float32Array.from(v0);
    const out = new Float32Array(n);
    update(params, grad, m, v, out, 0.01 / (1 - 0.9 ** 3), 1 / (1 - 0.999 ** 3), 0.9, 0.999, 1e-8);
    return { out, m, v };
  };
  const js = run(hostAdamUpdate);
  const native = run(addon.adamUpdate.bind(addon));
  assert.deepEqual(native.out, js.out);
  assert.deepEqual(native.m, js.m);
  assert.deepEqual(native.v, js.v);
  assert.throws(() => addon.adamUpdate(params, grad, m0, v0, new Float32Array(3), 1, 1, 0.9, 0.999, 1e-8), /same length/);
});

test("host Adam updates a variable's storage in place only when no other tensor shares it", async () => {
  await tf.setBackend("cpu");
  const sole = makeVariables(11);
  const shared = makeVariables(11);
  const solo = newAdam(sole, 0.01, "host");
  const withClone = newAdam(shared, 0.01, "host");
  const storageBefore = sole[0]!.variable.dataSync();
  const clone = tf.clone(shared[0]!.variable); // shares the variable's storage on the cpu backend
  const cloneBefore = Float32Array.from(clone.dataSync());
  step(sole.map((e) => e.variable), (g) => solo.apply(g));
  step(shared.map((e) => e.variable), (g) => withClone.apply(g));
  // Sole owner: the same array now holds the new values. Shared: a new array, and the clone is untouched.
  assert.equal(sole[0]!.variable.dataSync(), storageBefore);
  assert.deepEqual(clone.dataSync(), cloneBefore);
  assert.notDeepEqual(shared[0]!.variable.dataSync(), cloneBefore);
  // Either way the same update.
  sole.forEach((e, i) => assert.deepEqual(e.variable.dataSync(), shared[i]!.variable.dataSync(), e.name));
  clone.dispose();
  solo.dispose();
  withClone.dispose();
  [...sole, ...shared].forEach((e) => e.variable.dispose());
});
