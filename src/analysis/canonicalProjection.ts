import { SeaError } from "../util/errors";
import { symmetricEigen } from "./symmetricEigen";

/*
 * The top canonical directions of two parts (CCA), fitted on some rows and applied to others: a k-dimensional view
 * of each part that keeps the most linear dependence between them. The KSG estimator needs such a view — in 32 + 32
 * dimensions its neighbour counts carry almost no information (docs/method.md, "MI estimators") — and fitting the
 * directions on other items than those it is evaluated on keeps the choice of directions from inflating the estimate.
 * A projection cannot add information, so MI of the projections is at most MI of the parts.
 */

export interface CanonicalProjection {
  /** Directions for x [dx, k] and y [dy, k], row-major; projections are centred on the fitting rows' means. */
  readonly a: Float64Array;
  readonly b: Float64Array;
  readonly meanX: Float64Array;
  readonly meanY: Float64Array;
  /** The fitted canonical correlations of the k directions, descending. */
  readonly correlations: Float64Array;
  readonly k: number;
}

/** Relative ridge on each covariance's diagonal (keeps the whitening finite for a constant or collinear column). */
const RIDGE = 1e-6;

/**
 * Fits the top-k canonical directions on `rows` of x [n, dx] and y [n, dy]: whitening W_x = S_xx^(−½), W_y = S_yy^(−½)
 * (eigen-decompositions), then the leading eigenvectors u_i of M Mᵀ with M = W_x S_xy W_y give a_i = W_x u_i and
 * b_i = W_y M ᵀu_i / ρ_i, ρ_i² the eigenvalues.
 */
export function fitCanonicalProjection(x: Float32Array, y: Float32Array, dx: number, dy: number, rows: Int32Array, k: number): CanonicalProjection {
  if (!Number.isInteger(k) || k < 1 || k > Math.min(dx, dy)) throw new SeaError(`must be an integer in [1, min(dx, dy) = ${Math.min(dx, dy)}] (got ${k})`, { where: "fitCanonicalProjection.k" });
  if (rows.length <= dx + dy) throw new SeaError(`${rows.length} rows are too few for ${dx} + ${dy} columns`, { where: "fitCanonicalProjection rows" });
  const meanX = columnMeans(x, dx, rows);
  const meanY = columnMeans(y, dy, rows);
  const sxx = crossCovariance(x, dx, meanX, x, dx, meanX, rows);
  const syy = crossCovariance(y, dy, meanY, y, dy, meanY, rows);
  const sxy = crossCovariance(x, dx, meanX, y, dy, meanY, rows);
  const wx = inverseSquareRoot(sxx, dx);
  const wy = inverseSquareRoot(syy, dy);
  const m = multiply(multiply(wx, sxy, dx, dx, dy), wy, dx, dy, dy); // [dx, dy]
  const mmt = multiply(m, transpose(m, dx, dy), dx, dy, dx);
  const { values, vectors } = symmetricEigen(mmt, dx);
  const order = Array.from({ length: dx }, (_, i) => i).sort((p, q) => values[q]! - values[p]!).slice(0, k);
  const a = new Float64Array(dx * k);
  const b = new Float64Array(dy * k);
  const correlations = new Float64Array(k);
  const mt = transpose(m, dx, dy); // [dy, dx]
  order.forEach((col, i) => {
    const rho = Math.sqrt(Math.max(0, values[col]!));
    correlations[i] = Math.min(1, rho);
    const u = Float64Array.from({ length: dx }, (_, r) => vectors![r * dx + col]!);
    const v = multiply(mt, u, dy, dx, 1).map((t) => (rho > 1e-12 ? t / rho : 0));
    const ai = multiply(wx, u, dx, dx, 1);
    const bi = multiply(wy, v, dy, dy, 1);
    for (let r = 0; r < dx; r++) a[r * k + i] = ai[r]!;
    for (let r = 0; r < dy; r++) b[r * k + i] = bi[r]!;
  });
  return { a, b, meanX, meanY, correlations, k };
}

/** (x − mean)·a for the given rows: [rows, k] float32, row-major. */
export function projectRows(v: Float32Array, d: number, mean: Float64Array, directions: Float64Array, k: number, rows: Int32Array): Float32Array {
  const out = new Float32Array(rows.length * k);
  rows.forEach((r, i) => {
    for (let c = 0; c < k; c++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += (v[r * d + j]! - mean[j]!) * directions[j * k + c]!;
      out[i * k + c] = s;
    }
  });
  return out;
}

function columnMeans(v: Float32Array, d: number, rows: Int32Array): Float64Array {
  const mean = new Float64Array(d);
  for (const r of rows) for (let j = 0; j < d; j++) mean[j] += v[r * d + j]!;
  return mean.map((s) => s / rows.length);
}

/** (1/n) Σ_rows (p − mp)(q − mq)ᵀ, [dp, dq]. */
function crossCovariance(p: Float32Array, dp: number, mp: Float64Array, q: Float32Array, dq: number, mq: Float64Array, rows: Int32Array): Float64Array {
  const s = new Float64Array(dp * dq);
  const cp = new Float64Array(dp);
  const cq = new Float64Array(dq);
  for (const r of rows) {
    for (let a = 0; a < dp; a++) cp[a] = p[r * dp + a]! - mp[a]!;
    for (let b = 0; b < dq; b++) cq[b] = q[r * dq + b]! - mq[b]!;
    for (let a = 0; a < dp; a++) {
      const va = cp[a]!;
      for (let b = 0; b < dq; b++) s[a * dq + b] += va * cq[b]!;
    }
  }
  return s.map((t) => t / rows.length);
}

/** S^(−½) of a symmetric positive semi-definite d×d matrix, with a relative ridge on its eigenvalues. */
function inverseSquareRoot(s: Float64Array, d: number): Float64Array {
  const { values, vectors } = symmetricEigen(Float64Array.from(s), d);
  const floor = RIDGE * Math.max(1e-300, ...Array.from(values, Math.abs));
  const out = new Float64Array(d * d);
  for (let k = 0; k < d; k++) {
    const w = 1 / Math.sqrt(Math.max(values[k]!, 0) + floor);
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) out[i * d + j] += vectors![i * d + k]! * w * vectors![j * d + k]!;
  }
  return out;
}

/** p [r, inner] · q [inner, c]. */
function multiply(p: Float64Array, q: Float64Array, r: number, inner: number, c: number): Float64Array {
  const out = new Float64Array(r * c);
  for (let i = 0; i < r; i++) for (let t = 0; t < inner; t++) {
    const v = p[i * inner + t]!;
    if (v === 0) continue;
    for (let j = 0; j < c; j++) out[i * c + j] += v * q[t * c + j]!;
  }
  return out;
}

function transpose(m: Float64Array, r: number, c: number): Float64Array {
  const out = new Float64Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = m[i * c + j]!;
  return out;
}
