/*
 * Eigen-decomposition of small symmetric matrices (d ≤ 64: covariances of projected parts) by cyclic Jacobi
 * rotations, in float64. No dependency needed at these sizes, and the result is deterministic.
 */

/**
 * Eigenvalues and (with `vectors`) eigenvectors of a symmetric d×d matrix (destroys it). Each rotation zeroes one
 * off-diagonal pair; sweeps repeat until the off-diagonal mass is negligible next to the diagonal. Quadratic
 * convergence makes ~10 sweeps plenty at d ≤ 64; the cap only guards against a pathological input. Eigenvector k
 * is column k of `vectors` (row-major d×d), unsorted, in the order of `values`.
 */
export function symmetricEigen(a: Float64Array, d: number, withVectors = true): { values: Float64Array; vectors: Float64Array | null } {
  const v = withVectors ? identity(d) : null;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    let diag = 0;
    for (let p = 0; p < d; p++) {
      diag += a[p * d + p]! * a[p * d + p]!;
      for (let q = p + 1; q < d; q++) off += a[p * d + q]! * a[p * d + q]!;
    }
    if (off <= 1e-30 * diag || off === 0) break;
    for (let p = 0; p < d; p++) for (let q = p + 1; q < d; q++) rotate(a, v, d, p, q);
  }
  return { values: Float64Array.from({ length: d }, (_, p) => a[p * d + p]!), vectors: v };
}

/** Eigenvalues of a symmetric d×d matrix (destroys it). */
export function symmetricEigenvalues(a: Float64Array, d: number): Float64Array {
  return symmetricEigen(a, d, false).values;
}

function identity(d: number): Float64Array {
  const m = new Float64Array(d * d);
  for (let i = 0; i < d; i++) m[i * d + i] = 1;
  return m;
}

/** One Jacobi rotation J in the (p, q) plane that zeroes a[p, q] (the standard stable angle): a ← Jᵀ a J, v ← v J. */
function rotate(a: Float64Array, v: Float64Array | null, d: number, p: number, q: number): void {
  const apq = a[p * d + q]!;
  if (apq === 0) return;
  const theta = (a[q * d + q]! - a[p * d + p]!) / (2 * apq);
  const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
  const c = 1 / Math.sqrt(t * t + 1);
  const s = t * c;
  for (let k = 0; k < d; k++) {
    const akp = a[k * d + p]!;
    const akq = a[k * d + q]!;
    a[k * d + p] = c * akp - s * akq;
    a[k * d + q] = s * akp + c * akq;
  }
  for (let k = 0; k < d; k++) {
    const apk = a[p * d + k]!;
    const aqk = a[q * d + k]!;
    a[p * d + k] = c * apk - s * aqk;
    a[q * d + k] = s * apk + c * aqk;
  }
  if (v) {
    for (let k = 0; k < d; k++) {
      const vkp = v[k * d + p]!;
      const vkq = v[k * d + q]!;
      v[k * d + p] = c * vkp - s * vkq;
      v[k * d + q] = s * vkp + c * vkq;
    }
  }
}
