import { Rng } from "../../src/util/rng";

/**
 * Test data with closed-form MI: x, y ∈ R^d, column j of y = ρ_j·(column j of x) + √(1 − ρ_j²)·noise, all N(0, 1).
 * I(x; y) = −½ Σ_j ln(1 − ρ_j²) nats, and the canonical correlations are the ρ_j.
 */
export interface GaussianPairs {
  readonly x: Float32Array;
  readonly y: Float32Array;
  readonly n: number;
  readonly d: number;
  /** I(x; y) in nats. */
  readonly truth: number;
}

export function gaussianPairs(n: number, rhos: readonly number[], seed: number): GaussianPairs {
  const d = rhos.length;
  const rng = new Rng(seed);
  const x = new Float32Array(n * d);
  const y = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      const a = rng.normal();
      const r = rhos[j]!;
      x[i * d + j] = a;
      y[i * d + j] = r * a + Math.sqrt(1 - r * r) * rng.normal();
    }
  }
  return { x, y, n, d, truth: rhos.reduce((s, r) => s - 0.5 * Math.log(1 - r * r), 0) };
}

/** The correlation that gives `nats` of MI for one pair: −½ ln(1 − ρ²) = nats. */
export function rhoFor(nats: number): number {
  return Math.sqrt(1 - Math.exp(-2 * nats));
}

export function mean(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]!;
  return s / v.length;
}
