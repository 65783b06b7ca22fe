import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { Club } from "../../src/losses/club";
import { Rng } from "../../src/util/rng";
import { SeaError } from "../../src/util/errors";
import { assertAllClose, assertClose, randomMatrix } from "./helpers";

before(async () => {
  await tf.setBackend("cpu");
});

/** q's mean and log-variance recomputed in float64 from getWeights() (order: mu1.w, mu1.b, mu2.w, mu2.b, lv1.w, lv1.b, lv2.w, lv2.b). */
function muLogvar64(w: Float32Array[], x: Float64Array, n: number, dx: number, h: number, dy: number, scale = 1): { mu: Float64Array; lv: Float64Array } {
  const layer = (input: Float64Array, inDim: number, weight: Float32Array, bias: Float32Array, outDim: number, act: (v: number) => number): Float64Array => {
    const out = new Float64Array(n * outDim);
    for (let i = 0; i < n; i++) {
      for (let o = 0; o < outDim; o++) {
        let s = bias[o]!;
        for (let k = 0; k < inDim; k++) s += input[i * inDim + k]! * weight[k * outDim + o]!;
        out[i * outDim + o] = act(s);
      }
    }
    return out;
  };
  const relu = (v: number): number => Math.max(0, v);
  const id = (v: number): number => v;
  const mu = layer(layer(x, dx, w[0]!, w[1]!, h, relu), h, w[2]!, w[3]!, dy, id);
  const lv = layer(layer(x, dx, w[4]!, w[5]!, h, relu), h, w[6]!, w[7]!, dy, (v) => scale * Math.tanh(v));
  return { mu, lv };
}

/** Per-row Σ_d [−(mu − y)²/(2 e^lv) − lv/2], with y rows taken through `rows`. */
function rowLl64(mu: Float64Array, lv: Float64Array, y: Float64Array, n: number, dy: number, rows: ArrayLike<number>): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < dy; d++) {
      const k = i * dy + d;
      out[i]! += -((mu[k]! - y[rows[i]! * dy + d]!) ** 2) / (2 * Math.exp(lv[k]!)) - lv[k]! / 2;
    }
  }
  return out;
}

const mean = (v: Float64Array): number => v.reduce((a, b) => a + b, 0) / v.length;
const identity = (n: number): Int32Array => Int32Array.from({ length: n }, (_, i) => i);

test("Club logLikelihood, learningLoss and upperBound match a float64 recomputation from getWeights", () => {
  const [n, dx, dy, hidden] = [11, 5, 3, 16];
  const rng = new Rng(10);
  let sawNegativeRaw = false;
  for (let trial = 0; trial < 6; trial++) {
    const club = new Club({ xDim: dx, yDim: dy, hidden, seed: 100 + trial });
    const x = randomMatrix(rng, n, dx);
    const y = randomMatrix(rng, n, dy);
    const perm = rng.permutation(n);
    const { ll, loss, bound, boundFromTensorPerm } = tf.tidy(() => {
      const xt = tf.tensor2d(Float32Array.from(x), [n, dx]);
      const yt = tf.tensor2d(Float32Array.from(y), [n, dy]);
      return {
        ll: club.logLikelihood(xt, yt).dataSync()[0]!,
        loss: club.learningLoss(xt, yt).dataSync()[0]!,
        bound: club.upperBound(xt, yt, perm).dataSync()[0]!,
        boundFromTensorPerm: club.upperBound(xt, yt, tf.tensor1d(perm, "int32")).dataSync()[0]!,
      };
    });
    const { mu, lv } = muLogvar64(club.getWeights(), x, n, dx, hidden / 2, dy);
    const positive = rowLl64(mu, lv, y, n, dy, identity(n));
    const negative = rowLl64(mu, lv, y, n, dy, perm);
    const raw = mean(positive) - mean(negative);
    sawNegativeRaw ||= raw < 0;
    assertClose(ll, mean(positive), "logLikelihood");
    assertClose(loss, -mean(positive), "learningLoss");
    assertClose(bound, Math.max(0, raw / 2), "upperBound (halved as in the reference, clamped at 0)", 1e-5, 1e-6);
    assert.equal(boundFromTensorPerm, bound, "a tensor permutation gives the same bound");
    club.dispose();
  }
  assert.ok(sawNegativeRaw, "at least one trial exercises the clamp at 0");
});

test("Club initialisation is seeded, PyTorch-Linear-style bounded, and names its variables with a prefix", () => {
  const a = new Club({ xDim: 6, yDim: 4, hidden: 16, seed: 5, name: "probe" });
  const b = new Club({ xDim: 6, yDim: 4, hidden: 16, seed: 5, name: "probe" });
  const c = new Club({ xDim: 6, yDim: 4, hidden: 16, seed: 6 });
  const wa = a.getWeights();
  assert.deepEqual(wa, b.getWeights(), "same seed, same weights");
  assert.notDeepEqual(wa, c.getWeights(), "different seed, different weights");
  assert.deepEqual(a.variables.map((v) => v.shape), [[6, 8], [8], [8, 4], [4], [6, 8], [8], [8, 4], [4]]);
  const fanIns = [6, 6, 8, 8, 6, 6, 8, 8];
  wa.forEach((w, i) => assert.ok(w.every((v) => Math.abs(v) <= 1 / Math.sqrt(fanIns[i]!)), `weights[${i}] within ±1/√fanIn`));
  assert.ok(a.variables.every((v) => v.name.startsWith("probe_")), a.variables.map((v) => v.name).join());
  assert.notEqual(a.variables[0]!.name, b.variables[0]!.name, "two instances never clash in tfjs's global variable registry");
  [a, b, c].forEach((club) => club.dispose());
});

test("Club setWeights restores getWeights exactly and rejects wrong counts or sizes with a SeaError", () => {
  const a = new Club({ xDim: 3, yDim: 2, hidden: 8, seed: 1 });
  const b = new Club({ xDim: 3, yDim: 2, hidden: 8, seed: 2 });
  b.setWeights(a.getWeights());
  assert.deepEqual(b.getWeights(), a.getWeights());
  assert.throws(() => b.setWeights(a.getWeights().slice(1)), (e: unknown) => e instanceof SeaError && /expected 8 CLUB weight arrays/.test(e.message));
  const bad = a.getWeights();
  bad[2] = new Float32Array(3);
  assert.throws(() => b.setWeights(bad), (e: unknown) => e instanceof SeaError && /club weights\[2\]/.test(e.message));
  a.dispose();
  b.dispose();
});

test("Club constructor and methods reject bad sizes", () => {
  assert.throws(() => new Club({ xDim: 0, yDim: 2, seed: 1 }), (e: unknown) => e instanceof SeaError && /club\.xDim/.test(e.message));
  assert.throws(() => new Club({ xDim: 2, yDim: 2, hidden: 1, seed: 1 }), (e: unknown) => e instanceof SeaError && /club\.hidden/.test(e.message));
  const club = new Club({ xDim: 2, yDim: 2, seed: 1 });
  tf.tidy(() => {
    const x = tf.zeros([4, 2]) as tf.Tensor2D;
    assert.throws(() => club.logLikelihood(x, tf.zeros([4, 3]) as tf.Tensor2D), /y must be \[4, 2\]/);
    assert.throws(() => club.upperBound(x, x, new Int32Array(3)), /permutation has 3 entries for 4 rows/);
  });
  club.dispose();
});

/** x ~ N(0, I), y = A x + 0.3·noise (strongly dependent; A fixed) or y independent of x; `seed` draws the rows. */
function pairs(n: number, d: number, dependent: boolean, seed: number): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const a = randomMatrix(new Rng(99), d, d, 1 / Math.sqrt(d));
  const rng = new Rng(seed);
  const x = randomMatrix(rng, n, d);
  const y = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += x[i * d + k]! * a[k * d + j]!;
      y[i * d + j] = dependent ? s + 0.3 * rng.normal() : rng.normal();
    }
  }
  return { x: tf.tensor2d(Float32Array.from(x), [n, d]), y: tf.tensor2d(y, [n, d]) };
}

test("Club.fit raises the log-likelihood on dependent pairs; on fresh rows the bound is large there and ≈ 0 for independent pairs", () => {
  const n = 400;
  const d = 4;
  const dep = pairs(n, d, true, 21);
  const depTest = pairs(n, d, true, 25);
  const ind = pairs(n, d, false, 22);
  // For any fixed q, the bound's expectation on fresh independent pairs is exactly 0 (y_i and y_perm(i) are then
  // exchangeable given x_i); 4,000 fresh rows bring its sampling noise to ~0.03, so 0.1 is a >3σ margin.
  const indFresh = pairs(10 * n, d, false, 24);
  const freshPerm = new Rng(26).permutation(10 * n);
  const perm = new Rng(23).permutation(n);
  const before = tf.memory().numTensors;

  const club = new Club({ xDim: d, yDim: d, hidden: 16, seed: 3 });
  const llBefore = tf.tidy(() => club.logLikelihood(dep.x, dep.y).dataSync()[0]!);
  const lastLoss = club.fit(dep.x, dep.y, { steps: 300, lr: 0.01 });
  const llAfter = tf.tidy(() => club.logLikelihood(dep.x, dep.y).dataSync()[0]!);
  // The loss returned is the one computed before the last update: close to, not equal to, the final −ll.
  assertClose(lastLoss, -llAfter, "fit returns the last loss", 0.05, 0.05);
  assert.ok(llAfter > llBefore + 2, `log-likelihood ${llBefore} → ${llAfter}`);
  const depBound = tf.tidy(() => club.upperBound(depTest.x, depTest.y, perm).dataSync()[0]!);
  assert.ok(depBound > 2, `bound on fresh dependent pairs ${depBound}`);

  const other = new Club({ xDim: d, yDim: d, hidden: 16, seed: 4 });
  const optimizer = tf.train.adam(0.01);
  other.fit(ind.x, ind.y, { steps: 100, optimizer });
  const indBound = tf.tidy(() => other.upperBound(indFresh.x, indFresh.y, freshPerm).dataSync()[0]!);
  // (Measured on the 400 rows it was fitted on, q's chance structure gives ~1 nat after 300 steps: hence fresh rows.)
  assert.ok(indBound < 0.1, `bound on fresh independent pairs ${indBound}`);

  optimizer.dispose();
  club.dispose();
  other.dispose();
  assert.equal(tf.memory().numTensors, before, "no tensors leaked by fit/evaluate/dispose");
  tf.dispose([dep.x, dep.y, depTest.x, depTest.y, ind.x, ind.y, indFresh.x, indFresh.y]);
});

test("Club with logvarScale widens the log-variance range and leaves mu unchanged", () => {
  const a = new Club({ xDim: 3, yDim: 2, hidden: 8, seed: 9 });
  const b = new Club({ xDim: 3, yDim: 2, hidden: 8, seed: 9, logvarScale: 5 });
  const x = randomMatrix(new Rng(1), 4, 3, 3);
  const [ra, rb] = tf.tidy(() => {
    const xt = tf.tensor2d(Float32Array.from(x), [4, 3]);
    return [a, b].map((c) => {
      const { mu, logvar } = c.muLogvar(xt);
      return { mu: Array.from(mu.dataSync()), lv: Array.from(logvar.dataSync()) };
    });
  });
  assertAllClose(rb!.mu, ra!.mu, "mu");
  assertAllClose(rb!.lv, ra!.lv.map((v) => 5 * v), "logvar");
  const expected = muLogvar64(b.getWeights(), x, 4, 3, 4, 2, 5);
  assertAllClose(rb!.lv, expected.lv, "logvar vs float64");
  a.dispose();
  b.dispose();
});
