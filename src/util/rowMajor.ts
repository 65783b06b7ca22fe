/**
 * Column sums of a row-major [n, w] float32 array into `out` (returned), accumulated in float64 over the rows in
 * order and rounded once per column. The addon's columnSums (native/src/row_ops.cc) is its twin.
 */
export function columnSums(x: Float32Array, n: number, w: number, out: Float32Array = new Float32Array(w)): Float32Array {
  const sums = new Float64Array(w);
  for (let i = 0, o = 0; i < n; i++, o += w) for (let j = 0; j < w; j++) sums[j]! += x[o + j]!;
  out.set(sums);
  return out;
}

/** The given rows of a row-major [·, d] matrix, in the given order (repeats allowed), as a new [rows.length, d] matrix. */
export function gatherRows(v: Float32Array, d: number, rows: Int32Array): Float32Array {
  const out = new Float32Array(rows.length * d);
  rows.forEach((r, i) => out.set(v.subarray(r * d, (r + 1) * d), i * d));
  return out;
}
