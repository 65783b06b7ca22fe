import { test } from "node:test";
import assert from "node:assert/strict";
import { subsampleIndices, umapEmbedding, umapPartsFigure, type ItemParts } from "../../src/figures/umap";
import { Rng } from "../../src/util/rng";
import { SeaError } from "../../src/util/errors";
import type { PlotlyScatterTrace } from "../../src/figures/types";

/** n points in d dims: the first half around +5·e0, the second around −5·e0 (unit noise). */
function twoClusters(n: number, d: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) x[i * d + j] = rng.normal() * 0.5;
    x[i * d] += i < n / 2 ? 5 : -5;
  }
  return x;
}

test("subsampleIndices is deterministic, sorted and distinct", () => {
  assert.deepEqual([...subsampleIndices(5, 10, 1)], [0, 1, 2, 3, 4]);
  const a = subsampleIndices(1000, 50, 7);
  assert.equal(a.length, 50);
  assert.equal(new Set(a).size, 50);
  for (let i = 1; i < a.length; i++) assert.ok(a[i - 1]! < a[i]!);
  assert.deepEqual([...subsampleIndices(1000, 50, 7)], [...a]);
  assert.notDeepEqual([...subsampleIndices(1000, 50, 8)], [...a]);
});

test("umapEmbedding: seeded, and keeps two separated clusters apart", () => {
  const n = 60;
  const d = 8;
  const x = twoClusters(n, d, 3);
  const opts = { seed: 11, nNeighbors: 8, nEpochs: 60 };
  const r1 = umapEmbedding(x, n, d, opts);
  const r2 = umapEmbedding(x, n, d, opts);
  assert.deepEqual([...r1.coords], [...r2.coords], "same seed → same embedding");
  assert.notDeepEqual([...umapEmbedding(x, n, d, { ...opts, seed: 12 }).coords], [...r1.coords], "another seed → another embedding");
  assert.equal(r1.coords.length, 2 * n);
  // every point's nearest 2-D neighbour comes from its own cluster
  for (let i = 0; i < n; i++) {
    let best = -1;
    let bestD = Infinity;
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const dx = r1.coords[2 * i]! - r1.coords[2 * j]!;
      const dy = r1.coords[2 * i + 1]! - r1.coords[2 * j + 1]!;
      if (dx * dx + dy * dy < bestD) {
        bestD = dx * dx + dy * dy;
        best = j;
      }
    }
    assert.equal(i < n / 2, best < n / 2, `point ${i}'s neighbour ${best} is in the other cluster`);
  }
  // subsampling: maxItems rows, indices reported
  const sub = umapEmbedding(x, n, d, { ...opts, maxItems: 20 });
  assert.equal(sub.indices.length, 20);
  assert.equal(sub.coords.length, 40);
  assert.throws(() => umapEmbedding(x, n, d + 1, opts), SeaError);
});

test("umapEmbedding: wide rows go through the random projection and still separate clusters", () => {
  const n = 40;
  const d = 100;
  const x = twoClusters(n, d, 9);
  const r = umapEmbedding(x, n, d, { seed: 2, nNeighbors: 6, nEpochs: 50, projectDims: 16 });
  const centroid = (lo: number, hi: number): [number, number] => {
    let sx = 0;
    let sy = 0;
    for (let i = lo; i < hi; i++) {
      sx += r.coords[2 * i]!;
      sy += r.coords[2 * i + 1]!;
    }
    return [sx / (hi - lo), sy / (hi - lo)];
  };
  const spread = (lo: number, hi: number, c: [number, number]): number => {
    let s = 0;
    for (let i = lo; i < hi; i++) s = Math.max(s, Math.hypot(r.coords[2 * i]! - c[0], r.coords[2 * i + 1]! - c[1]));
    return s;
  };
  const a = centroid(0, n / 2);
  const b = centroid(n / 2, n);
  assert.ok(Math.hypot(a[0] - b[0], a[1] - b[1]) > spread(0, n / 2, a) + spread(n / 2, n, b), "clusters overlap after projection");
});

function parts(modality: string, n: number, d: number, seed: number): ItemParts {
  return {
    modality,
    generic: { data: twoClusters(n, d, seed), n, d },
    unique: { data: twoClusters(n, d, seed + 1).map((v) => v + 20), n, d },
  };
}

test("umapPartsFigure: one panel per variant × modality, coloured by part/modality", () => {
  const n = 30;
  const inputs = [
    { label: "sea", parts: [parts("text", n, 6, 1), parts("image", n, 6, 3)] },
    { label: "orthogonal", parts: [parts("image", n, 6, 5), parts("text", n, 6, 7)] },
  ];
  const fig = umapPartsFigure(inputs, { seed: 5, nNeighbors: 6, nEpochs: 30, maxItems: 20 });
  const titles = (fig.layout.annotations ?? []).map((a) => a.text);
  assert.deepEqual(titles, ["<b>sea: image</b>", "<b>orthogonal: image</b>", "<b>sea: text</b>", "<b>orthogonal: text</b>"]);
  const traces = fig.data as PlotlyScatterTrace[];
  assert.equal(traces.length, 8);
  assert.deepEqual(traces.map((t) => `${t.xaxis}:${t.name}`), [
    "x:image generic", "x:image unique", "x2:image generic", "x2:image unique",
    "x3:text generic", "x3:text unique", "x4:text generic", "x4:text unique",
  ]);
  assert.deepEqual(traces.filter((t) => t.showlegend).map((t) => t.name), ["image generic", "image unique", "text generic", "text unique"]);
  for (const t of traces) assert.equal(t.x.length, 20); // maxItems items per part
  assert.notEqual(traces[0]!.marker!.color, traces[1]!.marker!.color);
  assert.notEqual(traces[0]!.marker!.color, traces[4]!.marker!.color);
  // generic and unique of the same items were embedded jointly; their clouds (20 apart in input space) separate
  const cx = (t: PlotlyScatterTrace): number => t.x.reduce((a, b) => a + b, 0) / t.x.length;
  const cy = (t: PlotlyScatterTrace): number => t.y.reduce((a, b) => a + b, 0) / t.y.length;
  assert.ok(Math.hypot(cx(traces[0]!) - cx(traces[1]!), cy(traces[0]!) - cy(traces[1]!)) > 1);
});

test("umapPartsFigure with planted clusters: colour by cluster, shape by part; checks lengths", () => {
  const n = 24;
  const clusters = Int32Array.from({ length: n }, (_, i) => (i < n / 2 ? 0 : 1));
  const fig = umapPartsFigure([{ label: "sea", parts: [parts("image", n, 4, 1)] }], { seed: 1, nNeighbors: 5, nEpochs: 20, clusters });
  const [g, u] = fig.data as [PlotlyScatterTrace, PlotlyScatterTrace];
  assert.equal(g.name, "generic");
  assert.equal(u.name, "unique");
  assert.equal(g.marker!.symbol, "circle");
  assert.equal(u.marker!.symbol, "diamond");
  const colours = g.marker!.color as string[];
  assert.equal(colours.length, n);
  assert.equal(new Set(colours.slice(0, n / 2)).size, 1);
  assert.notEqual(colours[0], colours[n - 1]);
  assert.equal(g.text![n - 1], `item ${n - 1}, cluster 1`);

  assert.throws(
    () => umapPartsFigure([{ label: "sea", parts: [parts("image", n, 4, 1)] }], { seed: 1, clusters: new Int32Array(5) }),
    (e: unknown) => e instanceof SeaError && /cluster labels have 5 entries but sea has 24 items/.test(e.message),
  );
  const bad: ItemParts = { modality: "image", generic: { data: new Float32Array(8), n: 2, d: 4 }, unique: { data: new Float32Array(6), n: 2, d: 3 } };
  assert.throws(() => umapPartsFigure([{ label: "x", parts: [bad] }], { seed: 1 }), (e: unknown) => e instanceof SeaError && /differ in width/.test(e.message));
});
