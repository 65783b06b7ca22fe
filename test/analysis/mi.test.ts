import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { estimateClubMi, estimateInfoNceMi, MI_ESTIMATORS } from "../../src/analysis/mi";
import { holdoutSplit } from "../../src/analysis/linearProbe";
import { Rng, deriveSeed } from "../../src/util/rng";
import { SeaError } from "../../src/util/errors";

before(async () => {
  await tf.setBackend("cpu");
});

/** x, y ∈ R^d with y_j = ρ x_j + √(1−ρ²) ε_j: I(x; y) = −(d/2)·ln(1 − ρ²) nats. Scaled/shifted to check standardisation. */
function correlatedGaussians(n: number, d: number, rho: number, seed: number): { x: Float32Array; y: Float32Array; truth: number } {
  const rng = new Rng(seed);
  const x = new Float32Array(n * d);
  const y = new Float32Array(n * d);
  for (let i = 0; i < n * d; i++) {
    const xi = rng.normal();
    x[i] = 5 * xi + 2; // per-column affine maps do not change MI
    y[i] = 0.1 * (rho * xi + Math.sqrt(1 - rho * rho) * rng.normal()) - 1;
  }
  return { x, y, truth: -(d / 2) * Math.log(1 - rho * rho) };
}

function registeredVariables(): number {
  return Object.keys(tf.engine().registeredVariables).length;
}

// Small, fast settings: 1,000 rows (250 held out), a few hundred Adam steps. The estimates then carry sampling
// noise of a few hundredths of a nat (held-out means over 250 rows), hence the 0.1-nat tolerances below.
const N = 1000;
const TOLERANCE = 0.1;
const CLUB_OPTIONS = { seed: 7, steps: 200 };
const NCE_OPTIONS = { seed: 7, steps: 100, batchSize: 128 };

for (const d of [1, 4]) {
  test(`closed form, d = ${d}: CLUB ≥ true MI ≥ InfoNCE, InfoNCE ≤ log N, q's log-likelihood near the truth`, () => {
    for (const rho of [0.5, 0.8, 0.9]) {
      const { x, y, truth } = correlatedGaussians(N, d, rho, 1000 + 10 * d + Math.round(10 * rho));
      const club = estimateClubMi(x, y, N, d, d, CLUB_OPTIONS);
      const nce = estimateInfoNceMi(x, y, N, d, d, NCE_OPTIONS);
      const what = `d=${d} ρ=${rho}: truth ${truth.toFixed(3)}, CLUB ${club.upperBound.toFixed(3)}, InfoNCE ${nce.rawBound.toFixed(3)}`;
      assert.ok(club.upperBound >= truth - TOLERANCE, what);
      assert.ok(nce.lowerBound <= truth + TOLERANCE, what);
      assert.ok(nce.lowerBound <= nce.ceiling, what);
      assert.equal(nce.ceiling, Math.log(250), "N = all 250 held-out rows (fewer than the default 512)");
      // Informative, not vacuous: InfoNCE recovers at least half the truth, CLUB stays within its ideal value
      // d·ρ²/(1−ρ²) (the bound with the true conditional q) plus a margin.
      assert.ok(nce.lowerBound >= truth / 2, what);
      assert.ok(club.upperBound <= 1.2 * (d * rho * rho) / (1 - rho * rho) + TOLERANCE, what);
      // E log p(y|x) of the standardised y: −(d/2)(ln(2π(1−ρ²)) + 1); a fitted q gets close, never far above.
      const trueLl = -(d / 2) * (Math.log(2 * Math.PI * (1 - rho * rho)) + 1);
      assert.ok(club.logLikelihood <= trueLl + TOLERANCE && club.logLikelihood >= trueLl - 0.15 * d, `${what}; ll ${club.logLikelihood} vs ${trueLl}`);
    }
  });
}

test("independent parts: CLUB and InfoNCE both report ≈ 0", () => {
  const rng = new Rng(5);
  const d = 4;
  const x = Float32Array.from({ length: N * d }, () => rng.normal());
  const y = Float32Array.from({ length: N * d }, () => rng.normal());
  const club = estimateClubMi(x, y, N, d, d, CLUB_OPTIONS);
  const nce = estimateInfoNceMi(x, y, N, d, d, NCE_OPTIONS);
  assert.ok(club.upperBound < TOLERANCE, `CLUB ${club.upperBound} (raw ${club.rawBound})`);
  assert.ok(nce.lowerBound < 0.05, `InfoNCE ${nce.lowerBound} (raw ${nce.rawBound})`);
  assert.equal(club.upperBound, Math.max(0, club.rawBound));
  assert.equal(nce.lowerBound, Math.max(0, nce.rawBound));
});

test("estimators are deterministic for a seed, leak no tensors or variables, and honour evalBatchSize and a fixed tau", () => {
  const { x, y } = correlatedGaussians(300, 2, 0.8, 3);
  const tensors = tf.memory().numTensors;
  const variables = registeredVariables();
  const small = { seed: 11, steps: 20 };
  const c1 = estimateClubMi(x, y, 300, 2, 2, small);
  const c2 = estimateClubMi(x, y, 300, 2, 2, small);
  const n1 = estimateInfoNceMi(x, y, 300, 2, 2, { ...small, evalBatchSize: 32, tau: 0.3 });
  const n2 = estimateInfoNceMi(x, y, 300, 2, 2, { ...small, evalBatchSize: 32, tau: 0.3 });
  assert.deepEqual(c1, c2);
  assert.deepEqual(n1, n2);
  assert.equal(n1.evalBatchSize, 32);
  assert.equal(n1.ceiling, Math.log(32));
  const c3 = estimateClubMi(x, y, 300, 2, 2, { ...small, seed: 12 });
  assert.notEqual(c3.rawBound, c1.rawBound, "another seed, another split and start");
  assert.equal(tf.memory().numTensors, tensors, "tensors leaked");
  assert.equal(registeredVariables(), variables, "variables left registered");
});

test("zero training steps still give a defined (untrained-network) estimate", () => {
  const { x, y } = correlatedGaussians(100, 2, 0.5, 4);
  const club = estimateClubMi(x, y, 100, 2, 2, { seed: 1, steps: 0 });
  const nce = estimateInfoNceMi(x, y, 100, 2, 2, { seed: 1, steps: 0 });
  assert.ok(Number.isFinite(club.rawBound) && Number.isFinite(club.logLikelihood));
  assert.ok(Number.isFinite(nce.rawBound));
});

test("bad inputs give SeaErrors that name the argument", () => {
  const x = new Float32Array(40);
  const isSea = (re: RegExp) => (e: unknown): boolean => e instanceof SeaError && re.test(e.message);
  assert.throws(() => estimateClubMi(x, new Float32Array(39), 20, 2, 2, { seed: 1 }), isSea(/estimateClubMi y: has 39 values, expected 20·2 = 40/));
  assert.throws(() => estimateInfoNceMi(x, x, 10, 2, 2, { seed: 1 }), isSea(/estimateInfoNceMi a: has 40 values/));
  const withNaN = Float32Array.from(x);
  withNaN[5] = Number.NaN;
  assert.throws(() => estimateClubMi(withNaN, x, 20, 2, 2, { seed: 1 }), isSea(/estimateClubMi x: value at row 2, column 1 is NaN/));
  assert.throws(() => estimateClubMi(x, x, 20, 2, 2, { seed: 1, steps: -1 }), isSea(/estimateClubMi\.steps/));
  assert.throws(() => estimateInfoNceMi(x, x, 20, 2, 2, { seed: 1, tau: -1 }), isSea(/estimateInfoNceMi\.tau/));
  assert.throws(() => estimateClubMi(x, x, 20, 2, 2, { seed: 1, holdout: 1.5 }), isSea(/estimateClubMi\.holdout/));
  assert.throws(() => estimateClubMi(new Float32Array(8), new Float32Array(8), 4, 2, 2, { seed: 1 }), isSea(/too few/));
});

function meanOf(v: Float64Array): number {
  return v.reduce((a, b) => a + b, 0) / v.length;
}

test("per-row terms average to the raw bounds; estimate = rawBound with a bootstrap interval around it", () => {
  const { x, y } = correlatedGaussians(300, 2, 0.8, 21);
  const club = estimateClubMi(x, y, 300, 2, 2, { seed: 3, steps: 30 });
  // 75 held-out rows scored in batches of 32: 2 batches per shuffle, so rows are scored unequally often and the
  // per-row weighting matters.
  const nce = estimateInfoNceMi(x, y, 300, 2, 2, { seed: 3, steps: 30, evalBatchSize: 32 });
  for (const [name, r] of [["CLUB", club], ["InfoNCE", nce]] as const) {
    assert.equal(r.rows, 75, name);
    assert.equal(r.perRow.length, 75, name);
    assert.ok(Math.abs(meanOf(r.perRow) - r.rawBound) < 1e-12, `${name}: mean(perRow) ${meanOf(r.perRow)} vs rawBound ${r.rawBound}`);
    assert.equal(r.estimate, r.rawBound, name);
    assert.ok(r.interval.lo < r.estimate && r.estimate < r.interval.hi, `${name}: ${JSON.stringify(r.interval)}`);
  }
  // With N covering the held-out rows every row is scored once per shuffle, so no row has a zero contribution.
  const full = estimateInfoNceMi(x, y, 300, 2, 2, { seed: 3, steps: 30 });
  assert.ok(Math.abs(meanOf(full.perRow) - full.rawBound) < 1e-12 && full.perRow.every((v) => v !== 0));
});

test("an explicit split replaces the seeded holdout: the same split gives the same result, another split another", () => {
  const n = 300;
  const { x, y } = correlatedGaussians(n, 2, 0.7, 22);
  const seeded = holdoutSplit(n, 0.25, deriveSeed(9, 1), "test");
  const options = { seed: 9, steps: 20 };
  assert.deepEqual(estimateClubMi(x, y, n, 2, 2, { ...options, split: seeded }), estimateClubMi(x, y, n, 2, 2, options));
  assert.deepEqual(estimateInfoNceMi(x, y, n, 2, 2, { ...options, split: seeded }), estimateInfoNceMi(x, y, n, 2, 2, options));
  // Fit on the first 200 items, report on the last 100.
  const split = { train: Int32Array.from({ length: 200 }, (_, i) => i), test: Int32Array.from({ length: 100 }, (_, i) => 200 + i) };
  const own = estimateClubMi(x, y, n, 2, 2, { ...options, split });
  assert.equal(own.rows, 100);
  assert.notEqual(own.rawBound, estimateClubMi(x, y, n, 2, 2, options).rawBound);
  const isSea = (re: RegExp) => (e: unknown): boolean => e instanceof SeaError && re.test(e.message);
  const overlap = { train: split.train, test: Int32Array.from([5, 250]) };
  assert.throws(() => estimateClubMi(x, y, n, 2, 2, { ...options, split: overlap }), isSea(/estimateClubMi\.split\.test: row 5 appears twice/));
  const outside = { train: split.train, test: Int32Array.from([250, 300]) };
  assert.throws(() => estimateInfoNceMi(x, y, n, 2, 2, { ...options, split: outside }), isSea(/estimateInfoNceMi\.split\.test: row 300 is outside 0\.\.299/));
  const tiny = { train: Int32Array.from([0, 1, 2]), test: Int32Array.from([250, 251]) };
  assert.throws(() => estimateClubMi(x, y, n, 2, 2, { ...options, split: tiny }), isSea(/estimateClubMi\.split\.train: has 3 rows/));
});

test("MI_ESTIMATORS: every estimator answers the same call with { estimate, interval, rows }", () => {
  const n = 300;
  const { x, y } = correlatedGaussians(n, 2, 0.8, 23);
  const expectedRows: Record<string, number> = { club: 75, infonce: 75, ksg: n, gaussian: n, cka: n, "cka-rbf": n };
  for (const [name, estimator] of Object.entries(MI_ESTIMATORS)) {
    const r = estimator(x, y, n, 2, 2, { seed: 1, steps: 20, resamples: 30 });
    assert.deepEqual(Object.keys(r).sort(), ["estimate", "interval", "rows"], name);
    assert.ok(Number.isFinite(r.estimate) && r.interval.lo <= r.estimate && r.estimate <= r.interval.hi, `${name}: ${JSON.stringify(r)}`);
    assert.equal(r.rows, expectedRows[name], name);
  }
});
