/**
 * Per-user ranking metrics of MMRec's full-ranking protocol (docs/method.md §9), from a user's ranked list
 * reduced to hit flags: hits[r] = 1 when the item at rank r+1 is one of the user's held-out items.
 * With R = |held-out| and h(K) = hits in the top K:
 *   Recall@K    = h(K) / R
 *   Precision@K = h(K) / K                       (K, not the list length, even if fewer items exist)
 *   NDCG@K      = DCG / IDCG, DCG = Σ_{hit at rank r ≤ K} 1/log2(r+1) (binary gains, r 1-based),
 *                 IDCG = Σ_{r=1}^{min(R,K)} 1/log2(r+1)
 *   MAP@K       = Σ_{hit at rank r ≤ K} (h(r)/r) / min(R, K)
 * A list shorter than K (fewer candidate items than K) counts its missing positions as misses.
 */

export const METRIC_NAMES = ["recall", "ndcg", "precision", "map"] as const;
export type MetricName = (typeof METRIC_NAMES)[number];
export type RankingMetrics = Record<MetricName, number>;

/** Metric key as printed and stored: "recall@10". */
export function metricKey(name: MetricName, k: number): string {
  return `${name}@${k}`;
}

/** 1/log2(r+1) for r = 1..n, index r-1: the discount of rank r. */
export function rankDiscounts(n: number): Float64Array {
  const d = new Float64Array(n);
  for (let r = 1; r <= n; r++) d[r - 1] = 1 / Math.log2(r + 1);
  return d;
}

/**
 * Writes the four metrics for every K of `ksAscending` into `out`: out[4·j + m] is metric
 * METRIC_NAMES[m] at ksAscending[j]. One pass over the first max(K) flags; allocates nothing.
 * `discounts` must come from rankDiscounts(n ≥ max K); `idcgPrefix[n]` = Σ_{r≤n} discount (n ≥ 0),
 * from idealDcgPrefix(max K).
 * `listLength` ≤ hits.length is how many ranks the list really has.
 */
export function userMetricsAtKs(
  hits: Uint8Array,
  listLength: number,
  nRelevant: number,
  ksAscending: Int32Array,
  discounts: Float64Array,
  idcgPrefix: Float64Array,
  out: Float64Array,
): void {
  let nHits = 0;
  let dcg = 0;
  let apSum = 0;
  let rank = 0; // ranks processed so far
  for (let j = 0; j < ksAscending.length; j++) {
    const k = ksAscending[j]!;
    const stop = Math.min(k, listLength);
    for (; rank < stop; rank++) {
      if (hits[rank] !== 0) {
        nHits++;
        dcg += discounts[rank]!;
        apSum += nHits / (rank + 1);
      }
    }
    const ideal = Math.min(nRelevant, k);
    const o = 4 * j;
    out[o] = nHits / nRelevant;
    out[o + 1] = dcg / idcgPrefix[ideal]!;
    out[o + 2] = nHits / k;
    out[o + 3] = apSum / ideal;
  }
}

/** Prefix sums of the rank discounts: entry n = IDCG with n relevant positions (entry 0 = 0). */
export function idealDcgPrefix(maxK: number): Float64Array {
  const d = rankDiscounts(maxK);
  const p = new Float64Array(maxK + 1);
  for (let n = 1; n <= maxK; n++) p[n] = p[n - 1]! + d[n - 1]!;
  return p;
}

/**
 * The four metrics at one K for one user (convenience; allocates). `hits` lists the ranked list's
 * hit flags best first (truthy = hit); `nRelevant` = |held-out| ≥ 1.
 */
export function rankingMetricsAtK(hits: ArrayLike<number | boolean>, nRelevant: number, k: number): RankingMetrics {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`rankingMetricsAtK: k must be a positive integer, got ${k}`);
  if (!Number.isInteger(nRelevant) || nRelevant < 1) {
    throw new RangeError(`rankingMetricsAtK: nRelevant must be a positive integer, got ${nRelevant}`);
  }
  const flags = Uint8Array.from({ length: hits.length }, (_, i) => (hits[i] ? 1 : 0));
  const out = new Float64Array(4);
  userMetricsAtKs(flags, Math.min(flags.length, k), nRelevant, Int32Array.of(k), rankDiscounts(k), idealDcgPrefix(k), out);
  return { recall: out[0]!, ndcg: out[1]!, precision: out[2]!, map: out[3]! };
}
