/**
 * BPR training triples (user, positive item, negative item): one per train interaction per epoch,
 * in a random order, with the negative drawn uniformly from the items the user has not interacted
 * with in train (MMRec's sampler draws one such negative per positive).
 */
import { csrNnz, type Csr } from "../util/csr";
import type { Rng } from "../util/rng";

export interface BprTriples {
  readonly users: Int32Array;
  readonly pos: Int32Array;
  readonly neg: Int32Array;
}

/**
 * One epoch of triples. Rows of `train` must have sorted column indices (as every Csr here does).
 * Users who have every item in train have no negative to draw: their interactions are left out (they
 * carry no BPR signal), so the count is nnz(train) minus those users' interactions.
 *
 * The negative is drawn exactly uniformly from the complement without rejection loops: draw
 * r ∈ [0, nItems − |row|), then map r to the r-th item not in the sorted row by binary search (the
 * number of non-members below row[t] is row[t] − t). One random number per triple, O(log |row|) time,
 * also for users who have almost every item, where rejection sampling would loop for long.
 */
export function sampleBprTriples(train: Csr, rng: Rng): BprTriples {
  const nnz = csrNnz(train);
  const nItems = train.nCols;
  const owner = new Int32Array(nnz);
  let usable = 0;
  for (let u = 0; u < train.nRows; u++) {
    const a = train.indptr[u]!;
    const b = train.indptr[u + 1]!;
    const full = b - a >= nItems;
    for (let p = a; p < b; p++) owner[p] = full ? -1 : u;
    if (!full) usable += b - a;
  }
  const entries = new Int32Array(usable);
  for (let p = 0, w = 0; p < nnz; p++) if (owner[p]! >= 0) entries[w++] = p;
  rng.shuffle(entries);
  const users = new Int32Array(usable);
  const pos = new Int32Array(usable);
  const neg = new Int32Array(usable);
  for (let t = 0; t < usable; t++) {
    const p = entries[t]!;
    const u = owner[p]!;
    users[t] = u;
    pos[t] = train.indices[p]!;
    neg[t] = sampleNegative(train, u, rng);
  }
  return { users, pos, neg };
}

/** A uniform item not in user u's (sorted, non-full) train row. */
export function sampleNegative(train: Csr, u: number, rng: Rng): number {
  const a = train.indptr[u]!;
  const len = train.indptr[u + 1]! - a;
  const r = rng.int(train.nCols - len);
  // Largest t with row[t] − t ≤ r (−1 if none); the answer is r + t + 1.
  let lo = 0;
  let hi = len; // search over [lo, hi): first t with row[t] − t > r
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (train.indices[a + mid]! - mid <= r) lo = mid + 1;
    else hi = mid;
  }
  return r + lo;
}

/** Number of batches of at most `batchSize` triples. */
export function bprBatchCount(triples: BprTriples, batchSize: number): number {
  checkBatchSize(batchSize);
  return Math.ceil(triples.users.length / batchSize);
}

/** Batch b (0-based) as views on the epoch's arrays: triples [b·size, min(n, (b+1)·size)). */
export function bprBatch(triples: BprTriples, b: number, batchSize: number): BprTriples {
  checkBatchSize(batchSize);
  const lo = b * batchSize;
  const hi = Math.min(triples.users.length, lo + batchSize);
  if (!(b >= 0 && lo < hi)) throw new RangeError(`batch ${b} is out of range (${bprBatchCount(triples, batchSize)} batches)`);
  return { users: triples.users.subarray(lo, hi), pos: triples.pos.subarray(lo, hi), neg: triples.neg.subarray(lo, hi) };
}

/** The epoch's batches in order (the triples are already shuffled). */
export function* bprBatches(triples: BprTriples, batchSize: number): Generator<BprTriples> {
  const count = bprBatchCount(triples, batchSize);
  for (let b = 0; b < count; b++) yield bprBatch(triples, b, batchSize);
}

function checkBatchSize(batchSize: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batch size must be a positive integer, got ${batchSize}`);
}
