import { Rng, deriveSeed } from "../util/rng";
import { SeaError } from "../util/errors";
import { checkMatrix } from "./linearProbe";
import { bootstrapStatistic, type MiEstimate, type StatisticBootstrapOptions, type StatisticInterval } from "./bootstrap";

/*
 * Bounded dependence measures between two representation parts (row-major float matrices in): linear CKA and
 * CKA with Gaussian kernels (normalised HSIC). They are not mutual information — they are similarity indices in
 * [0, 1] — but they need no training, have small variance, and do not saturate the way MI estimators do, so they
 * are a useful companion when comparing variants. Also home to the joint scatter matrix shared with gaussianMi.ts.
 */

/** x and y side by side, [n, dx + dy] in float64, each column centred on its mean over all rows. */
export interface JointColumns {
  readonly values: Float64Array;
  readonly n: number;
  readonly dx: number;
  readonly dy: number;
}

export function joinColumns(x: Float32Array, y: Float32Array, n: number, dx: number, dy: number): JointColumns {
  const d = dx + dy;
  const values = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dx; j++) values[i * d + j] = x[i * dx + j]!;
    for (let j = 0; j < dy; j++) values[i * d + dx + j] = y[i * dy + j]!;
  }
  // Centring once here keeps the resampled scatter below free of cancellation: resample means are then small.
  for (let j = 0; j < d; j++) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += values[i * d + j]!;
    mean /= n;
    for (let i = 0; i < n; i++) values[i * d + j] -= mean;
  }
  return { values, n, dx, dy };
}

/** How often each row occurs in a bootstrap resample (a resample is a list of row indices with repeats). */
export function rowCounts(rows: Int32Array, n: number): Float64Array {
  const counts = new Float64Array(n);
  for (let i = 0; i < rows.length; i++) counts[rows[i]!]++;
  return counts;
}

/**
 * The centred scatter matrix Σ_i w_i (z_i − z̄)(z_i − z̄)ᵀ of the joint columns, D×D (D = dx + dy), full symmetric,
 * float64; w_i = 1 for every row, or the row's count in a bootstrap resample (rows with weight 0 are skipped, about
 * a third of them). Accumulated four rows at a time, so each entry of the D×D result is loaded and stored once per
 * four rows rather than once per row — the inner loop's memory traffic is what bounds this in JavaScript.
 */
export function centredScatter(joint: JointColumns, weights: Float64Array | null): Float64Array {
  const { values, n } = joint;
  const d = joint.dx + joint.dy;
  const mean = new Float64Array(d);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const w = weights ? weights[i]! : 1;
    if (w === 0) continue;
    total += w;
    for (let j = 0; j < d; j++) mean[j] += w * values[i * d + j]!;
  }
  for (let j = 0; j < d; j++) mean[j] /= total;
  // Rows with weight > 0, centred and multiplied by √w, packed four at a time into `block`.
  const block = new Float64Array(4 * d);
  const s = new Float64Array(d * d);
  let filled = 0;
  const flush = (): void => {
    for (let r = filled; r < 4; r++) block.fill(0, r * d, r * d + d);
    accumulateFour(s, block, d);
    filled = 0;
  };
  for (let i = 0; i < n; i++) {
    const w = weights ? weights[i]! : 1;
    if (w === 0) continue;
    const root = Math.sqrt(w);
    for (let j = 0; j < d; j++) block[filled * d + j] = (values[i * d + j]! - mean[j]!) * root;
    if (++filled === 4) flush();
  }
  if (filled > 0) flush();
  for (let a = 0; a < d; a++) for (let b = 0; b < a; b++) s[a * d + b] = s[b * d + a]!;
  return s;
}

/** s[a, b] += Σ_r block[r, a]·block[r, b] over the four rows of block, upper triangle only. */
function accumulateFour(s: Float64Array, block: Float64Array, d: number): void {
  for (let a = 0; a < d; a++) {
    const p0 = block[a]!;
    const p1 = block[d + a]!;
    const p2 = block[2 * d + a]!;
    const p3 = block[3 * d + a]!;
    const row = a * d;
    for (let b = a; b < d; b++) {
      s[row + b] += p0 * block[b]! + p1 * block[d + b]! + p2 * block[2 * d + b]! + p3 * block[3 * d + b]!;
    }
  }
}

export interface DependencePoint {
  /** In [0, 1]: 0 for no (linear, resp. kernel-detectable) dependence, 1 for identical geometry. */
  readonly estimate: number;
  readonly rows: number;
}

/**
 * Linear CKA: ‖XᵀY‖²_F / (‖XᵀX‖_F·‖YᵀY‖_F) on column-centred X, Y. In [0, 1]; unchanged by orthogonal maps and
 * isotropic scaling of either part, but NOT by per-column scaling (no z-scoring here, deliberately: that would
 * break the orthogonal invariance). For isotropic parts with canonical correlations ρ_i it tends to Σρ_i²/d; at
 * independence it is biased up by about √(dx·dy)/n. Zero when either part is constant.
 */
export function linearCka(x: Float32Array, y: Float32Array, n: number, dx: number, dy: number): DependencePoint {
  checkPair("linearCka", x, y, n, dx, dy, 2);
  const joint = joinColumns(x, y, n, dx, dy);
  return { estimate: ckaFromScatter(centredScatter(joint, null), dx, dy), rows: n };
}

/** linearCka with a bootstrap interval over items (recomputed on each resample, recentred: StatisticBootstrapOptions). */
export function estimateLinearCka(x: Float32Array, y: Float32Array, n: number, dx: number, dy: number, options: StatisticBootstrapOptions): MiEstimate {
  checkPair("estimateLinearCka", x, y, n, dx, dy, 2);
  const joint = joinColumns(x, y, n, dx, dy);
  const { estimate, lo, hi } = bootstrapScatterStatistic(joint, (scatter) => ckaFromScatter(scatter, dx, dy), options);
  return { estimate, interval: { lo, hi }, rows: n };
}

/** At most this many blocks of items in bootstrapScatterStatistic. */
const SCATTER_BLOCKS = 200;

/**
 * bootstrapStatistic for a statistic of the joint centred scatter matrix, resampling items in blocks: the rows are
 * dealt (seeded shuffle) into at most SCATTER_BLOCKS blocks, each block's count, column sums and raw second moments
 * are summed once, and a resample draws blocks with replacement, so its scatter Σ_b w_b M_b − S Sᵀ/N costs
 * blocks·D² instead of n·D² (at Baby's 7,050 items × 64 columns, 200 resamples take ~0.1 s instead of ~2.4 s).
 * Items are exchangeable, so a random block of m items is m independent draws and a resample of blocks varies like a
 * resample of items; with n ≤ SCATTER_BLOCKS every block is one item and this is the item bootstrap exactly.
 */
export function bootstrapScatterStatistic(joint: JointColumns, statistic: (scatter: Float64Array) => number, options: StatisticBootstrapOptions): StatisticInterval {
  return new ScatterBootstrap(joint, options).interval(statistic);
}

/**
 * bootstrapScatterStatistic for several statistics of one pair: the blocks and each resample's scatter are computed
 * once and shared (Gaussian MI and CKA of the same parts in the MI panel), with the same resamples for every
 * statistic, so each one's interval is the one bootstrapScatterStatistic would give.
 */
export class ScatterBootstrap {
  private readonly blocks: ScatterBlocks;
  private readonly scatters = new Map<string, Float64Array>();
  private fullScatter: Float64Array | null = null;

  constructor(
    private readonly joint: JointColumns,
    private readonly options: StatisticBootstrapOptions,
  ) {
    this.blocks = scatterBlocks(joint, Math.min(joint.n, SCATTER_BLOCKS), deriveSeed(options.seed, 31));
  }

  interval(statistic: (scatter: Float64Array) => number): StatisticInterval {
    const scatterOf = (chosen: Int32Array): Float64Array => {
      const key = chosen.join(",");
      let s = this.scatters.get(key);
      if (!s) this.scatters.set(key, (s = blockScatter(this.blocks, chosen)));
      return s;
    };
    const result = bootstrapStatistic(this.blocks.count.length, (chosen) => statistic(scatterOf(chosen)), this.options);
    // The reported estimate is the point estimate's own arithmetic (centred rows), not the moments' (which agree to ~1e-15).
    this.fullScatter ??= centredScatter(this.joint, null);
    return { ...result, estimate: statistic(this.fullScatter) };
  }
}

interface ScatterBlocks {
  readonly d: number;
  /** rows per block */
  readonly count: Float64Array;
  /** per block, column sums [blocks, d] */
  readonly sums: Float64Array;
  /** per block, raw second moments Σ z zᵀ [blocks, d, d] (upper triangle) */
  readonly moments: Float64Array;
}

function scatterBlocks(joint: JointColumns, nBlocks: number, seed: number): ScatterBlocks {
  const { values, n } = joint;
  const d = joint.dx + joint.dy;
  const order = new Rng(seed).permutation(n);
  const count = new Float64Array(nBlocks);
  const sums = new Float64Array(nBlocks * d);
  const moments = new Float64Array(nBlocks * d * d);
  for (let k = 0; k < n; k++) {
    const b = k % nBlocks;
    const i = order[k]!;
    count[b]++;
    const base = b * d * d;
    for (let a = 0; a < d; a++) {
      const za = values[i * d + a]!;
      sums[b * d + a] += za;
      const row = base + a * d;
      for (let c = a; c < d; c++) moments[row + c] += za * values[i * d + c]!;
    }
  }
  return { d, count, sums, moments };
}

/** The centred scatter of the items in the chosen blocks (with repeats), full symmetric D×D. */
function blockScatter(blocks: ScatterBlocks, chosen: Int32Array): Float64Array {
  const { d, count, sums, moments } = blocks;
  const weights = rowCounts(chosen, count.length);
  const s = new Float64Array(d * d);
  const sum = new Float64Array(d);
  let total = 0;
  for (let b = 0; b < weights.length; b++) {
    const w = weights[b]!;
    if (w === 0) continue;
    total += w * count[b]!;
    for (let a = 0; a < d; a++) sum[a] += w * sums[b * d + a]!;
    const base = b * d * d;
    for (let a = 0; a < d; a++) {
      const row = a * d;
      for (let c = a; c < d; c++) s[row + c] += w * moments[base + row + c]!;
    }
  }
  for (let a = 0; a < d; a++) {
    for (let c = a; c < d; c++) {
      s[a * d + c] -= (sum[a]! * sum[c]!) / total;
      s[c * d + a] = s[a * d + c]!;
    }
  }
  return s;
}

/** CKA from the joint scatter's blocks: ‖S_xy‖²_F / (‖S_xx‖_F ‖S_yy‖_F). */
export function ckaFromScatter(s: Float64Array, dx: number, dy: number): number {
  const d = dx + dy;
  let xx = 0;
  let yy = 0;
  let xy = 0;
  for (let a = 0; a < d; a++) {
    for (let b = 0; b < d; b++) {
      const v = s[a * d + b]! * s[a * d + b]!;
      if (a < dx && b < dx) xx += v;
      else if (a >= dx && b >= dx) yy += v;
      else if (a < dx) xy += v;
    }
  }
  const denominator = Math.sqrt(xx) * Math.sqrt(yy);
  return denominator > 0 ? xy / denominator : 0;
}

export interface RbfCkaOptions {
  readonly seed: number;
  /** Rows used (a seeded subsample of larger inputs): the Gram matrices cost rows². Default 500. */
  readonly maxRows?: number;
}

/**
 * CKA with Gaussian kernels, i.e. HSIC normalised to [0, 1]: ⟨HKH, HLH⟩_F / (‖HKH‖_F ‖HLH‖_F) with
 * K_ij = exp(−‖x_i − x_j‖² / (2σ_x²)), σ_x the median pairwise distance (the median heuristic), likewise L on y.
 * Unlike linear CKA it also sees non-linear dependence. Computed on a seeded subsample of `maxRows` rows.
 */
export function rbfCka(x: Float32Array, y: Float32Array, n: number, dx: number, dy: number, options: RbfCkaOptions): DependencePoint {
  const grams = rbfGrams("rbfCka", x, y, n, dx, dy, options);
  return { estimate: kernelCka(grams.k, grams.l, grams.m, null), rows: grams.m };
}

/**
 * rbfCka with a bootstrap percentile interval over the subsample's items. The kernel bandwidths are held at their
 * full-subsample values (only the items are resampled), so the interval is conditional on them.
 */
export function estimateRbfCka(x: Float32Array, y: Float32Array, n: number, dx: number, dy: number, options: RbfCkaOptions & StatisticBootstrapOptions): MiEstimate {
  const grams = rbfGrams("estimateRbfCka", x, y, n, dx, dy, options);
  const statistic = (rows: Int32Array): number => kernelCka(grams.k, grams.l, grams.m, rows);
  const { estimate, lo, hi } = bootstrapStatistic(grams.m, statistic, { ...options, seed: deriveSeed(options.seed, 2) });
  return { estimate, interval: { lo, hi }, rows: grams.m };
}

function rbfGrams(who: string, x: Float32Array, y: Float32Array, n: number, dx: number, dy: number, options: RbfCkaOptions): { k: Float64Array; l: Float64Array; m: number } {
  checkPair(who, x, y, n, dx, dy, 2);
  const maxRows = options.maxRows ?? 500;
  if (!Number.isInteger(maxRows) || maxRows < 2) throw new SeaError(`must be an integer ≥ 2 (got ${maxRows})`, { where: `${who}.maxRows` });
  const rows = n <= maxRows ? Int32Array.from({ length: n }, (_, i) => i) : new Rng(deriveSeed(options.seed, 1)).permutation(n).slice(0, maxRows).sort();
  return { k: gaussianGram(x, dx, rows), l: gaussianGram(y, dy, rows), m: rows.length };
}

/** The Gaussian-kernel Gram matrix of the chosen rows, bandwidth = median pairwise Euclidean distance. */
function gaussianGram(v: Float32Array, d: number, rows: Int32Array): Float64Array {
  const m = rows.length;
  const sq = new Float64Array(m * m);
  const upper = new Float64Array((m * (m - 1)) / 2);
  let u = 0;
  for (let i = 0; i < m; i++) {
    const a = rows[i]! * d;
    for (let j = i + 1; j < m; j++) {
      const b = rows[j]! * d;
      let s = 0;
      for (let c = 0; c < d; c++) {
        const diff = v[a + c]! - v[b + c]!;
        s += diff * diff;
      }
      sq[i * m + j] = s;
      sq[j * m + i] = s;
      upper[u++] = s;
    }
  }
  upper.sort();
  const medianSq = upper.length % 2 ? upper[(upper.length - 1) / 2]! : (upper[upper.length / 2 - 1]! + upper[upper.length / 2]!) / 2;
  // All rows identical (median 0): every kernel value is 1, which centres to zero — no information, CKA reports 0.
  const scale = medianSq > 0 ? -1 / (2 * medianSq) : 0;
  for (let p = 0; p < m * m; p++) sq[p] = Math.exp(sq[p]! * scale);
  return sq;
}

/**
 * ⟨HKH, HLH⟩ / (‖HKH‖ ‖HLH‖) over the rows `rows` (with repeats; null = all m rows), without forming the
 * resampled matrices: centring is done on the fly from row means and the grand mean of each gathered kernel.
 */
function kernelCka(k: Float64Array, l: Float64Array, m: number, rows: Int32Array | null): number {
  const idx = rows ?? Int32Array.from({ length: m }, (_, i) => i);
  const r = idx.length;
  const kMean = gatheredRowMeans(k, m, idx);
  const lMean = gatheredRowMeans(l, m, idx);
  const kAll = meanOf(kMean);
  const lAll = meanOf(lMean);
  let kl = 0;
  let kk = 0;
  let ll = 0;
  for (let a = 0; a < r; a++) {
    const ra = idx[a]! * m;
    const ka = kAll - kMean[a]!;
    const la = lAll - lMean[a]!;
    for (let b = 0; b < r; b++) {
      const kc = k[ra + idx[b]!]! - kMean[b]! + ka;
      const lc = l[ra + idx[b]!]! - lMean[b]! + la;
      kl += kc * lc;
      kk += kc * kc;
      ll += lc * lc;
    }
  }
  const denominator = Math.sqrt(kk) * Math.sqrt(ll);
  return denominator > 0 ? kl / denominator : 0;
}

function gatheredRowMeans(g: Float64Array, m: number, idx: Int32Array): Float64Array {
  const out = new Float64Array(idx.length);
  for (let a = 0; a < idx.length; a++) {
    const row = idx[a]! * m;
    let s = 0;
    for (let b = 0; b < idx.length; b++) s += g[row + idx[b]!]!;
    out[a] = s / idx.length;
  }
  return out;
}

function meanOf(v: Float64Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]!;
  return s / v.length;
}

/** Shape and finiteness of both parts, and a minimum row count, as SeaErrors naming the argument. */
export function checkPair(who: string, x: Float32Array, y: Float32Array, n: number, dx: number, dy: number, minRows: number): void {
  checkMatrix(`${who} x`, x, n, dx);
  checkMatrix(`${who} y`, y, n, dy);
  if (n < minRows) throw new SeaError(`${n} rows are too few (need at least ${minRows})`, { where: `${who} n` });
}

/** Other names for estimateLinearCka / estimateRbfCka (point estimate with bootstrap interval); kept so callers written either way compile. */
