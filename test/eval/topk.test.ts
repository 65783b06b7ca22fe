import { test } from "node:test";
import assert from "node:assert/strict";
import { topK, topKRows, TopKSelector } from "../../src/eval/topk";
import { Rng } from "../../src/util/rng";

/** Reference: stable full sort by descending score (NaN read as −Infinity), ties by lower index. */
function bruteTopK(row: Float32Array, k: number): number[] {
  const key = (j: number): number => (Number.isNaN(row[j]!) ? -Infinity : row[j]!);
  const order = Array.from({ length: row.length }, (_, j) => j);
  order.sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    if (ka !== kb) return ka > kb ? -1 : 1;
    return a - b;
  });
  return order.slice(0, Math.min(k, row.length));
}

test("hand example: ties go to the lower index, masked entries come last", () => {
  //              idx:  0    1    2     3          4    5
  const row = Float32Array.of(0.5, 0.9, 0.5, -Infinity, 0.9, 0.1);
  assert.deepEqual(Array.from(topK(row, 4)), [1, 4, 0, 2]);
  // K = 6 > 5 valid entries: the masked one fills the last slot.
  assert.deepEqual(Array.from(topK(row, 6)), [1, 4, 0, 2, 5, 3]);
  // K larger than the row: the whole row, ranked.
  assert.deepEqual(Array.from(topK(row, 10)), [1, 4, 0, 2, 5, 3]);
});

test("NaN scores rank like -Infinity (after every finite score, ties by index)", () => {
  const row = Float32Array.of(NaN, 0.2, -Infinity, NaN, -5);
  assert.deepEqual(Array.from(topK(row, 5)), [1, 4, 0, 2, 3]);
  assert.deepEqual(Array.from(topK(row, 2)), [1, 4]);
});

test("matches a stable full sort on random rows with many ties, NaN and masked entries", () => {
  const rng = new Rng(11);
  const selector = new TopKSelector(25);
  for (let trial = 0; trial < 300; trial++) {
    const n = 1 + rng.int(80);
    const row = new Float32Array(n);
    for (let j = 0; j < n; j++) {
      const u = rng.next();
      // Scores rounded to one decimal → heavy ties; a few masked and NaN entries.
      row[j] = u < 0.15 ? -Infinity : u < 0.2 ? NaN : Math.round(rng.normal() * 10) / 10;
    }
    for (const k of [1, 2, 5, 25, 100]) {
      assert.deepEqual(Array.from(topK(row, k)), bruteTopK(row, k), `trial ${trial}, n ${n}, k ${k}`);
    }
    // The reusable selector on a sub-range (as used on a batch buffer) agrees too.
    const pad = 3;
    const padded = new Float32Array(n + 2 * pad).fill(99);
    padded.set(row, pad);
    const out = new Int32Array(40).fill(-7);
    const written = selector.select(padded, out, pad, n, 10);
    assert.equal(written, Math.min(25, n));
    assert.deepEqual(Array.from(out.subarray(10, 10 + written)), bruteTopK(row, 25));
    assert.equal(out[9], -7, "nothing written before outOffset");
  }
});

test("topKRows: per-row selection, short rows padded with -1", () => {
  const block = Float32Array.of(
    3, 1, 2, //
    0, 0, 5,
  );
  assert.deepEqual(Array.from(topKRows(block, 2, 3, 2)), [0, 2, 2, 0]);
  assert.deepEqual(Array.from(topKRows(block, 2, 3, 4)), [0, 2, 1, -1, 2, 0, 1, -1]);
  assert.throws(() => topKRows(block, 3, 3, 2), /block has 6 values/);
});

test("k must be a positive integer", () => {
  assert.throws(() => new TopKSelector(0), /positive integer/);
  assert.throws(() => new TopKSelector(2.5), /positive integer/);
});
