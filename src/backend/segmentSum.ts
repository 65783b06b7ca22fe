/**
 * out[segment(i)] += x[i] over the leading rows of x, in one pass (TF semantics: ids outside
 * [0, numSegments) are dropped). Shared by the cpu and wasm UnsortedSegmentSum kernels; `out` must be zeroed.
 * A Float64Array `out` accumulates in float64 (the cpu kernel rounds once afterwards, as tfjs does).
 */
export function addRowsBySegment(
  out: Float64Array | Float32Array | Int32Array | Uint8Array,
  x: ArrayLike<number>,
  ids: ArrayLike<number>,
  inner: number,
  numSegments: number,
): void {
  for (let i = 0; i < ids.length; i++) {
    const segment = ids[i]!;
    if (segment < 0 || segment >= numSegments) continue;
    const src = i * inner;
    const dst = segment * inner;
    for (let j = 0; j < inner; j++) out[dst + j]! += x[src + j]!;
  }
}
