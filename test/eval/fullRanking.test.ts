import { test } from "node:test";
import assert from "node:assert/strict";
import { csrFromCoo, type Csr } from "../../src/util/csr";
import { evaluableUsers, evaluateFullRanking, evaluateFullRankingSplits, evaluateScoreMatrix, type EvalResult } from "../../src/eval/fullRanking";
import { Rng } from "../../src/util/rng";
import { SeaError } from "../../src/util/errors";

interface Split {
  nUsers: number;
  nItems: number;
  train: Csr;
  heldOut: Csr;
  scores: Float32Array;
}

/**
 * Random split with the awkward cases: users without train items, without held-out items, with
 * nearly every item in train (fewer candidates than K), scores rounded to one decimal (many ties),
 * a few NaN scores.
 */
function randomSplit(seed: number, nUsers: number, nItems: number): Split {
  const rng = new Rng(seed);
  const tr: [number[], number[]] = [[], []];
  const ho: [number[], number[]] = [[], []];
  for (let u = 0; u < nUsers; u++) {
    const perm = rng.permutation(nItems);
    const kind = rng.int(10);
    const nTrain = kind === 0 ? 0 : kind === 1 ? nItems - 2 : Math.min(rng.int(8), nItems - 1);
    const nHeld = kind === 2 ? 0 : 1 + rng.int(Math.min(4, nItems - nTrain));
    for (let t = 0; t < nTrain; t++) (tr[0].push(u), tr[1].push(perm[t]!));
    for (let t = 0; t < nHeld && nTrain + t < nItems; t++) (ho[0].push(u), ho[1].push(perm[nTrain + t]!));
  }
  const scores = new Float32Array(nUsers * nItems);
  for (let i = 0; i < scores.length; i++) scores[i] = rng.next() < 0.01 ? NaN : Math.round(rng.normal() * 10) / 10;
  return {
    nUsers,
    nItems,
    train: csrFromCoo(nUsers, nItems, tr[0], tr[1]),
    heldOut: csrFromCoo(nUsers, nItems, ho[0], ho[1]),
    scores,
  };
}

/**
 * Independent float64 reference: full stable sort of every evaluated user's masked row, metrics
 * straight from the DESIGN §3 formulas.
 */
function bruteForce(s: Split, ks: number[]): { users: number[]; perUser: Record<string, number[]> } {
  const users: number[] = [];
  const perUser: Record<string, number[]> = {};
  for (const m of ["recall", "ndcg", "precision", "map"]) for (const k of ks) perUser[`${m}@${k}`] = [];
  for (let u = 0; u < s.nUsers; u++) {
    const trainItems = new Set(s.train.indices.subarray(s.train.indptr[u]!, s.train.indptr[u + 1]!));
    const held = new Set(s.heldOut.indices.subarray(s.heldOut.indptr[u]!, s.heldOut.indptr[u + 1]!));
    if (trainItems.size === 0 || held.size === 0) continue;
    users.push(u);
    const score = (j: number): number => {
      const v = s.scores[u * s.nItems + j]!;
      return trainItems.has(j) || Number.isNaN(v) ? -Infinity : v;
    };
    const order = Array.from({ length: s.nItems }, (_, j) => j).sort((a, b) =>
      score(a) !== score(b) ? (score(a) > score(b) ? -1 : 1) : a - b,
    );
    for (const k of ks) {
      let hits = 0;
      let dcg = 0;
      let ap = 0;
      for (let r = 1; r <= Math.min(k, s.nItems); r++) {
        const item = order[r - 1]!;
        if (held.has(item) && score(item) > -Infinity) {
          hits++;
          dcg += 1 / Math.log2(r + 1);
          ap += hits / r;
        }
      }
      let idcg = 0;
      for (let r = 1; r <= Math.min(held.size, k); r++) idcg += 1 / Math.log2(r + 1);
      perUser[`recall@${k}`]!.push(hits / held.size);
      perUser[`ndcg@${k}`]!.push(dcg / idcg);
      perUser[`precision@${k}`]!.push(hits / k);
      perUser[`map@${k}`]!.push(ap / Math.min(held.size, k));
    }
  }
  return { users, perUser };
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

test("matches a float64 full-sort reference (ties, NaN, masked train items, K > candidates)", () => {
  for (const [seed, nUsers, nItems] of [
    [1, 80, 30],
    [2, 40, 9],
    [3, 25, 120],
  ] as const) {
    const s = randomSplit(seed, nUsers, nItems);
    const ks = [1, 3, 10, 50];
    const ref = bruteForce(s, ks);
    const before = s.scores.slice();
    const res = evaluateScoreMatrix(s.scores, nUsers, nItems, s.train, s.heldOut, ks, { perUser: true });
    assert.deepEqual(Array.from(res.users), ref.users);
    assert.equal(res.nUsers, ref.users.length);
    assert.ok(res.nUsers > 0 && res.nUsers < nUsers, "the split must exclude some users");
    for (const key of Object.keys(ref.perUser)) {
      const want = ref.perUser[key]!;
      const got = res.perUser![key]!;
      for (let i = 0; i < want.length; i++) {
        assert.ok(Math.abs(got[i]! - want[i]!) < 1e-6, `${key} user ${ref.users[i]}: ${got[i]} vs ${want[i]}`);
      }
      assert.ok(Math.abs(res.metrics[key]! - mean(want)) < 1e-12, `${key}: ${res.metrics[key]} vs ${mean(want)}`);
    }
    // Masking is undone: the caller's matrix is unchanged (NaN included).
    assert.deepEqual(Buffer.from(s.scores.buffer), Buffer.from(before.buffer));
  }
});

test("metric keys: grouped by metric, default K = 10, 20", () => {
  const s = randomSplit(4, 30, 40);
  const res = evaluateScoreMatrix(s.scores, s.nUsers, s.nItems, s.train, s.heldOut);
  assert.deepEqual(Object.keys(res.metrics), [
    "recall@10",
    "recall@20",
    "ndcg@10",
    "ndcg@20",
    "precision@10",
    "precision@20",
    "map@10",
    "map@20",
  ]);
  assert.equal(res.perUser, undefined);
});

test("users without held-out items or without train items are excluded", () => {
  // 4 users × 5 items. user 0: train+held; user 1: held only; user 2: train only; user 3: train+held.
  const train = csrFromCoo(4, 5, [0, 2, 3, 3], [1, 0, 0, 4]);
  const heldOut = csrFromCoo(4, 5, [0, 1, 3], [2, 3, 1]);
  assert.deepEqual(Array.from(evaluableUsers(train, heldOut)), [0, 3]);
  // Scores rank items by index descending: 4 > 3 > 2 > 1 > 0.
  const row = [0, 1, 2, 3, 4];
  const scores = Float32Array.from([...row, ...row, ...row, ...row]);
  const res = evaluateScoreMatrix(scores, 4, 5, train, heldOut, [1, 2], { perUser: true });
  // user 0 (item 1 masked): ranking 4,3,2,0 → held-out item 2 at rank 3: no hit at K ≤ 2.
  // user 3 (items 0,4 masked): ranking 3,2,1 → held-out item 1 at rank 3: no hit either.
  // With K = 3 both would hit at rank 3: recall 1, precision 1/3, ndcg 1/log2(4) = 0.5, map (1/3)/1.
  assert.deepEqual(Array.from(res.users), [0, 3]);
  assert.equal(res.metrics["recall@2"], 0);
  const res3 = evaluateScoreMatrix(scores, 4, 5, train, heldOut, [3]);
  assert.equal(res3.metrics["recall@3"], 1);
  assert.ok(Math.abs(res3.metrics["precision@3"]! - 1 / 3) < 1e-15);
  assert.equal(res3.metrics["ndcg@3"], 0.5);
  assert.ok(Math.abs(res3.metrics["map@3"]! - 1 / 3) < 1e-15);
});

test("a held-out item that is also in train is masked and never a hit", () => {
  // One user, 3 items; item 0 in both train and held-out, best score. K = 3 > 2 candidates, so the
  // masked item still fills rank 3 — it must not count.
  const train = csrFromCoo(1, 3, [0], [0]);
  const heldOut = csrFromCoo(1, 3, [0, 0], [0, 2]);
  const res = evaluateScoreMatrix(Float32Array.of(9, 1, 2), 1, 3, train, heldOut, [3]);
  // ranking 2, 1, (0 masked): hit at rank 1 only; |held-out| = 2.
  // recall 1/2, precision 1/3, ndcg 1/(1 + 1/log2(3)), map (1/1)/min(2,3) = 0.5
  assert.equal(res.metrics["recall@3"], 0.5);
  assert.ok(Math.abs(res.metrics["ndcg@3"]! - 1 / (1 + 1 / Math.log2(3))) < 1e-15);
  assert.equal(res.metrics["map@3"], 0.5);
});

test("batching invariance: batch sizes 1, 7 and all give identical results", () => {
  const s = randomSplit(5, 70, 25);
  const run = (batchSize: number): { res: EvalResult; seen: number[] } => {
    const seen: number[] = [];
    const res = evaluateFullRanking({
      train: s.train,
      heldOut: s.heldOut,
      ks: [2, 5, 30],
      batchSize,
      perUser: true,
      scoreUsers: (users) => {
        seen.push(...users);
        const block = new Float32Array(users.length * s.nItems);
        users.forEach((u, i) => block.set(s.scores.subarray(u * s.nItems, (u + 1) * s.nItems), i * s.nItems));
        return block;
      },
    });
    return { res, seen };
  };
  const all = run(1000);
  const direct = evaluateScoreMatrix(s.scores, s.nUsers, s.nItems, s.train, s.heldOut, [2, 5, 30], { perUser: true });
  assert.deepEqual(all.res, direct);
  for (const b of [1, 7]) {
    const r = run(b);
    assert.deepEqual(r.res, all.res, `batch size ${b}`);
    assert.deepEqual(r.seen, Array.from(all.res.users), "every evaluated user scored exactly once, in order");
  }
});

test("a buffer reused by scoreUsers across batches is restored after masking", () => {
  const s = randomSplit(6, 30, 12);
  const shared = new Float32Array(4 * s.nItems);
  const res = evaluateFullRanking({
    train: s.train,
    heldOut: s.heldOut,
    batchSize: 4,
    ks: [3],
    scoreUsers: (users) => {
      // Only rewrites the rows; anything the evaluator left masked would leak into the next batch.
      users.forEach((u, i) => shared.set(s.scores.subarray(u * s.nItems, (u + 1) * s.nItems), i * s.nItems));
      return shared.subarray(0, users.length * s.nItems);
    },
  });
  const direct = evaluateScoreMatrix(s.scores, s.nUsers, s.nItems, s.train, s.heldOut, [3]);
  assert.deepEqual(res.metrics, direct.metrics);
});

test("bad input: readable SeaErrors", () => {
  const s = randomSplit(7, 10, 6);
  const other = csrFromCoo(10, 7, [0], [0]);
  const bad = (fn: () => unknown, re: RegExp): void =>
    assert.throws(fn, (e: unknown) => e instanceof SeaError && re.test(e.message));
  bad(() => evaluateScoreMatrix(s.scores, 10, 6, s.train, s.heldOut, [0]), /^ks: .*got 0/);
  bad(() => evaluateScoreMatrix(s.scores, 10, 6, s.train, s.heldOut, []), /^ks: /);
  bad(() => evaluateScoreMatrix(s.scores, 10, 7, s.train, s.heldOut), /^scores: has 60 values/);
  bad(() => evaluateScoreMatrix(new Float32Array(70), 10, 7, s.train, other), /^train: /);
  bad(() => evaluableUsers(s.train, other), /^heldOut: train is 10×6 but held-out is 10×7/);
  bad(
    () => evaluateFullRanking({ train: s.train, heldOut: s.heldOut, scoreUsers: () => new Float32Array(3) }),
    /^scoreUsers: returned 3 scores/,
  );
  bad(() => evaluateFullRanking({ train: s.train, heldOut: s.heldOut, batchSize: 0, scoreUsers: () => s.scores }), /^batchSize/);
  const empty = csrFromCoo(10, 6, [], []);
  bad(() => evaluateScoreMatrix(s.scores, 10, 6, empty, s.heldOut), /nothing to evaluate/);
});

test("several splits ranked from one scoring pass equal each split evaluated alone", () => {
  // Two held-out splits over the same train mask, with different evaluable users.
  const a = randomSplit(11, 60, 30);
  const b = randomSplit(12, 60, 30);
  const scoreCalls: number[] = [];
  const scoreUsers = (users: Int32Array): Float32Array => {
    scoreCalls.push(...users);
    const block = new Float32Array(users.length * a.nItems);
    users.forEach((u, i) => block.set(a.scores.subarray(u * a.nItems, (u + 1) * a.nItems), i * a.nItems));
    return block;
  };
  const [valid, test] = evaluateFullRankingSplits({
    train: a.train,
    scoreUsers,
    ks: [3, 10],
    batchSize: 8,
    splits: [{ heldOut: a.heldOut }, { heldOut: b.heldOut, perUser: true }],
  });
  const aloneValid = evaluateScoreMatrix(a.scores, a.nUsers, a.nItems, a.train, a.heldOut, [3, 10]);
  const aloneTest = evaluateScoreMatrix(a.scores, a.nUsers, a.nItems, a.train, b.heldOut, [3, 10], { perUser: true });
  assert.deepEqual(valid, aloneValid);
  assert.deepEqual(test, aloneTest);
  // Each user in either split is scored exactly once, ascending.
  const union = [...new Set([...evaluableUsers(a.train, a.heldOut), ...evaluableUsers(a.train, b.heldOut)])].sort((x, y) => x - y);
  assert.deepEqual(scoreCalls, union);
  assert.ok(union.length > aloneValid.users.length && union.length > aloneTest.users.length, "the splits' users differ (the case under test)");
});
