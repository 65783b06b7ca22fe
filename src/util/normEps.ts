/**
 * Smallest row norm divided by, as torch.nn.functional.normalize's default eps (docs/method.md §1, rownorm).
 * Here, below both normalizeRows (src/losses/normalize.ts) and the fused kernels that repeat its arithmetic.
 */
export const NORM_EPS = 1e-12;
