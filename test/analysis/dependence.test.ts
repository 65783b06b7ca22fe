import { test } from "node:test";
import assert from "node:assert/strict";
import { bootstrapScatterStatistic, centredScatter, estimateLinearCka, estimateRbfCka, joinColumns, linearCka, rbfCka, rowCounts } from "../../src/analysis/dependence";
import { bootstrapStatistic } from "../../src/analysis/bootstrap";
import { Rng } from "../../src/util/rng";
import { SeaError } from "../../src/util/errors";
import { gaussianPairs, mean } from "./gaussianPairs";

const near = (a: number, b: number, what: string, tol: number): void => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

/** x·Q·s with Q a seeded random orthogonal d×d matrix (Gram–Schmidt) and s a scalar. */
function rotateAndScale(x: Float32Array, n: number, d: number, s: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const q: number[][] = [];
  while (q.length < d) {
    const v = Array.from({ length: d }, () => rng.normal());
    for (const u of q) {
      const dot = v.reduce((acc, x, i) => acc + x * u[i]!, 0);
      v.forEach((_, i) => (v[i] = v[i]! - dot * u[i]!));
    }
    const norm = Math.hypot(...v);
    q.push(v.map((x) => x / norm));
  }
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) for (let k = 0; k < d; k++) out[i * d + j] += s * x[i * d + k]! * q[j]![k]!;
  return out;
}

test("CKA is 1 for y = x·Q·s (orthogonal Q, scale s), linear and RBF alike, and unchanged by such maps of one side", () => {
  const n = 400;
  const { x, y } = gaussianPairs(n, [0.9, 0.5, 0.2, 0], 1);
  const rotated = rotateAndScale(x, n, 4, 3.5, 2);
  assert.ok(Math.abs(linearCka(x, rotated, n, 4, 4).estimate - 1) < 1e-6);
  assert.ok(Math.abs(rbfCka(x, rotated, n, 4, 4, { seed: 1 }).estimate - 1) < 1e-6);
  const base = linearCka(x, y, n, 4, 4).estimate;
  assert.ok(Math.abs(linearCka(rotateAndScale(x, n, 4, 0.2, 3), y, n, 4, 4).estimate - base) < 1e-6);
});

test("linear CKA ≈ Σρ_i²/d for Gaussian pairs and ≈ √(dx·dy)/n at independence, always in [0, 1]", () => {
  const n = 2000;
  const rhos = [0.9, 0.6, 0.3, 0];
  const population = rhos.reduce((s, r) => s + r * r, 0) / rhos.length; // 0.315
  const dep = gaussianPairs(n, rhos, 3);
  const c = linearCka(dep.x, dep.y, n, 4, 4).estimate;
  // Over 30 seeds the estimate had mean 0.318 and sd 0.010 here (upward bias ≈ √(dx·dy)/n = 0.002): 4 sd.
  assert.ok(Math.abs(c - population) < 0.04, `CKA ${c} vs ${population}`);
  // Independence: E ≈ √(dx·dy)/n, since ‖XᵀY‖² ≈ n·dx·dy while ‖XᵀX‖_F ≈ n√dx. Measured over 10 seeds at
  // 32 + 32 columns, n = 1000: mean 0.0314 (predicted 0.032), sd 0.0009.
  const values = Array.from({ length: 5 }, (_, s) => {
    const ind = gaussianPairs(1000, new Array<number>(32).fill(0), 10 + s);
    return linearCka(ind.x, ind.y, 1000, 32, 32).estimate;
  });
  assert.ok(Math.abs(mean(values) - 32 / 1000) < 0.004, `independent: mean CKA ${mean(values)}`);
  for (const v of [c, ...values]) assert.ok(v >= 0 && v <= 1);
  const constant = new Float32Array(n * 4).fill(2);
  assert.equal(linearCka(dep.x, constant, n, 4, 4).estimate, 0, "a constant part shares nothing");
});

test("RBF CKA sees non-linear dependence that linear CKA misses", () => {
  const n = 500;
  const rng = new Rng(4);
  const x = Float32Array.from({ length: n * 2 }, () => rng.normal());
  const y = x.map((v) => v * v + 0.1 * rng.normal()); // uncorrelated with x, yet a function of it
  const z = Float32Array.from({ length: n * 2 }, () => rng.normal());
  const linear = linearCka(x, y, n, 2, 2).estimate;
  const rbf = rbfCka(x, y, n, 2, 2, { seed: 1 }).estimate;
  const rbfIndependent = rbfCka(x, z, n, 2, 2, { seed: 1 }).estimate;
  assert.ok(linear < 0.05, `linear ${linear}`);
  assert.ok(rbfIndependent < 0.05, `RBF, independent ${rbfIndependent}`);
  assert.ok(rbf > 0.2 && rbf > 5 * rbfIndependent, `RBF ${rbf} vs independent ${rbfIndependent}`);
  assert.equal(rbfCka(x, y, n, 2, 2, { seed: 1, maxRows: 100 }).rows, 100);
});

test("the weighted scatter equals the scatter of the explicitly repeated rows (what the bootstrap relies on)", () => {
  const n = 30;
  const { x, y } = gaussianPairs(n, [0.5, 0.1], 5);
  const rows = Int32Array.from([0, 0, 3, 7, 7, 7, 12, 29, 29]);
  const viaCounts = centredScatter(joinColumns(x, y, n, 2, 2), rowCounts(rows, n));
  const pick = (v: Float32Array): Float32Array => Float32Array.from(Array.from(rows).flatMap((r) => [v[2 * r]!, v[2 * r + 1]!]));
  const explicit = centredScatter(joinColumns(pick(x), pick(y), rows.length, 2, 2), null);
  viaCounts.forEach((v, i) => assert.ok(Math.abs(v - explicit[i]!) < 1e-9, `${i}: ${v} vs ${explicit[i]}`));
});

test("estimateLinearCka / estimateRbfCka: the point estimate with an interval around it, deterministic", () => {
  const n = 600;
  const { x, y } = gaussianPairs(n, [0.7, 0.3, 0], 6);
  for (const r of [estimateLinearCka(x, y, n, 3, 3, { seed: 2, resamples: 100 }), estimateRbfCka(x, y, n, 3, 3, { seed: 2, resamples: 100, maxRows: 200 })]) {
    assert.ok(r.interval.lo < r.estimate && r.estimate < r.interval.hi, JSON.stringify(r));
    assert.ok(r.interval.hi - r.interval.lo < 0.2, JSON.stringify(r));
  }
  assert.equal(estimateLinearCka(x, y, n, 3, 3, { seed: 2, resamples: 100 }).estimate, linearCka(x, y, n, 3, 3).estimate);
  assert.deepEqual(estimateLinearCka(x, y, n, 3, 3, { seed: 2, resamples: 50 }), estimateLinearCka(x, y, n, 3, 3, { seed: 2, resamples: 50 }));
});

test("bad inputs give SeaErrors that name the argument", () => {
  const x = new Float32Array(20);
  const isSea = (re: RegExp) => (e: unknown): boolean => e instanceof SeaError && re.test(e.message);
  assert.throws(() => linearCka(x, new Float32Array(21), 10, 2, 2), isSea(/linearCka y: has 21 values/));
  const withNaN = Float32Array.from(x);
  withNaN[0] = Number.POSITIVE_INFINITY;
  assert.throws(() => estimateLinearCka(withNaN, x, 10, 2, 2, { seed: 1 }), isSea(/estimateLinearCka x: value at row 0, column 0 is Infinity/));
  assert.throws(() => linearCka(new Float32Array(2), new Float32Array(2), 1, 2, 2), isSea(/linearCka n: 1 rows are too few/));
  assert.throws(() => rbfCka(x, x, 10, 2, 2, { seed: 1, maxRows: 1 }), isSea(/rbfCka\.maxRows/));
});

test("the block bootstrap of scatter statistics varies like the item bootstrap (n = 3000, 15 items per block)", () => {
  const n = 3000;
  const { x, y } = gaussianPairs(n, [0.6, 0.3, 0.1], 12);
  const joint = joinColumns(x, y, n, 3, 3);
  const cka = (s: Float64Array): number => {
    let xx = 0, yy = 0, xy = 0;
    for (let a = 0; a < 6; a++) for (let b = 0; b < 6; b++) {
      const v = s[a * 6 + b]! ** 2;
      if (a < 3 && b < 3) xx += v;
      else if (a >= 3 && b >= 3) yy += v;
      else if (a < 3) xy += v;
    }
    return xy / Math.sqrt(xx * yy);
  };
  const blocks = bootstrapScatterStatistic(joint, cka, { seed: 3, resamples: 300 });
  const items = bootstrapStatistic(n, (rows) => cka(centredScatter(joint, rowCounts(rows, n))), { seed: 3, resamples: 300 });
  assert.equal(blocks.estimate, cka(centredScatter(joint, null)));
  near(blocks.estimate, items.estimate, "same statistic on all rows", 1e-12);
  const ratio = (blocks.hi - blocks.lo) / (items.hi - items.lo);
  // Two independent 300-resample percentile widths differ by ~10% from resampling noise alone.
  assert.ok(ratio > 0.75 && ratio < 1.33, `width ratio blocks/items ${ratio}`);
  assert.ok(blocks.lo < blocks.estimate && blocks.estimate < blocks.hi);
});
