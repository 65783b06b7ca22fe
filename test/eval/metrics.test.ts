import { test } from "node:test";
import assert from "node:assert/strict";
import { rankingMetricsAtK, userMetricsAtKs, rankDiscounts, idealDcgPrefix } from "../../src/eval/metrics";

const close = (actual: number, expected: number, what: string): void =>
  assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: got ${actual}, expected ${expected}`);

test("hand example 1: 5-item list, K = 3, hits at ranks 1 and 3, |held-out| = 2", () => {
  // recall    = 2/2 = 1
  // precision = 2/3
  // DCG  = 1/log2(2) + 1/log2(4) = 1 + 0.5 = 1.5
  // IDCG = over min(2, 3) = 2 positions: 1/log2(2) + 1/log2(3) = 1 + 0.6309297535714575 = 1.6309297535714575
  // NDCG = 1.5 / 1.6309297535714575 = 0.9197207891481876
  // MAP  = (P@1 + P@3) / min(2, 3) = (1/1 + 2/3) / 2 = 0.8333333333333334
  // (rank 5 is a hit too but lies beyond K)
  const m = rankingMetricsAtK([1, 0, 1, 0, 1], 2, 3);
  close(m.recall, 1, "recall");
  close(m.precision, 2 / 3, "precision");
  close(m.ndcg, 0.9197207891481876, "ndcg");
  close(m.map, 0.8333333333333334, "map");
});

test("hand example 2: K = 3, hits at ranks 2 and 3, |held-out| = 4 (more relevant than K)", () => {
  // recall    = 2/4 = 0.5
  // precision = 2/3
  // DCG  = 1/log2(3) + 1/log2(4) = 0.6309297535714575 + 0.5 = 1.1309297535714575
  // IDCG = over min(4, 3) = 3 positions: 1 + 0.6309297535714575 + 0.5 = 2.1309297535714575
  // NDCG = 1.1309297535714575 / 2.1309297535714575 = 0.5307212739772434
  // MAP  = (P@2 + P@3) / min(4, 3) = (1/2 + 2/3) / 3 = 0.3888888888888889
  const m = rankingMetricsAtK([0, 1, 1, 1, 1], 4, 3);
  close(m.recall, 0.5, "recall");
  close(m.precision, 2 / 3, "precision");
  close(m.ndcg, 0.5307212739772434, "ndcg");
  close(m.map, 0.3888888888888889, "map");
});

test("hand example 3: list shorter than K counts the missing ranks as misses", () => {
  // 1 candidate, a hit, K = 3, |held-out| = 1:
  // recall = 1, precision = 1/3 (divided by K), NDCG = 1/1, MAP = (1/1) / min(1, 3) = 1
  const m = rankingMetricsAtK([1], 1, 3);
  close(m.recall, 1, "recall");
  close(m.precision, 1 / 3, "precision");
  close(m.ndcg, 1, "ndcg");
  close(m.map, 1, "map");
  // No hit at all: everything 0.
  assert.deepEqual(rankingMetricsAtK([0, 0, 0], 2, 3), { recall: 0, ndcg: 0, precision: 0, map: 0 });
});

test("several K in one pass equal separate single-K computations", () => {
  const hits = Uint8Array.of(0, 1, 0, 0, 1, 1, 0, 1, 0, 0, 1, 0);
  const ks = Int32Array.of(1, 3, 5, 12, 20);
  const out = new Float64Array(4 * ks.length);
  userMetricsAtKs(hits, hits.length, 6, ks, rankDiscounts(20), idealDcgPrefix(20), out);
  ks.forEach((k, j) => {
    const single = rankingMetricsAtK(Array.from(hits), 6, k);
    close(out[4 * j]!, single.recall, `recall@${k}`);
    close(out[4 * j + 1]!, single.ndcg, `ndcg@${k}`);
    close(out[4 * j + 2]!, single.precision, `precision@${k}`);
    close(out[4 * j + 3]!, single.map, `map@${k}`);
  });
  // Spot check by hand at K = 5: hits at ranks 2 and 5, |held-out| = 6.
  // recall 2/6, precision 2/5, DCG = 1/log2(3) + 1/log2(6), IDCG over 5 positions,
  // MAP = (1/2 + 2/5) / 5 = 0.18
  close(out[4 * 2]!, 2 / 6, "recall@5");
  close(out[4 * 2 + 2]!, 0.4, "precision@5");
  close(out[4 * 2 + 3]!, 0.18, "map@5");
  const idcg5 = 1 + 1 / Math.log2(3) + 0.5 + 1 / Math.log2(5) + 1 / Math.log2(6);
  close(out[4 * 2 + 1]!, (1 / Math.log2(3) + 1 / Math.log2(6)) / idcg5, "ndcg@5");
});

test("rejects bad K and |held-out|", () => {
  assert.throws(() => rankingMetricsAtK([1], 1, 0), /k must be a positive integer/);
  assert.throws(() => rankingMetricsAtK([1], 0, 3), /nRelevant must be a positive integer/);
});
