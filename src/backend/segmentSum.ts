/**
 * out[segment(i)] += x[i] over the leading rows of x, in one pass (TF semantics: ids outside
 * [0, numSegments) are dropped). Shared by the cpu and wasm UnsortedSegmentSum kernels; `out` must be zeroed.
 */
export function addRowsBySegment(
  out: Float32Array | Int32Array | Uint8Array,
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
