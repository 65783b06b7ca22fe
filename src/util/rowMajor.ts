/** Column sums of a row-major [n, w] float32 array, accumulated in float64 and rounded once per column. */
export function columnSums(x: Float32Array, n: number, w: number): Float32Array {
  const sums = new Float64Array(w);
  for (let i = 0, o = 0; i < n; i++, o += w) for (let j = 0; j < w; j++) sums[j]! += x[o + j]!;
  return Float32Array.from(sums);
}
