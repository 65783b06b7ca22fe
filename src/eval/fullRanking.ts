/**
 * Full-ranking evaluation (MMRec's protocol, docs/method.md §9): every user with at least one held-out item
 * and at least one train item ranks all items; the user's train items are masked (−Infinity) before
 * top-K; Recall/NDCG/Precision/MAP@K (see metrics.ts) are averaged over those users.
 *
 * Users without train items are excluded (MMRec would rank for them with an untrained, unmasked
 * row; the data loader warns about them). Ranks held by masked or NaN/−Infinity-scored items —
 * they only appear when a user has fewer than K other items — never count as hits.
 *
 * Work per user: mask → partial top-max(K) (topk.ts) → hit flags → metrics for all K in one pass.
 * Score rows come in batches of users so a Clothing-size score matrix never has to exist at once.
 */
import type { Csr } from "../util/csr";
import { SeaError } from "../util/errors";
import { idealDcgPrefix, METRIC_NAMES, metricKey, rankDiscounts, userMetricsAtKs } from "./metrics";
import { TopKSelector } from "./topk";

export const DEFAULT_KS: readonly number[] = [10, 20];
export const DEFAULT_EVAL_BATCH_SIZE = 1024;

export interface FullRankingOptions {
  /** users × items interactions to mask (train split). */
  train: Csr;
  /** users × items held-out interactions (valid or test split). */
  heldOut: Csr;
  /**
   * Scores of all items for a batch of users: users.length × nItems, row-major. The returned buffer
   * is written to (train items masked) during evaluation and restored before the next batch is
   * requested, so it may be a view into a cached matrix or a buffer reused across calls.
   */
  scoreUsers: (users: Int32Array) => Float32Array;
  /** Cut-offs; default [10, 20]. */
  ks?: readonly number[];
  /** Users per scoreUsers call; default 1024. */
  batchSize?: number;
  /** Also return each evaluated user's metrics. */
  perUser?: boolean;
}

export interface EvalResult {
  /** "recall@10", "ndcg@10", "precision@10", "map@10", … averaged over the evaluated users. */
  metrics: Record<string, number>;
  /** The evaluated users, ascending. */
  users: Int32Array;
  /** Same keys as `metrics`; entry i belongs to users[i]. */
  perUser?: Record<string, Float32Array>;
  /** users.length */
  nUsers: number;
}

/** Users with ≥ 1 held-out item and ≥ 1 train item, ascending. */
export function evaluableUsers(train: Csr, heldOut: Csr): Int32Array {
  checkSameShape(train, heldOut);
  const picked: number[] = [];
  for (let u = 0; u < heldOut.nRows; u++) {
    const hasHeldOut = heldOut.indptr[u + 1]! > heldOut.indptr[u]!;
    const hasTrain = train.indptr[u + 1]! > train.indptr[u]!;
    if (hasHeldOut && hasTrain) picked.push(u);
  }
  return Int32Array.from(picked);
}

/** Evaluates a model given as a batch scoring function. */
export function evaluateFullRanking(options: FullRankingOptions): EvalResult {
  const { heldOut, perUser, ...common } = options;
  return evaluateFullRankingSplits({ ...common, splits: [{ heldOut, perUser }] })[0]!;
}

export interface MultiSplitRankingOptions extends Omit<FullRankingOptions, "heldOut" | "perUser"> {
  /** Held-out splits ranked from the same scores (e.g. valid and test), each with its own result. */
  splits: readonly { heldOut: Csr; perUser?: boolean }[];
}

/**
 * Evaluates several held-out splits against one train mask at once: every user's scores are computed and
 * their top-max(K) selected once, then matched against each split (the protocol ranks the same masked row
 * for valid and test, so this halves the scoring and selection of evaluating them one after the other).
 */
export function evaluateFullRankingSplits(options: MultiSplitRankingOptions): EvalResult[] {
  const { train, scoreUsers, splits } = options;
  const batchSize = options.batchSize ?? DEFAULT_EVAL_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new SeaError(`must be a positive integer, got ${batchSize}`, { where: "batchSize" });
  }
  const ks = options.ks ?? DEFAULT_KS;
  const splitUsers = splits.map((split) => evaluableUsers(train, split.heldOut));
  const accumulators = splits.map((split, i) => new SplitMetrics(split.heldOut, ks, splitUsers[i]!.length, split.perUser ?? false));
  const ranker = new TopRanker(train, ks);
  const users = sortedUnion(splitUsers);
  const cursor = new Int32Array(splits.length);
  const nItems = train.nCols;
  for (let b0 = 0; b0 < users.length; b0 += batchSize) {
    const batch = users.slice(b0, Math.min(b0 + batchSize, users.length));
    const block = scoreUsers(batch);
    if (block.length !== batch.length * nItems) {
      throw new SeaError(
        `returned ${block.length} scores for ${batch.length} users × ${nItems} items (expected ${batch.length * nItems})`,
        { where: "scoreUsers" },
      );
    }
    for (let i = 0; i < batch.length; i++) {
      const user = batch[i]!;
      const listLength = ranker.select(user, block, i * nItems);
      splits.forEach((_, s) => {
        if (splitUsers[s]![cursor[s]!] === user) accumulators[s]!.add(cursor[s]!++, user, ranker, listLength);
      });
    }
  }
  return accumulators.map((acc, s) => acc.result(splitUsers[s]!));
}

/** Ascending union of ascending id lists. */
function sortedUnion(lists: readonly Int32Array[]): Int32Array {
  if (lists.length === 1) return lists[0]!;
  const seen = new Set<number>();
  for (const list of lists) for (const u of list) seen.add(u);
  return Int32Array.from(seen).sort();
}

/** Evaluates a full users × items score matrix (row-major). The matrix is left unchanged. */
export function evaluateScoreMatrix(
  scores: Float32Array,
  nUsers: number,
  nItems: number,
  train: Csr,
  heldOut: Csr,
  ks: readonly number[] = DEFAULT_KS,
  options: { perUser?: boolean } = {},
): EvalResult {
  if (scores.length !== nUsers * nItems) {
    throw new SeaError(`has ${scores.length} values, expected ${nUsers} users × ${nItems} items`, { where: "scores" });
  }
  if (train.nRows !== nUsers || train.nCols !== nItems) {
    throw new SeaError(`is ${train.nRows}×${train.nCols}, scores are ${nUsers}×${nItems}`, { where: "train" });
  }
  const users = evaluableUsers(train, heldOut);
  const ranker = new TopRanker(train, ks);
  const acc = new SplitMetrics(heldOut, ks, users.length, options.perUser ?? false);
  // No batching needed: each user's row is already a contiguous slice of the matrix.
  for (let i = 0; i < users.length; i++) acc.add(i, users[i]!, ranker, ranker.select(users[i]!, scores, users[i]! * nItems));
  return acc.result(users);
}

/** Sorted, de-duplicated cut-offs; SeaError (field "ks") unless all are positive integers. */
export function normaliseKs(ks: readonly number[]): Int32Array {
  if (ks.length === 0) throw new SeaError("needs at least one cut-off", { where: "ks" });
  for (const k of ks) {
    if (!Number.isInteger(k) || k < 1) throw new SeaError(`cut-offs must be positive integers, got ${k}`, { where: "ks" });
  }
  return Int32Array.from(new Set(ks)).sort();
}

function checkSameShape(train: Csr, heldOut: Csr): void {
  if (train.nRows !== heldOut.nRows || train.nCols !== heldOut.nCols) {
    throw new SeaError(`train is ${train.nRows}×${train.nCols} but held-out is ${heldOut.nRows}×${heldOut.nCols}`, {
      where: "heldOut",
    });
  }
}

/** Per-user work and the running sums; every buffer is allocated once. */
/** A user's top-max(K) items with the user's train items masked (the ranking every split is matched against). */
class TopRanker {
  private readonly selector: TopKSelector;
  readonly top: Int32Array;
  /** finite[r] = 1 when rank r holds a real score (not a masked train item, −Infinity or NaN). */
  readonly finite: Uint8Array;
  /** Original scores of the masked train items, restored after selection. */
  private readonly saved: Float32Array;

  constructor(
    private readonly train: Csr,
    ks: readonly number[],
  ) {
    const sorted = normaliseKs(ks);
    const maxK = sorted[sorted.length - 1]!;
    this.selector = new TopKSelector(maxK);
    this.top = new Int32Array(maxK);
    this.finite = new Uint8Array(maxK);
    let longestTrainRow = 0;
    for (let u = 0; u < train.nRows; u++) {
      longestTrainRow = Math.max(longestTrainRow, train.indptr[u + 1]! - train.indptr[u]!);
    }
    this.saved = new Float32Array(longestTrainRow);
  }

  /** Ranks buf[offset .. offset + nItems) for `user`; returns the list length. buf is unchanged afterwards. */
  select(user: number, buf: Float32Array, offset: number): number {
    const { train, saved, top, finite } = this;
    const t0 = train.indptr[user]!;
    const t1 = train.indptr[user + 1]!;
    for (let t = t0; t < t1; t++) {
      const p = offset + train.indices[t]!;
      saved[t - t0] = buf[p]!;
      buf[p] = -Infinity;
    }
    const listLength = this.selector.select(buf, top, offset, train.nCols);
    // A −Infinity/NaN rank (masked train item or broken score) is never a hit.
    for (let r = 0; r < listLength; r++) finite[r] = buf[offset + top[r]!]! > -Infinity ? 1 : 0;
    for (let t = t0; t < t1; t++) buf[offset + train.indices[t]!] = saved[t - t0]!;
    return listLength;
  }
}

/** Metrics of one held-out split, summed over its users (and kept per user on request). */
class SplitMetrics {
  private readonly ks: Int32Array;
  private readonly hits: Uint8Array;
  /** marker[item] = 1 while the current user's held-out items are being matched. */
  private readonly marker: Uint8Array;
  private readonly discounts: Float64Array;
  private readonly idcgPrefix: Float64Array;
  /** userValues[4·j + m]: metric m at ks[j] for the current user. */
  private readonly userValues: Float64Array;
  private readonly sums: Float64Array;
  private readonly perUserValues: Float32Array[] | null;

  constructor(
    private readonly heldOut: Csr,
    ks: readonly number[],
    private readonly nEval: number,
    perUser: boolean,
  ) {
    this.ks = normaliseKs(ks);
    const maxK = this.ks[this.ks.length - 1]!;
    this.hits = new Uint8Array(maxK);
    this.marker = new Uint8Array(heldOut.nCols);
    this.discounts = rankDiscounts(maxK);
    this.idcgPrefix = idealDcgPrefix(maxK);
    this.userValues = new Float64Array(4 * this.ks.length);
    this.sums = new Float64Array(4 * this.ks.length);
    this.perUserValues = perUser ? Array.from({ length: 4 * this.ks.length }, () => new Float32Array(nEval)) : null;
  }

  /** Adds `user`'s ranking; `position` = index into this split's evaluated users. */
  add(position: number, user: number, ranking: TopRanker, listLength: number): void {
    const { heldOut, marker, hits } = this;
    const h0 = heldOut.indptr[user]!;
    const h1 = heldOut.indptr[user + 1]!;
    for (let t = h0; t < h1; t++) marker[heldOut.indices[t]!] = 1;
    for (let r = 0; r < listLength; r++) hits[r] = marker[ranking.top[r]!] === 1 && ranking.finite[r] === 1 ? 1 : 0;
    for (let t = h0; t < h1; t++) marker[heldOut.indices[t]!] = 0;

    const values = this.userValues;
    userMetricsAtKs(hits, listLength, h1 - h0, this.ks, this.discounts, this.idcgPrefix, values);
    const sums = this.sums;
    for (let v = 0; v < values.length; v++) sums[v]! += values[v]!;
    const perUser = this.perUserValues;
    if (perUser) for (let v = 0; v < values.length; v++) perUser[v]![position] = values[v]!;
  }

  result(users: Int32Array): EvalResult {
    if (this.nEval === 0) {
      throw new SeaError("no user has both a train item and a held-out item; nothing to evaluate", { where: "heldOut" });
    }
    const metrics: Record<string, number> = {};
    const perUser: Record<string, Float32Array> = {};
    // Keys grouped by metric (recall@10, recall@20, ndcg@10, …), the order MMRec prints them in.
    for (let m = 0; m < METRIC_NAMES.length; m++) {
      for (let j = 0; j < this.ks.length; j++) {
        const key = metricKey(METRIC_NAMES[m]!, this.ks[j]!);
        metrics[key] = this.sums[4 * j + m]! / this.nEval;
        if (this.perUserValues) perUser[key] = this.perUserValues[4 * j + m]!;
      }
    }
    const result: EvalResult = { metrics, users, nUsers: users.length };
    if (this.perUserValues) result.perUser = perUser;
    return result;
  }
}
