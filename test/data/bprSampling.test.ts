import { test } from "node:test";
import assert from "node:assert/strict";
import { bprBatch, bprBatchCount, bprBatches, sampleBprTriples, sampleNegative } from "../../src/data/bprSampling";
import { csrFromCoo, csrNnz, csrRow, type Csr } from "../../src/util/csr";
import { Rng } from "../../src/util/rng";

/** 4 users × 6 items; user 2 has every item but one, user 3 has every item. */
function example(): Csr {
  const pairs: [number, number][] = [
    [0, 0], [0, 3],
    [1, 1], [1, 2], [1, 5],
    [2, 0], [2, 1], [2, 2], [2, 4], [2, 5],
    [3, 0], [3, 1], [3, 2], [3, 3], [3, 4], [3, 5],
  ];
  return csrFromCoo(4, 6, pairs.map((p) => p[0]), pairs.map((p) => p[1]));
}

test("sampleBprTriples: one triple per train interaction of users with a possible negative, negatives never in train", () => {
  const train = example();
  const t = sampleBprTriples(train, new Rng(1));
  assert.equal(t.users.length, csrNnz(train) - 6, "user 3 (all items) is left out");
  const seen = new Map<string, number>();
  for (let k = 0; k < t.users.length; k++) {
    const row = Array.from(csrRow(train, t.users[k]!));
    assert.ok(row.includes(t.pos[k]!), "positive is a train item of the user");
    assert.ok(!row.includes(t.neg[k]!), "negative is not a train item of the user");
    assert.ok(t.neg[k]! >= 0 && t.neg[k]! < 6);
    const key = `${t.users[k]},${t.pos[k]}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  // Every (user, positive) pair of users 0..2 appears exactly once.
  for (let u = 0; u < 3; u++) for (const i of csrRow(train, u)) assert.equal(seen.get(`${u},${i}`), 1);
  // User 2's only possible negative is item 3.
  for (let k = 0; k < t.users.length; k++) if (t.users[k] === 2) assert.equal(t.neg[k], 3);
});

test("sampleBprTriples: same seed ⇒ same triples; another seed ⇒ another order", () => {
  const train = example();
  const a = sampleBprTriples(train, new Rng(42));
  const b = sampleBprTriples(train, new Rng(42));
  assert.deepEqual(a, b);
  const orders = new Set<string>();
  for (let s = 0; s < 8; s++) orders.add(Array.from(sampleBprTriples(train, new Rng(s)).pos).join(","));
  assert.ok(orders.size > 1, "shuffled");
});

test("sampleNegative: uniform over the complement (chi-square on 60k draws)", () => {
  // Row {1, 3, 4, 8} of 10 items: 6 possible negatives.
  const train = csrFromCoo(1, 10, [0, 0, 0, 0], [1, 3, 4, 8]);
  const rng = new Rng(7);
  const counts = new Map<number, number>();
  const draws = 60000;
  for (let k = 0; k < draws; k++) {
    const j = sampleNegative(train, 0, rng);
    counts.set(j, (counts.get(j) ?? 0) + 1);
  }
  assert.deepEqual([...counts.keys()].sort((a, b) => a - b), [0, 2, 5, 6, 7, 9]);
  const expected = draws / 6;
  const chi2 = [...counts.values()].reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
  // 5 degrees of freedom: P(chi² > 20.5) ≈ 0.001.
  assert.ok(chi2 < 20.5, `chi² = ${chi2}`);
});

test("sampleNegative: the complement-rank mapping, case by case", () => {
  const train = csrFromCoo(1, 5, [0, 0], [1, 3]); // complement: 0, 2, 4
  const fixed = (r: number) => ({ int: () => r }) as unknown as Rng;
  assert.deepEqual([0, 1, 2].map((r) => sampleNegative(train, 0, fixed(r))), [0, 2, 4]);
  const empty = csrFromCoo(1, 3, [], []);
  assert.deepEqual([0, 1, 2].map((r) => sampleNegative(empty, 0, fixed(r))), [0, 1, 2]);
});

test("bprBatches: consecutive views covering every triple once, last batch shorter", () => {
  const train = example();
  const t = sampleBprTriples(train, new Rng(3));
  assert.equal(bprBatchCount(t, 4), 3);
  const batches = [...bprBatches(t, 4)];
  assert.deepEqual(batches.map((b) => b.users.length), [4, 4, 2]);
  assert.deepEqual(Array.from(batches[2]!.neg), Array.from(t.neg.subarray(8, 10)));
  assert.deepEqual(bprBatch(t, 1, 4).pos, t.pos.subarray(4, 8));
  assert.throws(() => bprBatch(t, 3, 4), /out of range/);
  assert.throws(() => bprBatchCount(t, 0), /positive integer/);
});
