import { test } from "node:test";
import assert from "node:assert/strict";
import { normalizedBipartiteAdjacency } from "../../src/graph/bipartite";
import { csrFromCoo, csrRow } from "../../src/util/csr";

test("normalizedBipartiteAdjacency: hand-computed example with an isolated user and item", () => {
  // 3 users × 4 items: u0 → {0, 1}, u1 → {1, 2}, u2 → {}, item 3 unused.
  // Degrees: u0 2, u1 2, u2 0; i0 1, i1 2, i2 1, i3 0. Nodes: u0 u1 u2 | i0=3 i1=4 i2=5 i3=6.
  const train = csrFromCoo(3, 4, [0, 0, 1, 1], [0, 1, 1, 2]);
  const g = normalizedBipartiteAdjacency(train);
  assert.equal(g.nRows, 7);
  assert.equal(g.nCols, 7);
  const half = 1 / Math.sqrt(2); // 1/sqrt(2·1)
  const expectedRows: [number[], number[]][] = [
    [[3, 4], [half, 0.5]], // u0: i0 1/sqrt(2·1), i1 1/sqrt(2·2)
    [[4, 5], [0.5, half]], // u1
    [[], []], // u2: no edges, no division by zero
    [[0], [half]], // i0
    [[0, 1], [0.5, 0.5]], // i1
    [[1], [half]], // i2
    [[], []], // i3
  ];
  expectedRows.forEach(([cols, vals], r) => {
    assert.deepEqual(Array.from(csrRow(g, r)), cols, `row ${r} columns`);
    assert.deepEqual(Array.from(g.values.subarray(g.indptr[r]!, g.indptr[r + 1]!)), vals.map(Math.fround), `row ${r} values`);
  });
});

test("normalizedBipartiteAdjacency: symmetric, no self loops, and equal to a dense float64 computation on random data", () => {
  const nUsers = 6;
  const nItems = 5;
  const pairs: [number, number][] = [];
  for (let u = 0; u < nUsers; u++) for (let i = 0; i < nItems; i++) if ((u * 7 + i * 3) % 4 === 0 || u === i) pairs.push([u, i]);
  const train = csrFromCoo(nUsers, nItems, pairs.map((p) => p[0]), pairs.map((p) => p[1]));
  const g = normalizedBipartiteAdjacency(train);
  const n = nUsers + nItems;
  const dense = Array.from({ length: n }, () => new Float64Array(n));
  for (const [u, i] of pairs) dense[u]![nUsers + i] = dense[nUsers + i]![u] = 1;
  const deg = dense.map((row) => row.reduce((a, b) => a + b, 0));
  const got = Array.from({ length: n }, () => new Float64Array(n));
  for (let r = 0; r < n; r++) for (let p = g.indptr[r]!; p < g.indptr[r + 1]!; p++) got[r]![g.indices[p]!] = g.values[p]!;
  for (let r = 0; r < n; r++) {
    assert.equal(got[r]![r], 0, "no self loop");
    const cols = Array.from(csrRow(g, r));
    assert.deepEqual(cols, [...cols].sort((a, b) => a - b), "sorted columns");
    for (let c = 0; c < n; c++) {
      const want = dense[r]![c]! ? 1 / Math.sqrt(deg[r]! * deg[c]!) : 0;
      assert.equal(got[r]![c], Math.fround(want), `(${r}, ${c})`);
      assert.equal(got[r]![c], got[c]![r], `symmetric (${r}, ${c})`);
    }
  }
});
