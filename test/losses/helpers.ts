import assert from "node:assert/strict";
import { Rng } from "../../src/util/rng";

/** Row-major float64 matrix of N(0, 1) samples. */
export function randomMatrix(rng: Rng, rows: number, cols: number, scale = 1): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < out.length; i++) out[i] = scale * rng.normal();
  return out;
}

/** |actual − expected| ≤ abs + rel·|expected|, with a message naming what was compared. */
export function assertClose(actual: number, expected: number, what: string, rel = 1e-5, abs = 1e-7): void {
  assert.ok(Number.isFinite(actual), `${what}: got ${actual}`);
  assert.ok(Math.abs(actual - expected) <= abs + rel * Math.abs(expected), `${what}: got ${actual}, expected ${expected}`);
}

export function assertAllClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, rel = 1e-5, abs = 1e-7): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) assertClose(actual[i]!, expected[i]!, `${what}[${i}]`, rel, abs);
}

/** Central finite differences of a float64 function at every coordinate of x. */
export function finiteDifferences(f: (x: Float64Array) => number, x: Float64Array, h = 1e-6): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const saved = x[i]!;
    x[i] = saved + h;
    const up = f(x);
    x[i] = saved - h;
    const down = f(x);
    x[i] = saved;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

/** Rows scaled to unit norm (zero rows stay zero), float64. */
export function normalizeRows64(x: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < rows; i++) {
    let sq = 0;
    for (let j = 0; j < cols; j++) sq += x[i * cols + j]! ** 2;
    const inv = 1 / Math.max(Math.sqrt(sq), 1e-12);
    for (let j = 0; j < cols; j++) out[i * cols + j] = x[i * cols + j]! * inv;
  }
  return out;
}
