/**
 * The flat layout the fused CLUB kernels read (clubFit.ts, clubBound.ts, and their native twins
 * native/src/club_fit.cc, native/src/club_bound.cc): the 8 CLUB arrays in Club.variables order (mu1.w [xDim, h],
 * mu1.b [h], mu2.w [h, yDim], mu2.b [yDim], logvar1.w, logvar1.b, logvar2.w, logvar2.b), concatenated; Adam's m and
 * v share the layout.
 */

/** Number of CLUB parameters: two nets of xDim → h → yDim, each layer with a bias. */
export function clubParameterCount(xDim: number, yDim: number, hiddenUnits: number): number {
  return 2 * (xDim * hiddenUnits + hiddenUnits + hiddenUnits * yDim + yDim);
}

/** The club's 8 weight arrays (getWeights order) concatenated into one vector. */
export function flattenClubWeights(weights: readonly Float32Array[]): Float32Array {
  return concatFloat32(weights);
}

/** Splits a flat vector back into arrays shaped like `like` (copies). */
export function unflattenClubWeights(flat: Float32Array, like: readonly Float32Array[]): Float32Array[] {
  let at = 0;
  return like.map((w) => {
    const part = flat.slice(at, at + w.length);
    at += w.length;
    return part;
  });
}

export function concatFloat32(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of parts) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

/** What the fused CLUB kernels read of a Club (src/losses/club/club.ts): its sizes and its weights as arrays. */
export interface ClubNet {
  readonly xDim: number;
  readonly yDim: number;
  readonly hiddenUnits: number;
  readonly logvarScale: number;
  getWeights(): Float32Array[];
  setWeights(weights: readonly Float32Array[]): void;
}
