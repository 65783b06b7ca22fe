import { SeaError } from "../util/errors";
import type { PerUserMetrics } from "../eval/metricRecords";

/**
 * Paired significance tests for comparing two variants on per-user metric values (the standard
 * protocol for recommender results: each user is one paired observation). Special functions are
 * computed here in float64 (Lanczos log-gamma, continued fractions for the incomplete beta and gamma
 * functions) so the kit needs no statistics dependency.
 */

export interface TTestResult {
  /** mean(a − b) / (sd(a − b) / √n); positive when a is larger */
  t: number;
  df: number;
  /** two-sided p-value */
  p: number;
  n: number;
  meanDiff: number;
}

export interface WilcoxonResult {
  /** W⁺: sum of the ranks of |a − b| over pairs with a > b */
  W: number;
  /** W⁻: sum of the ranks over pairs with a < b */
  Wminus: number;
  /** (W⁺ − E[W⁺]) / sd(W⁺) under H0, tie-corrected; positive when a tends to be larger */
  z: number;
  /** two-sided p-value from the normal approximation */
  p: number;
  /** number of pairs ranked (without zero differences under "wilcox") */
  n: number;
}

export interface WilcoxonOptions {
  /**
   * "wilcox" (default) drops zero differences before ranking; "pratt" ranks them with the rest, then
   * drops their ranks (more conservative when many users tie, e.g. both variants score 0 on a user).
   */
  zeroMethod?: "wilcox" | "pratt";
  /** subtract 0.5 from |W⁺ − E[W⁺]| (continuity correction); default false */
  continuity?: boolean;
}

// ---------------------------------------------------------------- special functions

const LANCZOS_G = 7;
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos approximation, g = 7, ~15 significant digits; reflection below 0.5). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const z = x - 1;
  let s = LANCZOS[0]!;
  for (let i = 1; i < LANCZOS.length; i++) s += LANCZOS[i]! / (z + i);
  const t = z + LANCZOS_G + 0.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(s);
}

const EPS = 1e-15;
const TINY = 1e-300;
const MAX_ITER = 500;

/** Continued fraction of the incomplete beta function (modified Lentz's method). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < TINY) d = TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= MAX_ITER; m++) {
    const m2 = 2 * m;
    // even step
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    h *= d * c;
    // odd step
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < EPS) return h;
  }
  return h; // converged to double precision well before MAX_ITER for the arguments used here
}

/** Regularized incomplete beta function I_x(a, b), a, b > 0, x in [0, 1]. */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (!(a > 0) || !(b > 0)) throw new RangeError(`regularizedIncompleteBeta: a, b must be > 0 (got ${a}, ${b})`);
  if (Number.isNaN(x)) return NaN;
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const logFront = logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x);
  const front = Math.exp(logFront);
  // The continued fraction converges fast for x < (a+1)/(a+b+2); use the symmetry I_x(a,b) = 1 − I_{1−x}(b,a) otherwise.
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(a, b, x)) / a;
  return 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b;
}

/** Upper regularized incomplete gamma Q(a, x) = Γ(a, x) / Γ(a). */
export function regularizedGammaQ(a: number, x: number): number {
  if (!(a > 0)) throw new RangeError(`regularizedGammaQ: a must be > 0 (got ${a})`);
  if (x <= 0) return 1;
  const logFront = -x + a * Math.log(x) - logGamma(a);
  if (x < a + 1) {
    // series for P(a, x), then Q = 1 − P
    let ap = a;
    let sum = 1 / a;
    let del = sum;
    for (let n = 1; n <= MAX_ITER; n++) {
      ap += 1;
      del *= x / ap;
      sum += del;
      if (Math.abs(del) < Math.abs(sum) * EPS) break;
    }
    return 1 - sum * Math.exp(logFront);
  }
  // continued fraction for Q(a, x) (modified Lentz)
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i <= MAX_ITER; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < EPS) break;
  }
  return Math.exp(logFront) * h;
}

/** Complementary error function erfc(x) = Q(1/2, x²) for x ≥ 0; accurate in the far tail (small p). */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x >= 0) return regularizedGammaQ(0.5, x * x);
  return 2 - regularizedGammaQ(0.5, x * x);
}

/** Standard normal CDF Φ(z). */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

/** Two-sided p-value of a standard normal statistic: P(|Z| ≥ |z|). */
export function normalTwoSidedP(z: number): number {
  return erfc(Math.abs(z) / Math.SQRT2);
}

/** Two-sided p-value of Student's t: P(|T| ≥ |t|) = I_{df/(df+t²)}(df/2, 1/2). */
export function studentTTwoSidedP(t: number, df: number): number {
  if (!(df > 0)) throw new RangeError(`studentTTwoSidedP: df must be > 0 (got ${df})`);
  if (Number.isNaN(t)) return NaN;
  if (!Number.isFinite(t)) return 0;
  return regularizedIncompleteBeta(df / (df + t * t), df / 2, 0.5);
}

/** Student's t CDF P(T ≤ t). */
export function studentTCdf(t: number, df: number): number {
  const tail = studentTTwoSidedP(t, df) / 2;
  return t >= 0 ? 1 - tail : tail;
}

// ---------------------------------------------------------------- tests

function checkPaired(a: readonly number[], b: readonly number[], what: string): void {
  if (a.length !== b.length) throw new SeaError(`${what}: paired samples differ in length (${a.length} vs ${b.length})`);
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i]!) || !Number.isFinite(b[i]!)) throw new SeaError(`${what}: non-finite value at pair ${i} (${a[i]}, ${b[i]})`);
  }
}

/** Paired two-sided t-test of mean(a − b) = 0. Needs ≥ 2 pairs. */
export function pairedTTest(a: readonly number[], b: readonly number[]): TTestResult {
  checkPaired(a, b, "pairedTTest");
  const n = a.length;
  if (n < 2) throw new SeaError(`pairedTTest: needs at least 2 pairs (got ${n})`);
  let mean = 0;
  for (let i = 0; i < n; i++) mean += a[i]! - b[i]!;
  mean /= n;
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const r = a[i]! - b[i]! - mean;
    ss += r * r;
  }
  const sd = Math.sqrt(ss / (n - 1));
  const df = n - 1;
  if (sd === 0) {
    // All differences equal: no evidence either way when they are all 0, otherwise an exact shift.
    return mean === 0 ? { t: 0, df, p: 1, n, meanDiff: 0 } : { t: mean > 0 ? Infinity : -Infinity, df, p: 0, n, meanDiff: mean };
  }
  const t = mean / (sd / Math.sqrt(n));
  return { t, df, p: studentTTwoSidedP(t, df), n, meanDiff: mean };
}

/**
 * Wilcoxon signed-rank test, normal approximation, average ranks for ties with the tie-corrected
 * variance Var(W⁺) = n(n+1)(2n+1)/24 − Σ(t³ − t)/48 over tie groups of size t.
 */
export function wilcoxonSignedRank(a: readonly number[], b: readonly number[], options: WilcoxonOptions = {}): WilcoxonResult {
  checkPaired(a, b, "wilcoxonSignedRank");
  const zeroMethod = options.zeroMethod ?? "wilcox";
  let diffs: number[] = [];
  for (let i = 0; i < a.length; i++) diffs.push(a[i]! - b[i]!);
  if (zeroMethod === "wilcox") diffs = diffs.filter((d) => d !== 0);
  const n = diffs.length;
  const nZero = diffs.filter((d) => d === 0).length; // 0 under "wilcox"
  if (n - nZero === 0) return { W: 0, Wminus: 0, z: 0, p: 1, n };

  const order = diffs.map((_, i) => i).sort((i, j) => Math.abs(diffs[i]!) - Math.abs(diffs[j]!));
  const ranks = new Float64Array(n);
  let tieTerm = 0;
  for (let start = 0; start < n; ) {
    let end = start + 1;
    const v = Math.abs(diffs[order[start]!]!);
    while (end < n && Math.abs(diffs[order[end]!]!) === v) end++;
    const avgRank = (start + 1 + end) / 2; // ranks start+1 … end
    for (let k = start; k < end; k++) ranks[order[k]!] = avgRank;
    const t = end - start;
    // Zeros' ranks are dropped under "pratt", so ties among them do not change Var(W⁺).
    if (v !== 0) tieTerm += t * t * t - t;
    start = end;
  }
  let wPlus = 0;
  let wMinus = 0;
  for (let i = 0; i < n; i++) {
    if (diffs[i]! > 0) wPlus += ranks[i]!;
    else if (diffs[i]! < 0) wMinus += ranks[i]!;
  }
  // Under "pratt" the zeros' ranks (1 … nZero) are dropped, which shifts the null mean and variance.
  const mean = (n * (n + 1) - nZero * (nZero + 1)) / 4;
  const variance = (n * (n + 1) * (2 * n + 1) - nZero * (nZero + 1) * (2 * nZero + 1)) / 24 - tieTerm / 48;
  let dev = wPlus - mean;
  if (options.continuity) dev = Math.sign(dev) * Math.max(0, Math.abs(dev) - 0.5);
  const z = variance > 0 ? dev / Math.sqrt(variance) : 0;
  return { W: wPlus, Wminus: wMinus, z, p: normalTwoSidedP(z), n };
}

/** "**" for p < 0.01, "*" for p < 0.05, "" otherwise. */
export function significanceMark(p: number): "" | "*" | "**" {
  if (p < 0.01) return "**";
  if (p < 0.05) return "*";
  return "";
}

// ---------------------------------------------------------------- per-user pooling

/**
 * One value per user for `metric`, averaged over the given runs (seeds) in which the user was
 * evaluated: the seeds share the data split, so a user's mean over seeds is one paired observation.
 */
export function poolPerUser(records: readonly PerUserMetrics[], metric: string): Map<number, number> {
  const sum = new Map<number, number>();
  const count = new Map<number, number>();
  records.forEach((rec, r) => {
    const values = rec.values[metric];
    if (!values) throw new SeaError(`per-user metrics #${r} have no "${metric}" (have: ${Object.keys(rec.values).join(", ")})`);
    if (values.length !== rec.users.length) throw new SeaError(`per-user metrics #${r}: "${metric}" has ${values.length} values for ${rec.users.length} users`);
    rec.users.forEach((u, i) => {
      sum.set(u, (sum.get(u) ?? 0) + values[i]!);
      count.set(u, (count.get(u) ?? 0) + 1);
    });
  });
  const pooled = new Map<number, number>();
  for (const [u, s] of sum) pooled.set(u, s / count.get(u)!);
  return pooled;
}

/** Values of the users present in both maps, in increasing user id. */
export function pairUsers(a: ReadonlyMap<number, number>, b: ReadonlyMap<number, number>): { users: number[]; a: number[]; b: number[] } {
  const users = [...a.keys()].filter((u) => b.has(u)).sort((x, y) => x - y);
  return { users, a: users.map((u) => a.get(u)!), b: users.map((u) => b.get(u)!) };
}

export type PairedTestKind = "t" | "wilcoxon";

export interface VariantComparison {
  test: PairedTestKind;
  /** users paired */
  n: number;
  /** mean over paired users of (candidate − reference) */
  meanDiff: number;
  /** the t statistic or the Wilcoxon z */
  statistic: number;
  p: number;
  mark: "" | "*" | "**";
}

/**
 * Compares a candidate variant against a reference on per-user `metric`, each side pooled over its
 * seeds (poolPerUser), paired over the users both evaluated.
 */
export function compareVariantsPerUser(
  candidate: readonly PerUserMetrics[],
  reference: readonly PerUserMetrics[],
  metric: string,
  test: PairedTestKind = "t",
): VariantComparison {
  const paired = pairUsers(poolPerUser(candidate, metric), poolPerUser(reference, metric));
  const n = paired.users.length;
  if (n < 2) throw new SeaError(`significance on "${metric}": only ${n} user(s) evaluated by both variants`);
  let meanDiff = 0;
  for (let i = 0; i < n; i++) meanDiff += paired.a[i]! - paired.b[i]!;
  meanDiff /= n;
  if (test === "t") {
    const r = pairedTTest(paired.a, paired.b);
    return { test, n, meanDiff, statistic: r.t, p: r.p, mark: significanceMark(r.p) };
  }
  const r = wilcoxonSignedRank(paired.a, paired.b);
  return { test, n, meanDiff, statistic: r.z, p: r.p, mark: significanceMark(r.p) };
}
