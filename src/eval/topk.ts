/**
 * Partial top-K selection for full-ranking evaluation: the K best entries of a score row without
 * sorting the row. A bounded min-heap of size K holds the best K seen so far; its root (the worst of
 * them) is a threshold that rejects almost every later entry with a single comparison, so a row of
 * n items costs O(n + m·log K) for m heap replacements (m ≪ n on real score rows).
 *
 * Order ("better than"): higher score first; equal scores → lower item index first. This makes the
 * result deterministic and equal to a stable full sort by descending score.
 * Masked entries carry −Infinity: they lose to every finite score, so they are only selected (lowest
 * index first) when the row has fewer than K other entries. NaN is treated as −Infinity: a broken
 * score is ranked last, never first, and never makes the comparison order inconsistent.
 */
export class TopKSelector {
  /** Item indices of the heap (min-heap under the "better than" order: root = worst kept). */
  private readonly heapIdx: Int32Array;
  /** Scores of the heap entries, NaN already replaced by −Infinity. */
  private readonly heapScore: Float64Array;

  constructor(readonly k: number) {
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`TopKSelector: k must be a positive integer, got ${k}`);
    this.heapIdx = new Int32Array(k);
    this.heapScore = new Float64Array(k);
  }

  /**
   * Selects the top min(K, length) entries of `scores[start .. start+length)` and writes their indices
   * (relative to `start`), best first, to `out[outOffset ..]`. Returns how many were written.
   * Allocates nothing.
   */
  select(scores: Float32Array, out: Int32Array, start = 0, length = scores.length - start, outOffset = 0): number {
    const n = Math.min(this.k, length);
    if (n <= 0) return 0;
    const hi = this.heapIdx;
    const hs = this.heapScore;
    // Fill: the first n entries, heapified afterwards (Floyd's bottom-up construction).
    for (let i = 0; i < n; i++) {
      const s = scores[start + i]!;
      hi[i] = i;
      hs[i] = s !== s ? -Infinity : s;
    }
    for (let p = (n >> 1) - 1; p >= 0; p--) this.siftDown(p, n);
    // Scan: entries arrive in increasing index order, so an entry tying the root has a higher index
    // than the root and is worse; a strict ">" is therefore the exact tie rule. NaN > x is false.
    const end = start + length;
    for (let p = nextAbove(scores, start + n, end, hs[0]!); p < end; p = nextAbove(scores, p + 1, end, hs[0]!)) {
      hi[0] = p - start;
      hs[0] = scores[p]!;
      this.siftDown(0, n);
    }
    // Heapsort: repeatedly move the worst remaining entry to the back → best first.
    for (let last = n - 1; last > 0; last--) {
      swap(hi, hs, 0, last);
      this.siftDown(0, last);
    }
    for (let i = 0; i < n; i++) out[outOffset + i] = hi[i]!;
    return n;
  }

  /** Restores the min-heap property below `p` within the first `size` entries. */
  private siftDown(p: number, size: number): void {
    const hi = this.heapIdx;
    const hs = this.heapScore;
    for (;;) {
      const l = 2 * p + 1;
      if (l >= size) return;
      const r = l + 1;
      let worst = l;
      if (r < size && isWorse(hs[r]!, hi[r]!, hs[l]!, hi[l]!)) worst = r;
      if (!isWorse(hs[worst]!, hi[worst]!, hs[p]!, hi[p]!)) return;
      swap(hi, hs, p, worst);
      p = worst;
    }
  }
}

/**
 * First position p in [from, end) with scores[p] > threshold, or end. Kept as a tiny separate loop:
 * it is where nearly all the time goes, and V8 compiles it to a tight compare-and-branch.
 */
function nextAbove(scores: Float32Array, from: number, end: number, threshold: number): number {
  let p = from;
  while (p < end && !(scores[p]! > threshold)) p++;
  return p;
}

/** a ranks below b: lower score, or the same score and a higher index. */
function isWorse(sa: number, ia: number, sb: number, ib: number): boolean {
  return sa < sb || (sa === sb && ia > ib);
}

function swap(hi: Int32Array, hs: Float64Array, a: number, b: number): void {
  const ti = hi[a]!;
  hi[a] = hi[b]!;
  hi[b] = ti;
  const ts = hs[a]!;
  hs[a] = hs[b]!;
  hs[b] = ts;
}

/** The top-K indices of one row, best first (length min(K, row length)). Allocates; see TopKSelector for loops. */
export function topK(scores: Float32Array, k: number): Int32Array {
  const out = new Int32Array(Math.min(k, scores.length));
  new TopKSelector(k).select(scores, out);
  return out;
}

/**
 * Top-K of every row of a row-major rows × cols block. Row r's indices (column numbers, best first)
 * are at out[r·K .. r·K + min(K, cols)); when cols < K the tail of each row's slot is filled with −1.
 */
export function topKRows(block: Float32Array, rows: number, cols: number, k: number): Int32Array {
  if (block.length !== rows * cols) throw new RangeError(`topKRows: block has ${block.length} values, expected ${rows}×${cols}`);
  const out = new Int32Array(rows * k).fill(-1);
  const selector = new TopKSelector(k);
  for (let r = 0; r < rows; r++) selector.select(block, out, r * cols, cols, r * k);
  return out;
}
