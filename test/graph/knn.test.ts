import { test } from "node:test";
import assert from "node:assert/strict";
import { knnGraph, mixedItemGraph, type KnnMultiply } from "../../src/graph/knn";
import { csrRow, type Csr } from "../../src/util/csr";
import type { FeatureMatrix } from "../../src/data/types";
import { Rng } from "../../src/util/rng";
import * as tf from "@tensorflow/tfjs";

function features(rows: number, cols: number, fill: (i: number, t: number) => number): FeatureMatrix {
  const data = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let t = 0; t < cols; t++) data[i * cols + t] = fill(i, t);
  return { name: "test", rows, cols, data };
}

/** Independent float64 brute force: full cosine matrix, stable sort by (value desc, index asc), top k. */
function bruteForceNeighbours(f: FeatureMatrix, k: number): number[][] {
  const { rows: n, cols: d, data } = f;
  const norm = (i: number) => Math.sqrt(Array.from({ length: d }, (_, t) => data[i * d + t]! ** 2).reduce((a, b) => a + b, 0));
  const out: number[][] = [];
  for (let i = 0; i < n; i++) {
    const sims = Array.from({ length: n }, (_, j) => {
      let s = 0;
      for (let t = 0; t < d; t++) s += data[i * d + t]! * data[j * d + t]!;
      const den = norm(i) * norm(j);
      return { j, v: den === 0 ? 0 : s / den };
    });
    sims.sort((a, b) => b.v - a.v || a.j - b.j);
    out.push(sims.slice(0, k).map((s) => s.j).sort((a, b) => a - b));
  }
  return out;
}

function rows(g: Csr): number[][] {
  return Array.from({ length: g.nRows }, (_, i) => Array.from(csrRow(g, i)));
}

const PATHS: KnnMultiply[] = ["js", "tfjs"];

for (const multiply of PATHS) {
  test(`knnGraph (${multiply}): neighbours match a float64 brute force across block boundaries`, () => {
    const rng = new Rng(5);
    // 37 items: not a multiple of the 4×4 kernel nor of any block size below.
    const f = features(37, 9, () => rng.normal());
    const expected = bruteForceNeighbours(f, 5);
    for (const blockRows of [1, 3, 4, 8, 36, 37, 100]) {
      const g = knnGraph(f, 5, { blockRows, multiply });
      assert.deepEqual(rows(g), expected, `blockRows ${blockRows}`);
    }
  });
}

test("knnGraph: the tfjs path leaves no tensors behind; auto picks a path and gives the same graph", () => {
  const rng = new Rng(2);
  const f = features(30, 5, () => rng.normal());
  const before = tf.memory().numTensors;
  const viaTf = knnGraph(f, 3, { blockRows: 7, multiply: "tfjs" });
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(knnGraph(f, 3, { multiply: "auto" }), viaTf);
  assert.equal(tf.memory().numTensors, before);
});

test("knnGraph: self is included (top-1 of a row with distinct directions) and values are D^-1/2 A D^-1/2 = 1/k", () => {
  const rng = new Rng(9);
  const f = features(20, 6, () => rng.normal());
  const g = knnGraph(f, 4, { blockRows: 7 });
  assert.equal(g.nRows, 20);
  assert.equal(g.nCols, 20);
  for (let i = 0; i < 20; i++) {
    assert.ok(csrRow(g, i).includes(i), `row ${i} contains itself`);
    assert.equal(g.indptr[i + 1]! - g.indptr[i]!, 4);
  }
  // Every row sum of A is k, so every kept value is 1/sqrt(k·k).
  for (const v of g.values) assert.equal(v, Math.fround(1 / 4));
});

test("knnGraph: ties go to the lower index, whatever the block layout", () => {
  // Items 0..9 are identical (exact ties), 10..11 another direction, 12 orthogonal to both.
  const f = features(13, 3, (i, t) => (i < 10 ? [1, 1, 0][t]! : i < 12 ? [1, 0, 0][t]! : [0, 0, 1][t]!));
  const expected = bruteForceNeighbours(f, 3);
  // Item 9 ties with 0..9 (itself included): the lowest three indices win, so 9 is not its own neighbour.
  assert.deepEqual(expected[9], [0, 1, 2]);
  assert.deepEqual(expected[11], [0, 10, 11]);
  for (const blockRows of [1, 2, 5, 13]) {
    for (const multiply of PATHS) assert.deepEqual(rows(knnGraph(f, 3, { blockRows, multiply, margin: 8 })), expected, `blockRows ${blockRows} ${multiply}`);
  }
});

test("knnGraph: zero rows have cosine 0 to everything; k larger than the item count is clamped", () => {
  const f = features(4, 2, (i, t) => (i === 2 ? 0 : [1, 2, 0, -1][i]! * (t + 1)));
  const g = knnGraph(f, 10, { blockRows: 3 });
  assert.deepEqual(rows(g), [[0, 1, 2, 3], [0, 1, 2, 3], [0, 1, 2, 3], [0, 1, 2, 3]]);
  for (const v of g.values) assert.equal(v, Math.fround(1 / 4));
  const g1 = knnGraph(f, 2, { blockRows: 2 });
  // Row 2 (zero): all cosines 0 → the two lowest indices. Row 3 (−x): item 2 (cosine 0) beats 0 and 1 (cosine −1).
  assert.deepEqual(rows(g1), bruteForceNeighbours(f, 2));
  assert.deepEqual(rows(g1)[2], [0, 1]);
  assert.deepEqual(rows(g1)[3], [2, 3]);
});

test("knnGraph: bad k and bad data length are readable errors", () => {
  const f = features(3, 2, () => 1);
  assert.throws(() => knnGraph(f, 0), /k must be a positive integer/);
  assert.throws(() => knnGraph({ ...f, rows: 4 }, 2), /expected rows·cols = 8/);
});

test("mixedItemGraph: weighted sum over the union of entries, columns sorted", () => {
  const a: Csr = { nRows: 2, nCols: 3, indptr: Int32Array.from([0, 2, 3]), indices: Int32Array.from([0, 2, 1]), values: Float32Array.from([1, 2, 3]) };
  const b: Csr = { nRows: 2, nCols: 3, indptr: Int32Array.from([0, 1, 3]), indices: Int32Array.from([1, 0, 1]), values: Float32Array.from([10, 20, 30]) };
  const m = mixedItemGraph([{ graph: a, weight: 0.1 }, { graph: b, weight: 0.9 }]);
  assert.deepEqual(Array.from(m.indptr), [0, 3, 5]);
  assert.deepEqual(Array.from(m.indices), [0, 1, 2, 0, 1]);
  const expected = [0.1, 9, 0.2, 18, 0.3 + 27].map(Math.fround);
  assert.deepEqual(Array.from(m.values), expected);
  assert.throws(() => mixedItemGraph([{ graph: a, weight: 1 }, { graph: { ...b, nCols: 4 }, weight: 1 }]), /graph 1 is 2×4, graph 0 is 2×3/);
  assert.throws(() => mixedItemGraph([]), /at least one graph/);
});
