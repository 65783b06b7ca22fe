import { test } from "node:test";
import assert from "node:assert/strict";
import { degreeSensitiveEdgeSample, edgeDegreeWeights } from "../../src/graph/edgeSampling";
import { csrFromCoo, csrNnz, type Csr } from "../../src/util/csr";
import { Rng } from "../../src/util/rng";

/** 6 users × 6 items: user 0 and item 0 are hubs, users 4–5 and items 4–5 have degree 1. */
function graph(): Csr {
  const pairs: [number, number][] = [[0, 0], [0, 1], [0, 2], [0, 3], [1, 0], [1, 1], [2, 0], [2, 2], [3, 0], [3, 3], [4, 4], [5, 5]];
  return csrFromCoo(6, 6, pairs.map((p) => p[0]), pairs.map((p) => p[1]));
}

function edgeKeys(m: Csr): string[] {
  const out: string[] = [];
  for (let u = 0; u < m.nRows; u++) for (let p = m.indptr[u]!; p < m.indptr[u + 1]!; p++) out.push(`${u}-${m.indices[p]}`);
  return out;
}

test("edgeDegreeWeights: 1/√(d_u·d_i) per edge in CSR order", () => {
  const g = graph();
  const w = edgeDegreeWeights(g);
  // (0,0): d_u 4, d_i 4 → 1/4; (4,4): 1·1 → 1; (1,1): d_u 2, d_i 2 → 1/2.
  const keys = edgeKeys(g);
  assert.equal(w[keys.indexOf("0-0")], 1 / 4);
  assert.equal(w[keys.indexOf("4-4")], 1);
  assert.equal(w[keys.indexOf("1-1")], 1 / 2);
});

test("degreeSensitiveEdgeSample: exactly ⌊nnz·(1 − dropout)⌋ distinct train edges, sorted rows, value 1; deterministic per seed", () => {
  const g = graph();
  for (const dropout of [0, 0.3, 0.5, 0.8, 0.9]) {
    const kept = degreeSensitiveEdgeSample(g, dropout, new Rng(7));
    assert.equal(csrNnz(kept), Math.floor(csrNnz(g) * (1 - dropout)), `count at dropout ${dropout}`);
    const keys = edgeKeys(kept);
    assert.equal(new Set(keys).size, keys.length, "distinct");
    const all = new Set(edgeKeys(g));
    assert.ok(keys.every((k) => all.has(k)), "subset of train");
    for (let u = 0; u < kept.nRows; u++) {
      const row = Array.from(kept.indices.subarray(kept.indptr[u]!, kept.indptr[u + 1]!));
      assert.deepEqual(row, [...row].sort((a, b) => a - b));
    }
    assert.ok(kept.values.every((v) => v === 1));
    assert.deepEqual(edgeKeys(degreeSensitiveEdgeSample(g, dropout, new Rng(7))), keys, "same seed, same edges");
  }
  // MMRec's int(nnz * (1. - dropout)) in float64: 10·(1 − 0.8) = 1.9999999999999996 → 1.
  const ten = csrFromCoo(2, 5, [0, 0, 0, 0, 0, 1, 1, 1, 1, 1], [0, 1, 2, 3, 4, 0, 1, 2, 3, 4]);
  assert.equal(csrNnz(degreeSensitiveEdgeSample(ten, 0.8, new Rng(1))), 1);
  const seeds = new Set(Array.from({ length: 8 }, (_, s) => edgeKeys(degreeSensitiveEdgeSample(g, 0.5, new Rng(100 + s))).join(",")));
  assert.ok(seeds.size > 1, "different seeds draw different edges");
  assert.throws(() => degreeSensitiveEdgeSample(g, 1, new Rng(1)), /dropout must be in \[0, 1\)/);
});

test("degreeSensitiveEdgeSample: one kept edge is edge e with probability w_e / Σw (torch.multinomial's first draw)", () => {
  const g = graph();
  const w = edgeDegreeWeights(g);
  const sum = w.reduce((a, b) => a + b, 0);
  const keys = edgeKeys(g);
  const counts = new Map<string, number>();
  const draws = 20000;
  const rng = new Rng(99);
  // dropout with ⌊12·(1 − d)⌋ = 1.
  for (let t = 0; t < draws; t++) {
    const k = edgeKeys(degreeSensitiveEdgeSample(g, 0.9, rng))[0]!;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  keys.forEach((k, e) => {
    const p = w[e]! / sum;
    const sd = Math.sqrt((p * (1 - p)) / draws);
    assert.ok(Math.abs((counts.get(k) ?? 0) / draws - p) < 4 * sd, `edge ${k}: ${(counts.get(k) ?? 0) / draws} vs ${p}`);
  });
});

test("degreeSensitiveEdgeSample: edges between low-degree nodes survive more often than hub edges", () => {
  const g = graph();
  const keys = edgeKeys(g);
  const survived = new Float64Array(keys.length);
  const rng = new Rng(5);
  const runs = 4000;
  for (let t = 0; t < runs; t++) for (const k of edgeKeys(degreeSensitiveEdgeSample(g, 0.5, rng))) survived[keys.indexOf(k)]! += 1 / runs;
  const rate = (k: string): number => survived[keys.indexOf(k)]!;
  assert.ok(rate("4-4") > 0.7 && rate("5-5") > 0.7, `degree-1 pairs mostly kept (half the edges are) (${rate("4-4")}, ${rate("5-5")})`);
  assert.ok(rate("0-0") < rate("1-1") && rate("1-1") < rate("4-4"), `hub–hub < mid < leaf (${rate("0-0")}, ${rate("1-1")}, ${rate("4-4")})`);
});
