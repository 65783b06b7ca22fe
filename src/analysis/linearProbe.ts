import { Rng } from "../util/rng";
import { SeaError } from "../util/errors";

export interface LinearProbeOptions {
  /** Seeds the train/held-out split. */
  readonly seed: number;
  /** Fraction of rows held out for R². Default 0.25. */
  readonly holdoutFraction?: number;
  /**
   * Ridge strength relative to the inputs' scale: λ = ridge · trace(XᵀX)/dx on the centred training inputs, so
   * the same value means the same shrinkage whatever the inputs' units. Default 1e-3. 0 = ordinary least squares.
   */
  readonly ridge?: number;
}

type Values = Float32Array | Float64Array;

/**
 * How well a learned part x ([n, dx], row-major) linearly recovers a target (e.g. planted factors, [n, dt]):
 * a ridge regression with intercept (not penalised) fitted on a seeded training split, scored by R² on the
 * held-out rows, docs/method.md §10.2.
 *
 * R² is computed per target column, 1 − SS_res/SS_tot with SS_tot around the held-out mean, and averaged
 * uniformly over the columns (each planted factor counts the same, whatever its variance); columns that are
 * constant on the held-out rows are skipped (NaN if all are). Held-out R² is not clamped: it is below 0 when
 * the probe predicts worse than the held-out mean (e.g. ≈ −dx/nTrain for pure noise).
 * Everything runs in float64 JS; the normal equations are solved by Cholesky (dx is at most a few hundred).
 */
export function linearProbeR2(x: Float32Array, n: number, dx: number, target: Float32Array, dt: number, options: LinearProbeOptions): number {
  checkMatrix("x", x, n, dx);
  checkMatrix("target", target, n, dt);
  const fraction = options.holdoutFraction ?? 0.25;
  const { train, test } = holdoutSplit(n, fraction, options.seed, "linearProbe");
  return ridgeR2(
    { x: pickRows(x, dx, train), t: pickRows(target, dt, train), n: train.length },
    { x: pickRows(x, dx, test), t: pickRows(target, dt, test), n: test.length },
    dx,
    dt,
    options.ridge ?? 1e-3,
  );
}

export interface ProbeRows {
  /** [n, dx] row-major inputs */
  readonly x: Values;
  /** [n, dt] row-major targets */
  readonly t: Values;
  readonly n: number;
}

/** Fits ridge regression (with intercept) on `train`, returns the uniform mean of per-column R² on `test`. */
export function ridgeR2(train: ProbeRows, test: ProbeRows, dx: number, dt: number, ridge: number): number {
  if (!(ridge >= 0) || !Number.isFinite(ridge)) throw new SeaError(`must be a number ≥ 0 (got ${ridge})`, { where: "linearProbe.ridge" });
  const { weights, xMean, tMean } = fitRidge(train, dx, dt, ridge);
  const pred = new Float64Array(test.n * dt);
  for (let i = 0; i < test.n; i++) {
    for (let k = 0; k < dt; k++) {
      let s = tMean[k]!;
      for (let j = 0; j < dx; j++) s += (test.x[i * dx + j]! - xMean[j]!) * weights[j * dt + k]!;
      pred[i * dt + k] = s;
    }
  }
  return meanR2(test.t, pred, test.n, dt);
}

/** W = (XcᵀXc + λI)⁻¹ XcᵀTc on centred training rows; the intercept is then tMean − xMean·W. */
function fitRidge(train: ProbeRows, dx: number, dt: number, ridge: number): { weights: Float64Array; xMean: Float64Array; tMean: Float64Array } {
  const xMean = columnMeans(train.x, train.n, dx);
  const tMean = columnMeans(train.t, train.n, dt);
  const gram = new Float64Array(dx * dx);
  const cross = new Float64Array(dx * dt);
  const xc = new Float64Array(dx);
  for (let i = 0; i < train.n; i++) {
    for (let j = 0; j < dx; j++) xc[j] = train.x[i * dx + j]! - xMean[j]!;
    for (let a = 0; a < dx; a++) {
      const va = xc[a]!;
      if (va === 0) continue;
      for (let b = a; b < dx; b++) gram[a * dx + b] += va * xc[b]!;
      for (let k = 0; k < dt; k++) cross[a * dt + k] += va * (train.t[i * dt + k]! - tMean[k]!);
    }
  }
  let trace = 0;
  for (let a = 0; a < dx; a++) {
    trace += gram[a * dx + a]!;
    for (let b = 0; b < a; b++) gram[a * dx + b] = gram[b * dx + a]!;
  }
  // Relative ridge; if x is constant on the training rows (trace 0) fall back to λ = ridge so the system stays solvable.
  const lambda = ridge * (trace > 0 ? trace / dx : 1);
  for (let a = 0; a < dx; a++) gram[a * dx + a] += lambda;
  const chol = cholesky(gram, dx);
  if (!chol) {
    throw new SeaError("the inputs' Gram matrix is singular (collinear or constant columns, or fewer rows than columns); use ridge > 0", {
      where: "linearProbe.ridge",
    });
  }
  return { weights: choleskySolve(chol, cross, dx, dt), xMean, tMean };
}

/** Lower-triangular L with A = LLᵀ (row-major), or null when A is not positive definite. */
function cholesky(a: Float64Array, d: number): Float64Array | null {
  const l = new Float64Array(d * d);
  let maxDiag = 0;
  for (let i = 0; i < d; i++) maxDiag = Math.max(maxDiag, a[i * d + i]!);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * d + j]!;
      for (let k = 0; k < j; k++) s -= l[i * d + k]! * l[j * d + k]!;
      if (i === j) {
        // A pivot at rounding level relative to the largest diagonal means A is numerically singular.
        if (!(s > maxDiag * 1e-13)) return null;
        l[i * d + i] = Math.sqrt(s);
      } else {
        l[i * d + j] = s / l[j * d + j]!;
      }
    }
  }
  return l;
}

/** Solves LLᵀ W = B for W ([d, m], row-major) by forward then back substitution, column by column. */
function choleskySolve(l: Float64Array, b: Float64Array, d: number, m: number): Float64Array {
  const w = new Float64Array(d * m);
  const z = new Float64Array(d);
  for (let c = 0; c < m; c++) {
    for (let i = 0; i < d; i++) {
      let s = b[i * m + c]!;
      for (let k = 0; k < i; k++) s -= l[i * d + k]! * z[k]!;
      z[i] = s / l[i * d + i]!;
    }
    for (let i = d - 1; i >= 0; i--) {
      let s = z[i]!;
      for (let k = i + 1; k < d; k++) s -= l[k * d + i]! * w[k * m + c]!;
      w[i * m + c] = s / l[i * d + i]!;
    }
  }
  return w;
}

function meanR2(truth: Values, pred: Float64Array, n: number, dt: number): number {
  const mean = columnMeans(truth, n, dt);
  let sum = 0;
  let counted = 0;
  for (let k = 0; k < dt; k++) {
    let ssRes = 0;
    let ssTot = 0;
    for (let i = 0; i < n; i++) {
      const t = truth[i * dt + k]!;
      ssRes += (t - pred[i * dt + k]!) ** 2;
      ssTot += (t - mean[k]!) ** 2;
    }
    if (ssTot > 0) {
      sum += 1 - ssRes / ssTot;
      counted++;
    }
  }
  return counted > 0 ? sum / counted : Number.NaN;
}

function columnMeans(v: Values, n: number, d: number): Float64Array {
  const m = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) m[j] += v[i * d + j]!;
  for (let j = 0; j < d; j++) m[j] /= n;
  return m;
}

/** The rows `rows` of a row-major [*, d] matrix, as float64. */
export function pickRows(v: Values, d: number, rows: Int32Array): Float64Array {
  const out = new Float64Array(rows.length * d);
  for (let r = 0; r < rows.length; r++) {
    const src = rows[r]! * d;
    for (let j = 0; j < d; j++) out[r * d + j] = v[src + j]!;
  }
  return out;
}

/**
 * A seeded split of 0..n−1 into training and held-out rows (held out: round(n·fraction), each side ≥ 2 rows).
 * `who` names the caller in error messages.
 */
export function holdoutSplit(n: number, fraction: number, seed: number, who: string): { train: Int32Array; test: Int32Array } {
  if (!(fraction > 0 && fraction < 1)) throw new SeaError(`holdout fraction must be in (0, 1) (got ${fraction})`, { where: who });
  const nTest = Math.round(n * fraction);
  if (nTest < 2 || n - nTest < 2) {
    throw new SeaError(`${n} rows are too few to hold out a fraction ${fraction} (need ≥ 2 rows on each side)`, { where: who });
  }
  const perm = new Rng(seed).permutation(n);
  return { train: perm.slice(nTest).sort(), test: perm.slice(0, nTest).sort() };
}

/** Throws a SeaError naming the argument when a row-major matrix's length does not match [n, d]. */
export function checkMatrix(name: string, v: ArrayLike<number>, n: number, d: number): void {
  if (!Number.isInteger(n) || n < 1 || !Number.isInteger(d) || d < 1) {
    throw new SeaError(`shape [${n}, ${d}] must be positive integers`, { where: name });
  }
  if (v.length !== n * d) throw new SeaError(`has ${v.length} values, expected ${n}·${d} = ${n * d}`, { where: name });
  for (let i = 0; i < v.length; i++) {
    if (!Number.isFinite(v[i]!)) throw new SeaError(`value at row ${Math.floor(i / d)}, column ${i % d} is ${v[i]}`, { where: name });
  }
}
