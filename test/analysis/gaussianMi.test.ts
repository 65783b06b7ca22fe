import { test } from "node:test";
import assert from "node:assert/strict";
import { estimateGaussianMi, gaussianMi, gaussianMiExpectedBias } from "../../src/analysis/gaussianMi";
import { symmetricEigen, symmetricEigenvalues } from "../../src/analysis/symmetricEigen";
import { Rng } from "../../src/util/rng";
import { SeaError } from "../../src/util/errors";
import { gaussianPairs, mean, rhoFor } from "./gaussianPairs";

/*
 * Tolerance for Gaussian data. E[Î] = I + B(n, dx, dy) exactly (Wishart log-determinants, gaussianMiExpectedBias),
 * so the test centres on I + B. Spread, by the delta method: each sample canonical correlation r has variance
 * ≈ (1 − ρ²)²/n and d/dr[−½ ln(1 − r²)] = r/(1 − r²), so Var Î ≈ Σρ_i²/n; at independence that vanishes and
 * the second-order term takes over (2n·Î ~ χ² with dx·dy degrees of freedom: Var ≈ dx·dy/(2n²)). Over 40 seeds the
 * measured sd was 0.047 (predicted 0.050) at 5 × 2 nats, 0.033 (0.029) at 5 × 0.2 nats and 0.0052 (0.0057) at
 * independence, n = 2000 / 500: the prediction is up to ~15% optimistic at moderate ρ, hence 5 σ.
 */
function tolerance(rhos: readonly number[], n: number): number {
  const d = rhos.length;
  return 5 * Math.sqrt(rhos.reduce((s, r) => s + r * r, 0) / n + (d * d) / (2 * n * n));
}

test("closed form from 0 to 10 nats: Î − I is within 5σ of the exact small-sample bias", () => {
  const n = 2000;
  const cases: number[][] = [
    [0, 0, 0, 0, 0],
    [rhoFor(1)],
    new Array<number>(5).fill(rhoFor(0.2)), // 1 nat over 5 pairs
    new Array<number>(5).fill(rhoFor(1)), // 5 nats
    new Array<number>(5).fill(rhoFor(2)), // 10 nats
    [rhoFor(3), rhoFor(2), rhoFor(1), 0.3, 0], // 6 + a bit, unequal pairs
  ];
  cases.forEach((rhos, c) => {
    const data = gaussianPairs(n, rhos, 40 + c);
    const r = gaussianMi(data.x, data.y, n, data.d, data.d);
    const err = r.estimate - data.truth - r.expectedBias;
    assert.ok(Math.abs(err) <= tolerance(rhos, n), `case ${c}: truth ${data.truth.toFixed(3)}, Î ${r.estimate.toFixed(3)}, bias ${r.expectedBias.toFixed(4)}, tolerance ${tolerance(rhos, n).toFixed(3)}`);
    // The det-based estimate and the canonical correlations agree, and the correlations recover the ρ_j.
    const fromCc = r.canonicalCorrelations.reduce((s, rho) => s - 0.5 * Math.log(1 - rho * rho), 0);
    assert.ok(Math.abs(fromCc - r.estimate) < 1e-8 * (1 + r.estimate), `case ${c}: ${fromCc} vs ${r.estimate}`);
    // Sample canonical correlations of pure noise spread up to ≈ (√dx + √dy)/√n (0.1 here), so ρ = 0 is recovered
    // only to that; nonzero ρ to a few (1 − ρ²)/√n.
    const noiseEdge = (2 * Math.sqrt(data.d)) / Math.sqrt(n);
    const sorted = [...rhos].sort((a, b) => b - a);
    r.canonicalCorrelations.forEach((rho, i) => assert.ok(Math.abs(rho - sorted[i]!) < 0.03 + noiseEdge, `case ${c}: ρ_${i} ${rho} vs ${sorted[i]}`));
    for (let i = 1; i < r.canonicalCorrelations.length; i++) assert.ok(r.canonicalCorrelations[i]! <= r.canonicalCorrelations[i - 1]!);
  });
});

test("at independence the estimate averages to the exact expected bias ≈ dx·dy/(2n)", () => {
  const n = 500;
  const estimates = Array.from({ length: 20 }, (_, s) => {
    const data = gaussianPairs(n, [0, 0, 0, 0], 200 + s);
    return gaussianMi(data.x, data.y, n, 4, 4).estimate;
  });
  const bias = gaussianMiExpectedBias(n, 4, 4);
  assert.ok(Math.abs(bias - 16 / (2 * n)) < 0.05 * bias, `exact ${bias} vs approximation ${16 / (2 * n)}`);
  // The mean of 20 estimates has sd √(dx·dy/2)/n/√20 ≈ 0.0013: 4 of them.
  assert.ok(Math.abs(mean(estimates) - bias) < 4 * (Math.sqrt(8) / n / Math.sqrt(20)), `mean ${mean(estimates)} vs bias ${bias}`);
  assert.ok(Number.isNaN(gaussianMiExpectedBias(8, 4, 4)), "undefined without more rows than columns");
});

test("invariant to invertible linear maps of either part (not only per-column ones)", () => {
  const n = 1000;
  const data = gaussianPairs(n, [0.9, 0.5, 0.2], 7);
  const rng = new Rng(8);
  const a = Float64Array.from({ length: 9 }, () => rng.normal()); // a random (almost surely invertible) 3×3 map
  const mapped = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 3; k++) mapped[i * 3 + j] += data.x[i * 3 + k]! * a[k * 3 + j]! + (j === 0 ? 5 : 0);
  const before = gaussianMi(data.x, data.y, n, 3, 3).estimate;
  const after = gaussianMi(mapped, data.y, n, 3, 3).estimate;
  assert.ok(Math.abs(before - after) < 1e-4, `${before} vs ${after}`);
});

test("the ridge caps exact linear dependence near ½·ln(1/(2·ridge)) nats per column pair", () => {
  const n = 500;
  const data = gaussianPairs(n, [0, 0], 9);
  for (const ridge of [1e-6, 1e-3]) {
    const e = gaussianMi(data.x, data.x, n, 2, 2, { ridge }).estimate;
    // Each pair gives ½ ln((e+λ)²/(2eλ+λ²)) for an eigenvalue e of the sample correlation (within ~0.1 of 1 here).
    const cap = 2 * 0.5 * Math.log(1 / (2 * ridge));
    assert.ok(Math.abs(e - cap) < 0.15, `ridge ${ridge}: ${e} vs ${cap}`);
  }
  assert.throws(() => gaussianMi(data.x, data.x, n, 2, 2, { ridge: 0 }), (e: unknown) => e instanceof SeaError && /gaussianMi\.ridge: .*not positive definite/.test(e.message));
});

test("estimateGaussianMi: the same estimate with a bootstrap interval around it, deterministic for a seed", () => {
  const n = 800;
  const data = gaussianPairs(n, [0.8, 0.4], 10);
  const point = gaussianMi(data.x, data.y, n, 2, 2);
  const r = estimateGaussianMi(data.x, data.y, n, 2, 2, { seed: 3, resamples: 100 });
  assert.equal(r.estimate, point.estimate);
  assert.equal(r.rows, n);
  assert.ok(r.interval.lo < r.estimate && r.estimate < r.interval.hi, JSON.stringify(r.interval));
  // The 95% interval spans about ±2σ with σ ≈ √(Σρ²/n) ≈ 0.032: a width between 2σ and 6σ.
  const width = r.interval.hi - r.interval.lo;
  assert.ok(width > 0.064 && width < 0.19, `width ${width}`);
  assert.deepEqual(estimateGaussianMi(data.x, data.y, n, 2, 2, { seed: 3, resamples: 100 }), r);
});

test("symmetricEigen recovers a known spectrum and its eigenvectors", () => {
  // A·diag(λ)·Aᵀ with A orthonormal (Gram–Schmidt on a seeded random matrix).
  const d = 6;
  const lambda = [3, -1, 0.5, 1e-3, 0, 2];
  const rng = new Rng(11);
  const q: number[][] = [];
  while (q.length < d) {
    const v = Array.from({ length: d }, () => rng.normal());
    for (const u of q) {
      const dot = v.reduce((s, x, i) => s + x * u[i]!, 0);
      v.forEach((_, i) => (v[i] = v[i]! - dot * u[i]!));
    }
    const norm = Math.hypot(...v);
    q.push(v.map((x) => x / norm));
  }
  const a = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) for (let k = 0; k < d; k++) a[i * d + j] += q[k]![i]! * lambda[k]! * q[k]![j]!;
  const got = Array.from(symmetricEigenvalues(Float64Array.from(a), d)).sort((p, r) => p - r);
  const want = [...lambda].sort((p, r) => p - r);
  got.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-12, `${got} vs ${want}`));
  // With vectors: A·v_k = λ_k·v_k for every returned pair, and the vectors are orthonormal.
  const { values, vectors } = symmetricEigen(Float64Array.from(a), d);
  for (let k = 0; k < d; k++) {
    for (let i = 0; i < d; i++) {
      let av = 0;
      for (let j = 0; j < d; j++) av += a[i * d + j]! * vectors![j * d + k]!;
      assert.ok(Math.abs(av - values[k]! * vectors![i * d + k]!) < 1e-12, `A·v = λ·v, pair ${k}, row ${i}`);
    }
    for (let l = 0; l < d; l++) {
      let dot = 0;
      for (let i = 0; i < d; i++) dot += vectors![i * d + k]! * vectors![i * d + l]!;
      assert.ok(Math.abs(dot - (k === l ? 1 : 0)) < 1e-12, `vᵀv, ${k}·${l}`);
    }
  }
});

test("bad inputs give SeaErrors that name the argument", () => {
  const x = new Float32Array(40);
  const isSea = (re: RegExp) => (e: unknown): boolean => e instanceof SeaError && re.test(e.message);
  assert.throws(() => gaussianMi(x, new Float32Array(39), 20, 2, 2), isSea(/gaussianMi y: has 39 values/));
  const withNaN = Float32Array.from(x);
  withNaN[1] = Number.NaN;
  assert.throws(() => estimateGaussianMi(withNaN, x, 20, 2, 2, { seed: 1 }), isSea(/estimateGaussianMi x: value at row 0, column 1 is NaN/));
  assert.throws(() => gaussianMi(new Float32Array(10), new Float32Array(10), 5, 2, 2), isSea(/gaussianMi n: 5 rows are too few for 2 \+ 2 columns/));
  assert.throws(() => gaussianMi(x, x, 20, 2, 2, { ridge: -1 }), isSea(/gaussianMi\.ridge/));
  assert.throws(() => estimateGaussianMi(x, x, 20, 2, 2, { seed: 1, resamples: 1 }), isSea(/bootstrapStatistic\.resamples/));
});
