import { test } from "node:test";
import assert from "node:assert/strict";
import { fitCanonicalProjection, projectRows } from "../../src/analysis/canonicalProjection";
import { holdoutSplit } from "../../src/analysis/linearProbe";
import { Rng } from "../../src/util/rng";
import { SeaError } from "../../src/util/errors";
import { gaussianPairs } from "./gaussianPairs";

/** Mixes the columns of v [n, d] by a seeded random invertible matrix (canonical correlations do not change). */
function mix(v: Float32Array, n: number, d: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const m = Array.from({ length: d * d }, () => rng.normal());
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) for (let t = 0; t < d; t++) out[i * d + j] += v[i * d + t]! * m[t * d + j]!;
  return out;
}

function correlation(p: Float32Array, q: Float32Array, k: number, col: number, n: number): number {
  let mp = 0, mq = 0;
  for (let i = 0; i < n; i++) (mp += p[i * k + col]! / n), (mq += q[i * k + col]! / n);
  let spq = 0, spp = 0, sqq = 0;
  for (let i = 0; i < n; i++) {
    const a = p[i * k + col]! - mp;
    const b = q[i * k + col]! - mq;
    spq += a * b;
    spp += a * a;
    sqq += b * b;
  }
  return spq / Math.sqrt(spp * sqq);
}

test("canonical directions fitted on training rows find the planted correlations, and hold them on held-out rows", () => {
  const n = 4000;
  const g = gaussianPairs(n, [0.9, 0, 0.5, 0, 0], 21);
  const x = mix(g.x, n, 5, 1);
  const y = mix(g.y, n, 5, 2);
  const { train, test: held } = holdoutSplit(n, 0.25, 3, "test");
  const p = fitCanonicalProjection(x, y, 5, 5, train, 2);
  assert.ok(Math.abs(p.correlations[0]! - 0.9) < 0.02 && Math.abs(p.correlations[1]! - 0.5) < 0.04, `fitted ${Array.from(p.correlations)}`);
  const px = projectRows(x, 5, p.meanX, p.a, 2, held);
  const py = projectRows(y, 5, p.meanY, p.b, 2, held);
  assert.ok(Math.abs(correlation(px, py, 2, 0, held.length) - 0.9) < 0.03, "first pair on held-out rows");
  assert.ok(Math.abs(correlation(px, py, 2, 1, held.length) - 0.5) < 0.07, "second pair on held-out rows");
  // The two x-directions are uncorrelated (CCA directions are whitened): cross-correlation ≈ 0.
  const cross = correlation(px, Float32Array.from({ length: held.length * 2 }, (_, i) => px[(i - (i % 2)) + 1 - (i % 2)]!), 2, 0, held.length);
  assert.ok(Math.abs(cross) < 0.08, `x-directions correlate ${cross}`);
  assert.throws(() => fitCanonicalProjection(x, y, 5, 5, train, 6), (e: unknown) => e instanceof SeaError && /fitCanonicalProjection\.k/.test(e.message));
  assert.throws(() => fitCanonicalProjection(x, y, 5, 5, train.subarray(0, 10), 2), SeaError);
});
