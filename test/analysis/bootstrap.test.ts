import { test } from "node:test";
import assert from "node:assert/strict";
import { bootstrapMean, bootstrapStatistic } from "../../src/analysis/bootstrap";
import { Rng } from "../../src/util/rng";
import { SeaError } from "../../src/util/errors";
import { mean } from "./gaussianPairs";

function normalRows(n: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  return Float64Array.from({ length: n }, () => rng.normal());
}

test("bootstrapMean: contains the sample mean, deterministic for a seed, defaults 200 × 95%", () => {
  const rows = normalRows(400, 1);
  const a = bootstrapMean(rows, { seed: 7 });
  assert.ok(a.lo < mean(rows) && mean(rows) < a.hi, JSON.stringify(a));
  assert.equal(a.resamples, 200);
  assert.equal(a.level, 0.95);
  assert.deepEqual(bootstrapMean(rows, { seed: 7 }), a);
  assert.notDeepEqual(bootstrapMean(rows, { seed: 8 }), a);
  const half = bootstrapMean(rows, { seed: 7, level: 0.5 });
  assert.ok(half.hi - half.lo < a.hi - a.lo, "a 50% interval is narrower than a 95% one");
  // Width ≈ 2·1.96·s/√n (s the sample sd). With 4,000 resamples the percentile noise is ~1% of the width, so 4%
  // separates the 95% interval from a 97.5% (14% wider) or 90% (16% narrower) one.
  const s = Math.sqrt(rows.reduce((acc, v) => acc + (v - mean(rows)) ** 2, 0) / rows.length);
  const many = bootstrapMean(rows, { seed: 7, resamples: 4000 });
  const ratio = (many.hi - many.lo) / ((2 * 1.959964 * s) / Math.sqrt(rows.length));
  assert.ok(Math.abs(ratio - 1) < 0.04, `width / normal-theory width = ${ratio}`);
});

test("bootstrapMean: the width shrinks like 1/√n", () => {
  const width = (n: number): number => {
    const r = bootstrapMean(normalRows(n, 2), { seed: 3, resamples: 400 });
    return r.hi - r.lo;
  };
  const ratio = width(400) / width(6400); // √16 = 4
  assert.ok(ratio > 3.2 && ratio < 4.8, `ratio ${ratio}`);
});

test("bootstrapMean: 95% intervals cover the true mean of N(0, 1) rows about 95% of the time", () => {
  // 400 data sets of 100 rows. The percentile interval of a mean under-covers slightly at this n (it uses the
  // 1/n variance and normal rather than t quantiles: ≈ 94%; measured 0.94 over 2,000 trials). Binomial sd over
  // 400 trials: √(0.95·0.05/400) = 0.011; allow 3 of them around 0.945.
  const trials = 400;
  let covered = 0;
  for (let t = 0; t < trials; t++) {
    const r = bootstrapMean(normalRows(100, 1000 + t), { seed: t });
    if (r.lo <= 0 && 0 <= r.hi) covered++;
  }
  const coverage = covered / trials;
  assert.ok(Math.abs(coverage - 0.945) <= 3 * 0.011, `coverage ${coverage}`);
});

test("bootstrapStatistic: estimates the bias of a biased statistic and recentres the interval by it", () => {
  // The 1/n variance is biased by −σ²/n; the bootstrap estimates that as −s²/n.
  const n = 50;
  const rows = normalRows(n, 4);
  const variance = (idx: Int32Array): number => {
    let m = 0;
    for (const i of idx) m += rows[i]!;
    m /= idx.length;
    let v = 0;
    for (const i of idx) v += (rows[i]! - m) ** 2;
    return v / idx.length;
  };
  const all = Int32Array.from({ length: n }, (_, i) => i);
  const r = bootstrapStatistic(n, variance, { seed: 5, resamples: 1000 });
  const raw = bootstrapStatistic(n, variance, { seed: 5, resamples: 1000, recentre: false });
  assert.equal(r.estimate, variance(all));
  const expectedBias = -variance(all) / n;
  assert.ok(Math.abs(r.bias - expectedBias) < 0.3 * Math.abs(expectedBias), `bias ${r.bias} vs ${expectedBias}`);
  assert.ok(Math.abs(r.lo - (raw.lo - r.bias)) < 1e-12 && Math.abs(r.hi - (raw.hi - r.bias)) < 1e-12);
  assert.ok(r.lo < r.estimate && r.estimate < r.hi);
});

test("bootstrapStatistic: drops a few non-finite resamples, refuses many", () => {
  let calls = 0;
  const sometimes = (): number => (++calls % 20 === 0 ? Number.NaN : 1); // 5% of resamples degenerate
  assert.equal(bootstrapStatistic(10, sometimes, { seed: 1, resamples: 100 }).lo, 1);
  let count = 0;
  const often = (): number => (++count % 2 === 0 ? Number.NaN : 1);
  assert.throws(() => bootstrapStatistic(10, often, { seed: 1, resamples: 100 }), (e: unknown) => e instanceof SeaError && /bootstrapStatistic\.statistic/.test(e.message));
});

test("bad options give SeaErrors that name the argument", () => {
  const isSea = (re: RegExp) => (e: unknown): boolean => e instanceof SeaError && re.test(e.message);
  const rows = normalRows(10, 1);
  assert.throws(() => bootstrapMean(rows, { seed: 1, resamples: 1 }), isSea(/bootstrapMean\.resamples/));
  assert.throws(() => bootstrapMean(rows, { seed: 1, level: 1 }), isSea(/bootstrapMean\.level/));
  assert.throws(() => bootstrapMean(new Float64Array(0), { seed: 1 }), isSea(/bootstrapMean\.perRow/));
  assert.throws(() => bootstrapMean(Float64Array.from([1, Number.NaN]), { seed: 1 }), isSea(/bootstrapMean\.perRow: value at row 1 is NaN/));
  assert.throws(() => bootstrapStatistic(1, () => 0, { seed: 1 }), isSea(/bootstrapStatistic\.n/));
});
