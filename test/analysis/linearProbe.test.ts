import { test } from "node:test";
import assert from "node:assert/strict";
import { linearProbeR2, ridgeR2, holdoutSplit } from "../../src/analysis/linearProbe";
import { Rng } from "../../src/util/rng";
import { SeaError } from "../../src/util/errors";

const isSea = (re: RegExp) => (e: unknown): boolean => e instanceof SeaError && re.test(e.message);

function gaussian(rng: Rng, size: number): Float32Array {
  return Float32Array.from({ length: size }, () => rng.normal());
}

test("hand-computed example: OLS and relative ridge on a 1-d input", () => {
  // Train x = 0, 1, 2 → t = 0, 1, 5: x̄ = 1, t̄ = 2, Sxx = 2, Sxt = 5.
  // OLS: slope 5/2, intercept −1/2; test x = 3, 4 → 7, 9.5 vs truth 6, 10: SS_res = 1 + 0.25 = 1.25,
  // SS_tot around the held-out mean 8 = 4 + 4 = 8, R² = 1 − 1.25/8 = 0.84375.
  const train = { x: new Float64Array([0, 1, 2]), t: new Float64Array([0, 1, 5]), n: 3 };
  const test = { x: new Float64Array([3, 4]), t: new Float64Array([6, 10]), n: 2 };
  assert.ok(Math.abs(ridgeR2(train, test, 1, 1, 0) - 0.84375) < 1e-12);
  // ridge 0.5 → λ = 0.5·trace(XᵀX)/dx = 0.5·2 = 1: slope 5/3, intercept 1/3; predictions 16/3 and 7;
  // SS_res = 4/9 + 9 = 85/9, R² = 1 − 85/72 = −13/72 (worse than predicting the held-out mean).
  assert.ok(Math.abs(ridgeR2(train, test, 1, 1, 0.5) - -13 / 72) < 1e-12);
});

test("R² ≈ 1 for an exact linear map (with intercept), averaged over target columns", () => {
  const rng = new Rng(1);
  const [n, dx, dt] = [400, 6, 3];
  const x = gaussian(rng, n * dx);
  const w = gaussian(rng, dx * dt);
  const t = new Float32Array(n * dt);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < dt; k++) {
      let s = 3 * (k + 1);
      for (let j = 0; j < dx; j++) s += x[i * dx + j]! * w[j * dt + k]!;
      t[i * dt + k] = s;
    }
  }
  const r2 = linearProbeR2(x, n, dx, t, dt, { seed: 2 });
  assert.ok(r2 > 0.9999 && r2 <= 1, `R² ${r2}`);
});

test("R² ≈ 0 (slightly negative) for a target independent of the inputs", () => {
  const rng = new Rng(3);
  const [n, dx, dt] = [2000, 5, 4];
  const r2 = linearProbeR2(gaussian(rng, n * dx), n, dx, gaussian(rng, n * dt), dt, { seed: 4 });
  // Expected ≈ −dx/nTrain ≈ −0.003, plus held-out noise of order 1/√500 per column averaged over 4 columns.
  assert.ok(Math.abs(r2) < 0.05, `R² ${r2}`);
});

test("R² of a partial recovery: t = x₁ + unit noise gives ≈ 1/2", () => {
  const rng = new Rng(5);
  const n = 4000;
  const x = gaussian(rng, n * 2);
  const t = Float32Array.from({ length: n }, (_, i) => x[i * 2]! + rng.normal());
  const r2 = linearProbeR2(x, n, 2, t, 1, { seed: 6, holdoutFraction: 0.5 });
  assert.ok(Math.abs(r2 - 0.5) < 0.05, `R² ${r2}`);
});

test("constant target columns are skipped; all constant gives NaN", () => {
  const rng = new Rng(7);
  const n = 50;
  const x = gaussian(rng, n);
  const t = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    t[i * 2] = 2 * x[i]! + 1;
    t[i * 2 + 1] = 4;
  }
  assert.ok(linearProbeR2(x, n, 1, t, 2, { seed: 1 }) > 0.999, "the constant column does not drag the mean down");
  assert.ok(Number.isNaN(linearProbeR2(x, n, 1, new Float32Array(n).fill(3), 1, { seed: 1 })));
});

test("collinear inputs: OLS (ridge 0) is refused with a SeaError, the default ridge copes", () => {
  const rng = new Rng(8);
  const n = 60;
  const x = new Float32Array(n * 2);
  const t = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    x[i * 2] = rng.normal();
    x[i * 2 + 1] = 2 * x[i * 2]!;
    t[i] = x[i * 2]!;
  }
  assert.throws(() => linearProbeR2(x, n, 2, t, 1, { seed: 1, ridge: 0 }), isSea(/linearProbe\.ridge: .*singular/));
  assert.ok(linearProbeR2(x, n, 2, t, 1, { seed: 1 }) > 0.999);
});

test("bad shapes, values and options give SeaErrors naming the argument", () => {
  const x = new Float32Array(20);
  assert.throws(() => linearProbeR2(x, 10, 2, new Float32Array(9), 1, { seed: 1 }), isSea(/target: has 9 values, expected 10·1 = 10/));
  assert.throws(() => linearProbeR2(x, 10, 3, new Float32Array(10), 1, { seed: 1 }), isSea(/^x: has 20 values/));
  const inf = Float32Array.from(x);
  inf[3] = Infinity;
  assert.throws(() => linearProbeR2(inf, 10, 2, new Float32Array(10), 1, { seed: 1 }), isSea(/x: value at row 1, column 1 is Infinity/));
  assert.throws(() => linearProbeR2(x, 10, 2, new Float32Array(10), 1, { seed: 1, holdoutFraction: 0 }), isSea(/linearProbe: holdout fraction/));
  assert.throws(() => linearProbeR2(x, 10, 2, new Float32Array(10), 1, { seed: 1, ridge: -1 }), isSea(/linearProbe\.ridge/));
  assert.throws(() => linearProbeR2(new Float32Array(3), 3, 1, new Float32Array(3), 1, { seed: 1 }), isSea(/too few/));
});

test("holdoutSplit: seeded, disjoint, covering, sized round(n·fraction)", () => {
  const a = holdoutSplit(101, 0.3, 9, "t");
  assert.deepEqual(a, holdoutSplit(101, 0.3, 9, "t"));
  assert.notDeepEqual(a.test, holdoutSplit(101, 0.3, 10, "t").test);
  assert.equal(a.test.length, 30);
  assert.deepEqual([...a.train, ...a.test].sort((p, q) => p - q), Array.from({ length: 101 }, (_, i) => i));
});
