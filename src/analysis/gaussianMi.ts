import { SeaError } from "../util/errors";
import { digamma } from "./ksg";
import { symmetricEigenvalues } from "./symmetricEigen";
import { type MiEstimate, type StatisticBootstrapOptions, type StatisticInterval } from "./bootstrap";
import { bootstrapScatterStatistic, centredScatter, checkPair, ckaFromScatter, joinColumns, ScatterBootstrap, type JointColumns } from "./dependence";

/*
 * Gaussian (canonical-correlation) mutual information of two representation parts: the MI of the Gaussian with the
 * same joint covariance,
 *   I_G = ½ (log det Σ_xx + log det Σ_yy − log det Σ) = −½ Σ_i log(1 − ρ_i²)   (ρ_i: canonical correlations).
 * It is exact for jointly Gaussian parts. For any other distribution with that covariance the Gaussian has the least
 * MI, so I_G is a lower bound on the population MI that measures linear dependence only; it needs no training.
 */

export interface GaussianMiOptions {
  /**
   * Added to the diagonal of the correlation matrix (columns scaled to unit variance) before the log-dets. Without
   * it, a constant column or an exact linear dependence between parts gives log det = −∞. It caps the MI of one
   * perfectly dependent pair of columns at about ½·ln(1/(2·ridge)) (6.6 nats at the default 1e-6) and moves a pair
   * with 1 − ρ² = 0.02 (≈ 2 nats) by about 1e-4 nats. Default 1e-6.
   */
  readonly ridge?: number;
}

export interface GaussianMiPoint {
  /** I_G in nats, with nothing subtracted (see expectedBias). */
  readonly estimate: number;
  /** Sample canonical correlations, descending, min(dx, dy) of them (of the ridged correlation matrix). */
  readonly canonicalCorrelations: Float64Array;
  /** E[estimate] − I_G for Gaussian data at this n, dx, dy (gaussianMiExpectedBias); ≈ dx·dy/(2n). Not subtracted. */
  readonly expectedBias: number;
  readonly rows: number;
}

/** The point estimate with its bootstrap interval over items. */
export interface GaussianMiResult extends GaussianMiPoint, MiEstimate {}

const DEFAULT_RIDGE = 1e-6;

/** I_G on all n rows, no interval (no held-out split: nothing is fitted beyond the covariance itself). */
export function gaussianMi(x: Float32Array, y: Float32Array, n: number, dx: number, dy: number, options: GaussianMiOptions = {}): GaussianMiPoint {
  return point("gaussianMi", joinColumns(x, y, n, dx, dy), checkGaussian("gaussianMi", x, y, n, dx, dy, options));
}

/**
 * I_G on all n rows with a bootstrap interval over items (the covariance recomputed on each resample from blocks
 * of items, bootstrapScatterStatistic; the interval is recentred on the estimate, see StatisticBootstrapOptions).
 */
export function estimateGaussianMi(
  x: Float32Array,
  y: Float32Array,
  n: number,
  dx: number,
  dy: number,
  options: GaussianMiOptions & StatisticBootstrapOptions,
): GaussianMiResult {
  const { joint, ridge, result } = checkedPair("estimateGaussianMi", x, y, n, dx, dy, options);
  const { lo, hi } = bootstrapScatterStatistic(joint, miOfScatter(dx, dy, ridge), options);
  return { ...result, interval: { lo, hi } };
}

/**
 * Gaussian MI and linear CKA of one pair from one joint scatter and one set of bootstrap resamples (ScatterBootstrap):
 * what estimateGaussianMi and estimateLinearCka report, for the cost of one of them. The MI panel measures both.
 */
export function estimateLinearDependence(
  x: Float32Array,
  y: Float32Array,
  n: number,
  dx: number,
  dy: number,
  options: GaussianMiOptions & StatisticBootstrapOptions,
): { gaussian: MiEstimate; cka: MiEstimate } {
  const { joint, ridge } = checkedPair("estimateLinearDependence", x, y, n, dx, dy, options);
  const resamples = new ScatterBootstrap(joint, options);
  const summary = (r: StatisticInterval): MiEstimate => ({ estimate: r.estimate, interval: { lo: r.lo, hi: r.hi }, rows: n });
  return {
    gaussian: summary(resamples.interval(miOfScatter(dx, dy, ridge))),
    cka: summary(resamples.interval((scatter) => ckaFromScatter(scatter, dx, dy))),
  };
}

/** Checks the pair and the ridge, joins the columns, and computes the point estimate (which fails loudly if not positive definite). */
function checkedPair(
  who: string,
  x: Float32Array,
  y: Float32Array,
  n: number,
  dx: number,
  dy: number,
  options: GaussianMiOptions,
): { joint: JointColumns; ridge: number; result: GaussianMiPoint } {
  const ridge = checkGaussian(who, x, y, n, dx, dy, options);
  const joint = joinColumns(x, y, n, dx, dy);
  return { joint, ridge, result: point(who, joint, ridge) };
}

function point(who: string, joint: JointColumns, ridge: number): GaussianMiPoint {
  const { n, dx, dy } = joint;
  const r = correlation(centredScatter(joint, null), dx + dy, ridge);
  const estimate = miFromCorrelation(r, dx, dy);
  if (!Number.isFinite(estimate)) {
    throw new SeaError(`the correlation matrix is not positive definite even with ridge ${ridge}; increase it`, { where: `${who}.ridge` });
  }
  return { estimate, canonicalCorrelations: canonicalCorrelations(r, dx, dy), expectedBias: gaussianMiExpectedBias(n, dx, dy), rows: n };
}

/** I_G as a statistic of a joint scatter matrix (what the bootstrap recomputes on each resample). */
function miOfScatter(dx: number, dy: number, ridge: number): (scatter: Float64Array) => number {
  return (scatter) => miFromCorrelation(correlation(scatter, dx + dy, ridge), dx, dy);
}

/**
 * The exact expected upward bias of I_G computed from n Gaussian rows, whatever their covariance: (n − 1)·S is
 * Wishart, E[log det S] − log det Σ = Σ_{i=1..d} ψ((n − i)/2) + (terms that cancel in I_G), and the three log-dets
 * combine to ½ Σ_{i=1..dy} [ψ((n − i)/2) − ψ((n − dx − i)/2)] ≈ dx·dy/(2n). (The ridge is ignored.)
 */
export function gaussianMiExpectedBias(n: number, dx: number, dy: number): number {
  if (!(n > dx + dy)) return Number.NaN;
  let bias = 0;
  for (let i = 1; i <= dy; i++) bias += digamma((n - i) / 2) - digamma((n - dx - i) / 2);
  return bias / 2;
}

/** Scatter → correlation matrix (unit diagonal) plus ridge on the diagonal; a constant column becomes a unit column. */
function correlation(s: Float64Array, d: number, ridge: number): Float64Array {
  const scale = new Float64Array(d);
  for (let j = 0; j < d; j++) scale[j] = s[j * d + j]! > 0 ? 1 / Math.sqrt(s[j * d + j]!) : 0;
  const r = new Float64Array(d * d);
  for (let a = 0; a < d; a++) {
    for (let b = 0; b < d; b++) r[a * d + b] = s[a * d + b]! * scale[a]! * scale[b]!;
    r[a * d + a] = 1 + ridge;
  }
  return r;
}

/** ½ (log det R_xx + log det R_yy − log det R); NaN when a block is not positive definite. */
function miFromCorrelation(r: Float64Array, dx: number, dy: number): number {
  const d = dx + dy;
  const xx = logDetCholesky(block(r, d, 0, dx, 0, dx), dx);
  const yy = logDetCholesky(block(r, d, dx, dy, dx, dy), dy);
  const all = logDetCholesky(Float64Array.from(r), d);
  return (xx + yy - all) / 2;
}

/** rows [r0, r0 + nr) × columns [c0, c0 + nc) of the d-wide matrix m, as a new row-major matrix. */
function block(m: Float64Array, d: number, r0: number, nr: number, c0: number, nc: number): Float64Array {
  const out = new Float64Array(nr * nc);
  for (let a = 0; a < nr; a++) for (let b = 0; b < nc; b++) out[a * nc + b] = m[(r0 + a) * d + c0 + b]!;
  return out;
}

/** In-place lower Cholesky factor of a symmetric d×d matrix (upper triangle left as is); false if not positive definite. */
function cholesky(a: Float64Array, d: number): boolean {
  for (let j = 0; j < d; j++) {
    let diag = a[j * d + j]!;
    for (let k = 0; k < j; k++) diag -= a[j * d + k]! * a[j * d + k]!;
    if (!(diag > 0)) return false;
    const l = Math.sqrt(diag);
    a[j * d + j] = l;
    for (let i = j + 1; i < d; i++) {
      let s = a[i * d + j]!;
      for (let k = 0; k < j; k++) s -= a[i * d + k]! * a[j * d + k]!;
      a[i * d + j] = s / l;
    }
  }
  return true;
}

/** log det of a symmetric positive-definite matrix (destroys it); NaN if not positive definite. */
function logDetCholesky(a: Float64Array, d: number): number {
  if (!cholesky(a, d)) return Number.NaN;
  let s = 0;
  for (let j = 0; j < d; j++) s += Math.log(a[j * d + j]!);
  return 2 * s;
}

/**
 * Canonical correlations: with R_xx = L_x L_xᵀ and R_yy = L_y L_yᵀ, the singular values of M = L_x⁻¹ R_xy L_y⁻ᵀ,
 * obtained as square roots of the eigenvalues of the smaller of MᵀM and MMᵀ (Jacobi).
 */
function canonicalCorrelations(r: Float64Array, dx: number, dy: number): Float64Array {
  const d = dx + dy;
  const lx = block(r, d, 0, dx, 0, dx);
  const ly = block(r, d, dx, dy, dx, dy);
  if (!cholesky(lx, dx) || !cholesky(ly, dy)) return new Float64Array(Math.min(dx, dy)).fill(Number.NaN);
  const m = block(r, d, 0, dx, dx, dy); // R_xy, dx×dy
  // M ← L_x⁻¹ M: forward substitution down each column.
  for (let c = 0; c < dy; c++) {
    for (let i = 0; i < dx; i++) {
      let s = m[i * dy + c]!;
      for (let k = 0; k < i; k++) s -= lx[i * dx + k]! * m[k * dy + c]!;
      m[i * dy + c] = s / lx[i * dx + i]!;
    }
  }
  // M ← M L_y⁻ᵀ: solve L_y zᵀ = rowᵀ for each row.
  for (let i = 0; i < dx; i++) {
    for (let c = 0; c < dy; c++) {
      let s = m[i * dy + c]!;
      for (let k = 0; k < c; k++) s -= ly[c * dy + k]! * m[i * dy + k]!;
      m[i * dy + c] = s / ly[c * dy + c]!;
    }
  }
  const small = Math.min(dx, dy);
  const gram = new Float64Array(small * small);
  for (let a = 0; a < small; a++) {
    for (let b = a; b < small; b++) {
      let s = 0;
      if (dy <= dx) for (let i = 0; i < dx; i++) s += m[i * dy + a]! * m[i * dy + b]!;
      else for (let c = 0; c < dy; c++) s += m[a * dy + c]! * m[b * dy + c]!;
      gram[a * small + b] = s;
      gram[b * small + a] = s;
    }
  }
  const rho = symmetricEigenvalues(gram, small).map((v) => Math.sqrt(Math.min(1, Math.max(0, v))));
  return rho.sort().reverse();
}

function checkGaussian(who: string, x: Float32Array, y: Float32Array, n: number, dx: number, dy: number, options: GaussianMiOptions): number {
  checkPair(who, x, y, n, dx, dy, 2);
  if (n <= dx + dy + 1) throw new SeaError(`${n} rows are too few for ${dx} + ${dy} columns (need more than dx + dy + 1)`, { where: `${who} n` });
  const ridge = options.ridge ?? DEFAULT_RIDGE;
  if (!(ridge >= 0) || !Number.isFinite(ridge)) throw new SeaError(`must be a number ≥ 0 (got ${ridge})`, { where: `${who}.ridge` });
  return ridge;
}

/** Another name for estimateGaussianMi (the point estimate with its bootstrap interval); kept so callers written either way compile. */
