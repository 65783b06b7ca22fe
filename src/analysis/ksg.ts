import { Rng, deriveSeed } from "../util/rng";
import { SeaError } from "../util/errors";
import { checkMatrix } from "./linearProbe";
import { bootstrapMean, type IntervalOptions, type MiEstimate } from "./bootstrap";

/*
 * Kraskov–Stögbauer–Grassberger MI estimator, algorithm 1, on frozen parts (row-major float matrices in, nats out).
 * It needs no training, is consistent, and is nearly unbiased at low MI in few dimensions; at high MI or in many
 * dimensions it is biased DOWN, and it can never exceed ψ(N) − ψ(k) (docs/method.md ("MI estimators") has measured numbers).
 */

export interface KsgOptions extends IntervalOptions {
  readonly seed: number;
  /** Neighbour order k. Default 3. */
  readonly k?: number;
  /** At most this many rows are used (a seeded subsample of larger inputs): cost grows as rows². Default 2000. */
  readonly maxRows?: number;
}

export interface KsgMiResult extends MiEstimate {
  /**
   * Per-row terms ψ(k) + ψ(N) − ψ(n_x,i + 1) − ψ(n_y,i + 1), one per used row, so mean(perRow) = estimate
   * (the constant ψ(k) + ψ(N) is folded in, which keeps "mean of perRow is the estimate" true for every estimator).
   */
  readonly perRow: Float64Array;
  readonly k: number;
}

const KSG_DEFAULTS = { k: 3, maxRows: 2000 };
/**
 * Jitter added to the z-scored values (units of one standard deviation). Repeated rows (or repeated values of a
 * discrete-valued column) put neighbours at distance exactly 0, and ties at the k-th distance make the strict
 * counts n_x, n_y ill-defined; noise this small breaks every tie while moving no genuine distance measurably.
 */
const JITTER = 1e-10;

/**
 * KSG estimate (algorithm 1) of I(x; y): in the joint space with the max-norm, ε_i is the distance from row i to its
 * k-th nearest neighbour; n_x,i and n_y,i count the other rows strictly within ε_i in x alone and in y alone; then
 *   I = ψ(k) + ψ(N) − mean_i [ψ(n_x,i + 1) + ψ(n_y,i + 1)].
 * Columns are z-scored first: MI does not change under per-column affine maps, but the max-norm would otherwise be
 * dominated by the widest column. The interval is bootstrapMean over perRow (neighbour counts held fixed).
 */
export function estimateKsgMi(x: Float32Array, y: Float32Array, n: number, dx: number, dy: number, options: KsgOptions): KsgMiResult {
  checkMatrix("estimateKsgMi x", x, n, dx);
  checkMatrix("estimateKsgMi y", y, n, dy);
  const k = options.k ?? KSG_DEFAULTS.k;
  const maxRows = options.maxRows ?? KSG_DEFAULTS.maxRows;
  if (!Number.isInteger(k) || k < 1) throw new SeaError(`must be an integer ≥ 1 (got ${k})`, { where: "estimateKsgMi.k" });
  if (!Number.isInteger(maxRows) || maxRows <= k) throw new SeaError(`must be an integer > k = ${k} (got ${maxRows})`, { where: "estimateKsgMi.maxRows" });
  if (n <= k) throw new SeaError(`${n} rows are too few for k = ${k} neighbours (need more than k)`, { where: "estimateKsgMi.k" });

  const rows = chooseRows(n, maxRows, deriveSeed(options.seed, 1));
  const jitter = new Rng(deriveSeed(options.seed, 2));
  const xs = zScoreRows(x, dx, rows, jitter);
  const ys = zScoreRows(y, dy, rows, jitter);
  const m = rows.length;
  const { nx, ny } = neighbourCounts(xs, ys, m, dx, dy, k);
  const constant = digamma(k) + digamma(m);
  const perRow = new Float64Array(m);
  let sum = 0;
  for (let i = 0; i < m; i++) {
    perRow[i] = constant - digamma(nx[i]! + 1) - digamma(ny[i]! + 1);
    sum += perRow[i]!;
  }
  const interval = bootstrapMean(perRow, { seed: deriveSeed(options.seed, 3), resamples: options.resamples, level: options.level });
  return { estimate: sum / m, interval: { lo: interval.lo, hi: interval.hi }, rows: m, perRow, k };
}

/** All rows 0..n−1, or a seeded sorted subsample of maxRows of them. */
function chooseRows(n: number, maxRows: number, seed: number): Int32Array {
  if (n <= maxRows) return Int32Array.from({ length: n }, (_, i) => i);
  return new Rng(seed).permutation(n).slice(0, maxRows).sort();
}

/** The chosen rows in float64, each column z-scored over them (constant columns only centred), plus jitter. */
function zScoreRows(v: Float32Array, d: number, rows: Int32Array, jitter: Rng): Float64Array {
  const m = rows.length;
  const out = new Float64Array(m * d);
  for (let r = 0; r < m; r++) for (let j = 0; j < d; j++) out[r * d + j] = v[rows[r]! * d + j]!;
  for (let j = 0; j < d; j++) {
    let mean = 0;
    for (let r = 0; r < m; r++) mean += out[r * d + j]!;
    mean /= m;
    let variance = 0;
    for (let r = 0; r < m; r++) variance += (out[r * d + j]! - mean) ** 2;
    const std = Math.sqrt(variance / m);
    const scale = std > 1e-12 * (Math.abs(mean) + 1) ? 1 / std : 1;
    for (let r = 0; r < m; r++) out[r * d + j] = (out[r * d + j]! - mean) * scale + JITTER * (2 * jitter.next() - 1);
  }
  return out;
}

/**
 * Exact brute-force neighbour search over each unordered pair once (twice in all), with no allocation per pair
 * and no m×m table. Pass 1 keeps, for every row, its k smallest joint max-norm distances max(d_x, d_y); pass 2
 * counts, for every row i, the rows strictly within ε_i in x alone and in y alone. A pair matters to row i only
 * below i's current threshold and to row j only below j's, so it is first screened against the larger of the two
 * by a scan that stops at the first coordinate difference reaching it; only the few pairs that pass (a few per
 * cent) get their exact distance. The screen is a bare comparison per coordinate, which runs about twice as fast
 * as tracking a running maximum (that branch is unpredictable). Exact distances are always the same float64 max
 * of the same |differences|, so pass 2 compares against exactly the ε_i that pass 1 found, and the neighbour that
 * sets ε_i is not counted in a marginal where its distance equals ε_i.
 * Squared-distance tricks do not apply: the max-norm is not an inner-product norm.
 */
function neighbourCounts(xs: Float64Array, ys: Float64Array, m: number, dx: number, dy: number, k: number): { nx: Int32Array; ny: Int32Array } {
  const eps = kthJointDistances(xs, ys, m, dx, dy, k);
  return { nx: countWithin(xs, m, dx, eps), ny: countWithin(ys, m, dy, eps) };
}

/** For every row, the k-th smallest joint max-norm distance to the other rows. */
function kthJointDistances(xs: Float64Array, ys: Float64Array, m: number, dx: number, dy: number, k: number): Float64Array {
  const best = new Float64Array(m * k).fill(Infinity); // row i's k smallest so far, ascending, at [i·k, i·k + k)
  for (let i = 0; i < m; i++) {
    const lastI = i * k + k - 1;
    for (let j = i + 1; j < m; j++) {
      const lastJ = j * k + k - 1;
      const limit = best[lastI]! > best[lastJ]! ? best[lastI]! : best[lastJ]!;
      if (!allBelow(xs, i * dx, j * dx, dx, limit) || !allBelow(ys, i * dy, j * dy, dy, limit)) continue;
      const ddx = maxAbsDiff(xs, i * dx, j * dx, dx);
      const ddy = maxAbsDiff(ys, i * dy, j * dy, dy);
      const dist = ddx > ddy ? ddx : ddy;
      if (dist < best[lastI]!) insertSorted(best, i * k, k, dist);
      if (dist < best[lastJ]!) insertSorted(best, j * k, k, dist);
    }
  }
  const eps = new Float64Array(m);
  for (let i = 0; i < m; i++) eps[i] = best[i * k + k - 1]!;
  return eps;
}

/** For every row i, the other rows with max-norm distance strictly below eps[i]. */
function countWithin(v: Float64Array, m: number, d: number, eps: Float64Array): Int32Array {
  const counts = new Int32Array(m);
  for (let i = 0; i < m; i++) {
    const ei = eps[i]!;
    for (let j = i + 1; j < m; j++) {
      const ej = eps[j]!;
      if (!allBelow(v, i * d, j * d, d, ei > ej ? ei : ej)) continue;
      const dist = maxAbsDiff(v, i * d, j * d, d);
      if (dist < ei) counts[i]++;
      if (dist < ej) counts[j]++;
    }
  }
  return counts;
}

/** Whether every |v[a+c] − v[b+c]| is strictly below limit (stops at the first that is not). */
function allBelow(v: Float64Array, a: number, b: number, d: number, limit: number): boolean {
  for (let c = 0; c < d; c++) if (Math.abs(v[a + c]! - v[b + c]!) >= limit) return false;
  return true;
}

/** max_c |v[a+c] − v[b+c]|, the max-norm distance between two rows. */
function maxAbsDiff(v: Float64Array, a: number, b: number, d: number): number {
  let dist = 0;
  for (let c = 0; c < d; c++) {
    const diff = Math.abs(v[a + c]! - v[b + c]!);
    if (diff > dist) dist = diff;
  }
  return dist;
}

/** Puts value into the ascending run best[start, start + k), dropping its largest element (caller ensures value < last). */
function insertSorted(best: Float64Array, start: number, k: number, value: number): void {
  let p = start + k - 1;
  while (p > start && best[p - 1]! > value) {
    best[p] = best[p - 1]!;
    p--;
  }
  best[p] = value;
}

/**
 * The digamma function ψ(x) = d/dx ln Γ(x) for x > 0: the recurrence ψ(x) = ψ(x + 1) − 1/x lifts x to ≥ 10, where
 * the asymptotic series ln x − 1/(2x) − Σ B_2j/(2j x^2j), cut after the x⁻¹⁰ term, is off by < 1e-13.
 * Non-positive or non-finite x gives NaN (not needed here; KSG only asks for integers ≥ 1).
 */
export function digamma(x: number): number {
  if (!(x > 0) || !Number.isFinite(x)) return Number.NaN;
  let shift = 0;
  while (x < 10) {
    shift -= 1 / x;
    x += 1;
  }
  const inv2 = 1 / (x * x);
  // Bernoulli-number coefficients B_2j/(2j): 1/12, −1/120, 1/252, −1/240, 1/132.
  const series = inv2 * (1 / 12 - inv2 * (1 / 120 - inv2 * (1 / 252 - inv2 * (1 / 240 - inv2 / 132))));
  return shift + Math.log(x) - 0.5 / x - series;
}
