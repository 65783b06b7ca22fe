/**
 * Who interacts with what: each user's interaction count (heavy-tailed above a 5-core-like floor) and that many
 * distinct items drawn with probability ∝ exp(affinity/T).
 */
import type { Rng } from "../../util/rng";
import { factorWidth, type SyntheticConfig } from "./config";

/**
 * Interactions per user: the floor plus a log-normal share of the budget above it, stochastically
 * rounded (so the total matches the target in expectation), capped at nItems.
 */
export function interactionCounts(c: SyntheticConfig, rng: Rng): Int32Array {
  const w = new Float64Array(c.nUsers);
  let sum = 0;
  for (let u = 0; u < c.nUsers; u++) sum += w[u] = Math.exp(c.perUserSigma * rng.normal());
  const extra = c.interactions - c.minPerUser * c.nUsers;
  const counts = new Int32Array(c.nUsers);
  for (let u = 0; u < c.nUsers; u++) {
    const share = (extra * w[u]!) / sum;
    counts[u] = Math.min(c.nItems, c.minPerUser + Math.floor(share + rng.next()));
  }
  return counts;
}

/**
 * Per user, `counts[u]` distinct items drawn successively with probability ∝ exp(affinity/T) among
 * the items not yet drawn. This is the same distribution as Gumbel-top-k, at one exp per item instead
 * of a random number and two logs: a draw is a binary search in the cumulative weights, an already
 * drawn item is redrawn, and after many redraws (a few items hold most of the mass) the cumulative
 * weights are rebuilt without the drawn items. Returns items per user in draw order (CSR layout by counts).
 */
export function sampleInteractions(
  c: SyntheticConfig,
  itemFactors: Float64Array,
  prefs: Float64Array,
  bias: Float64Array,
  counts: Int32Array,
  rng: Rng,
): Int32Array {
  const width = factorWidth(c);
  const n = c.nItems;
  const logits = new Float64Array(n);
  const cum = new Float64Array(n);
  const taken = new Uint8Array(n);
  let total = 0;
  for (let u = 0; u < c.nUsers; u++) total += counts[u]!;
  const out = new Int32Array(total);
  const invT = 1 / c.temperature;
  let w = 0;
  for (let u = 0; u < c.nUsers; u++) {
    const p = u * width;
    let max = -Infinity;
    for (let i = 0; i < n; i++) {
      let s = bias[i]!;
      const q = i * width;
      for (let t = 0; t < width; t++) s += prefs[p + t]! * itemFactors[q + t]!;
      s *= invT;
      logits[i] = s;
      if (s > max) max = s;
    }
    const start = w;
    buildCumulative(logits, max, taken, cum);
    let redraws = 0;
    while (w - start < counts[u]!) {
      const i = drawIndex(cum, rng);
      if (taken[i]) {
        if (++redraws > 64) {
          buildCumulative(logits, max, taken, cum);
          redraws = 0;
        }
        continue;
      }
      taken[i] = 1;
      out[w++] = i;
    }
    for (let k = start; k < w; k++) taken[out[k]!] = 0;
  }
  return out;
}

/** cum[i] = Σ_{j ≤ i} exp(logit_j − max) over items not taken. */
function buildCumulative(logits: Float64Array, max: number, taken: Uint8Array, cum: Float64Array): void {
  let s = 0;
  for (let i = 0; i < logits.length; i++) {
    if (!taken[i]) s += Math.exp(logits[i]! - max);
    cum[i] = s;
  }
}

/** Smallest i with cum[i] > U·total: item i with probability ∝ its weight. */
function drawIndex(cum: Float64Array, rng: Rng): number {
  const target = rng.next() * cum[cum.length - 1]!;
  let lo = 0;
  let hi = cum.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cum[mid]! > target) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
