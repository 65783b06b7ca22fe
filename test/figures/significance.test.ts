import { test } from "node:test";
import assert from "node:assert/strict";
import {
  compareVariantsPerUser,
  erfc,
  logGamma,
  normalCdf,
  pairedTTest,
  pairUsers,
  poolPerUser,
  regularizedIncompleteBeta,
  significanceMark,
  studentTCdf,
  studentTTwoSidedP,
  wilcoxonSignedRank,
} from "../../src/analysis/significance";
import { SeaError } from "../../src/util/errors";

function close(actual: number, expected: number, relTol: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= relTol * Math.abs(expected), `${what}: got ${actual}, expected ${expected}`);
}

test("logGamma matches factorials and Γ(1/2) = √π", () => {
  assert.ok(Math.abs(logGamma(1)) < 1e-13 && Math.abs(logGamma(2)) < 1e-13);
  close(logGamma(11), Math.log(3628800), 1e-13, "lnΓ(11) = ln 10!");
  close(logGamma(0.5), 0.5 * Math.log(Math.PI), 1e-13, "lnΓ(1/2)");
  close(logGamma(101), 363.73937555556347, 1e-13, "lnΓ(101) = ln 100!");
});

test("regularized incomplete beta against closed forms and reference values", () => {
  // I_0.4(2,3) = Σ_{j=2..4} C(4,j) 0.4^j 0.6^(4-j) = 0.3456 + 0.1536 + 0.0256
  close(regularizedIncompleteBeta(0.4, 2, 3), 0.5248, 1e-12, "I_0.4(2,3)");
  // I_x(1/2,1/2) = (2/π) asin(√x)
  close(regularizedIncompleteBeta(0.3, 0.5, 0.5), (2 / Math.PI) * Math.asin(Math.sqrt(0.3)), 1e-12, "arcsine law");
  close(regularizedIncompleteBeta(0.9, 5, 0.5), 0.3166429150200122, 1e-10, "I_0.9(5,1/2)");
  close(regularizedIncompleteBeta(0.3, 100, 200), 0.10884306564490986, 1e-9, "I_0.3(100,200)");
  assert.equal(regularizedIncompleteBeta(0, 2, 3), 0);
  assert.equal(regularizedIncompleteBeta(1, 2, 3), 1);
  assert.throws(() => regularizedIncompleteBeta(0.5, 0, 1), RangeError);
});

test("Student t two-sided p-values match t-table entries", () => {
  close(studentTTwoSidedP(2.0, 10), 0.07338803477074037, 1e-9, "t=2, df=10");
  close(studentTTwoSidedP(2.228138851986, 10), 0.05, 1e-9, "t_0.975(10) = 2.228");
  close(studentTTwoSidedP(2.570581835636, 5), 0.05, 1e-9, "t_0.975(5) = 2.571");
  close(studentTTwoSidedP(12.706204736, 1), 0.05, 1e-8, "t_0.975(1) = 12.706");
  close(studentTTwoSidedP(3.0, 3), 0.0576688856224373, 1e-9, "t=3, df=3");
  close(studentTTwoSidedP(6.0, 30), 1.3942768767204764e-6, 1e-7, "far tail t=6, df=30");
  close(studentTTwoSidedP(1.5, 1000), 0.13393003882208626, 1e-9, "large df ≈ normal");
  // df = 1 is the Cauchy distribution: P(T ≤ t) = 1/2 + atan(t)/π
  close(studentTCdf(0.7, 1), 0.5 + Math.atan(0.7) / Math.PI, 1e-12, "Cauchy CDF");
  close(studentTCdf(-0.7, 1), 0.5 - Math.atan(0.7) / Math.PI, 1e-12, "Cauchy CDF, negative t");
  // df = 2: P(T ≤ t) = 1/2 + t / (2√(2 + t²))
  close(studentTCdf(1.3, 2), 0.5 + 1.3 / (2 * Math.sqrt(2 + 1.3 * 1.3)), 1e-12, "df=2 closed form");
  assert.equal(studentTTwoSidedP(0, 7), 1);
  assert.equal(studentTTwoSidedP(Infinity, 7), 0);
});

test("normal CDF and erfc, including the far tail", () => {
  close(normalCdf(1.96), 0.9750021048517795, 1e-12, "Φ(1.96)");
  close(normalCdf(-4.5), 3.3976731247300535e-6, 1e-9, "Φ(-4.5)");
  close(erfc(3), 2.2090496998585445e-5, 1e-10, "erfc(3)");
  close(erfc(0.5), 0.4795001221869535, 1e-12, "erfc(0.5)");
  close(erfc(-0.5), 2 - 0.4795001221869535, 1e-12, "erfc(-0.5)");
  assert.equal(normalCdf(0), 0.5);
});

test("paired t-test on a hand-worked example", () => {
  // d = [1,2,0,3,1]: mean 1.4, squared deviations sum 5.2, sd = √1.3, t = 1.4 / (√1.3/√5) = 2.7456
  const r = pairedTTest([5, 7, 6, 9, 8], [4, 5, 6, 6, 7]);
  close(r.t, 1.4 / (Math.sqrt(1.3) / Math.sqrt(5)), 1e-12, "t");
  assert.equal(r.df, 4);
  assert.equal(r.n, 5);
  close(r.meanDiff, 1.4, 1e-12, "mean difference");
  close(r.p, 0.05160595781117475, 1e-9, "p (scipy ttest_rel)");
  const flipped = pairedTTest([4, 5, 6, 6, 7], [5, 7, 6, 9, 8]);
  close(flipped.t, -r.t, 1e-12, "antisymmetric t");
  close(flipped.p, r.p, 1e-12, "symmetric p");
});

test("paired t-test degenerate and bad input", () => {
  assert.deepEqual(pairedTTest([1, 2, 3], [1, 2, 3]), { t: 0, df: 2, p: 1, n: 3, meanDiff: 0 });
  const shift = pairedTTest([2, 3, 4], [1, 2, 3]);
  assert.equal(shift.t, Infinity);
  assert.equal(shift.p, 0);
  assert.throws(() => pairedTTest([1, 2], [1]), (e: unknown) => e instanceof SeaError && /differ in length \(2 vs 1\)/.test(e.message));
  assert.throws(() => pairedTTest([1], [2]), (e: unknown) => e instanceof SeaError && /at least 2 pairs/.test(e.message));
  assert.throws(() => pairedTTest([1, NaN], [2, 3]), (e: unknown) => e instanceof SeaError && /non-finite value at pair 1/.test(e.message));
});

test("Wilcoxon signed-rank: hand-worked example with ties and zeros", () => {
  // d = a − b = [0, 2, −2, 3, 3, 3, −1, 0, 4]. Zeros dropped ("wilcox"): n = 7.
  // |d| ranks: 1 → 1; 2, 2 → 2.5 each; 3, 3, 3 → 5 each; 4 → 7.
  // W+ = 2.5 + 3·5 + 7 = 24.5, W− = 1 + 2.5 = 3.5; E = 7·8/4 = 14;
  // Var = 7·8·15/24 − [(2³−2) + (3³−3)]/48 = 35 − 30/48 = 34.375; z = 10.5/√34.375 = 1.79089.
  const b = [5, 5, 5, 5, 5, 5, 5, 5, 5];
  const a = [5, 7, 3, 8, 8, 8, 4, 5, 9];
  const r = wilcoxonSignedRank(a, b);
  assert.equal(r.W, 24.5);
  assert.equal(r.Wminus, 3.5);
  assert.equal(r.n, 7);
  close(r.z, 10.5 / Math.sqrt(34.375), 1e-12, "z");
  close(r.p, 0.07331158795794018, 1e-9, "p (scipy wilcoxon, approx, no correction)");
  // continuity correction: |W+ − E| − 0.5 = 10
  const cc = wilcoxonSignedRank(a, b, { continuity: true });
  close(cc.z, 10 / Math.sqrt(34.375), 1e-12, "z with continuity correction");
  close(cc.p, 0.08808151166219029, 1e-9, "p with continuity correction");
  // swapping the samples swaps W+ and W− and flips z
  const sw = wilcoxonSignedRank(b, a);
  assert.equal(sw.W, 3.5);
  close(sw.z, -r.z, 1e-12, "antisymmetric z");
});

test("Wilcoxon signed-rank: Pratt zero handling", () => {
  // Pratt ranks all 9: zeros → 1.5; 1 → 3; 2,2 → 4.5; 3,3,3 → 7; 4 → 9. W+ = 4.5 + 21 + 9 = 34.5.
  // E = (9·10 − 2·3)/4 = 21; Var = (9·10·19 − 2·3·5)/24 − (6 + 24)/48 = 70 − 0.625 = 69.375.
  const r = wilcoxonSignedRank([5, 7, 3, 8, 8, 8, 4, 5, 9], [5, 5, 5, 5, 5, 5, 5, 5, 5], { zeroMethod: "pratt" });
  assert.equal(r.W, 34.5);
  assert.equal(r.Wminus, 7.5);
  close(r.z, 13.5 / Math.sqrt(69.375), 1e-12, "z");
  close(r.p, 0.10505826276004727, 1e-9, "p (scipy wilcoxon, pratt)");
});

test("Wilcoxon signed-rank: all differences zero gives p = 1", () => {
  assert.deepEqual(wilcoxonSignedRank([1, 2, 3], [1, 2, 3]), { W: 0, Wminus: 0, z: 0, p: 1, n: 0 });
});

test("significance marks", () => {
  assert.equal(significanceMark(0.2), "");
  assert.equal(significanceMark(0.05), "");
  assert.equal(significanceMark(0.049), "*");
  assert.equal(significanceMark(0.0099), "**");
});

test("per-user pooling averages a user over seeds; pairing keeps common users", () => {
  const seedA = { users: [3, 1, 2], values: { "recall@20": [0.3, 0.1, 0.2] } };
  const seedB = { users: [1, 3, 4], values: { "recall@20": [0.5, 0.1, 0.9] } };
  const pooled = poolPerUser([seedA, seedB], "recall@20");
  assert.deepEqual([...pooled.entries()].sort((x, y) => x[0] - y[0]), [
    [1, (0.1 + 0.5) / 2],
    [2, 0.2],
    [3, (0.3 + 0.1) / 2],
    [4, 0.9],
  ]);
  const paired = pairUsers(pooled, new Map([[4, 1], [1, 0], [7, 2]]));
  assert.deepEqual(paired, { users: [1, 4], a: [0.3, 0.9], b: [0, 1] });
  assert.throws(() => poolPerUser([seedA], "ndcg@20"), (e: unknown) => e instanceof SeaError && /no "ndcg@20"/.test(e.message));
});

test("compareVariantsPerUser runs the paired test on pooled users", () => {
  const cand = [{ users: [0, 1, 2, 3, 4], values: { "recall@20": [5, 7, 6, 9, 8] } }];
  const ref = [{ users: [0, 1, 2, 3, 4], values: { "recall@20": [4, 5, 6, 6, 7] } }];
  const t = compareVariantsPerUser(cand, ref, "recall@20", "t");
  close(t.p, 0.05160595781117475, 1e-9, "t-test p");
  assert.equal(t.n, 5);
  assert.equal(t.mark, "");
  const w = compareVariantsPerUser(cand, ref, "recall@20", "wilcoxon");
  assert.equal(w.test, "wilcoxon");
  assert.ok(w.p > 0 && w.p < 1);
  assert.throws(
    () => compareVariantsPerUser(cand, [{ users: [0, 9], values: { "recall@20": [1, 2] } }], "recall@20"),
    (e: unknown) => e instanceof SeaError && /only 1 user/.test(e.message),
  );
});
