/** Mean and sample standard deviation (n − 1; 0 for a single value) of the finite values. */
export function meanStd(values: readonly number[]): { mean: number; std: number; n: number } {
  const xs = values.filter((x) => Number.isFinite(x));
  const n = xs.length;
  if (n === 0) return { mean: NaN, std: NaN, n: 0 };
  const mean = xs.reduce((s, x) => s + x, 0) / n;
  if (n === 1) return { mean, std: 0, n };
  const ss = xs.reduce((s, x) => s + (x - mean) * (x - mean), 0);
  return { mean, std: Math.sqrt(ss / (n - 1)), n };
}
