/**
 * Synthetic MMRec-format datasets with planted ground truth (docs/method.md §11).
 *
 * Generative story, per item i:
 *   cluster c_i ~ Uniform{0..C-1};  z_g(i) = (mu_{c_i} + s·e) / sqrt(1 + s²)      shared factor, dim dg
 *   z_m(i) ~ N(0, I)                                                               unique factor of modality m, dim du
 *   x_m(i) = standardise(f_m([z_g(i), z_m(i)])) + noise·N(0, I)                   features of modality m
 * with f_m a random Gaussian linear map, or (nonlinear) tanh of one random layer followed by a second
 * random linear map. Per user u: preferences p_g, p_m ~ N(0, I) and
 *   affinity(u, i) = w_s <p_g, z_g(i)>/sqrt(dg) + Σ_m w_u <p_m, z_m(i)>/sqrt(du) + b_i,   b_i ~ N(0, σ_pop²)
 * (b_i is a log-normal popularity multiplier on the sampling weight). Each user draws n_u items without
 * replacement with probability ∝ exp(affinity/T); n_u = min + a log-normal share of the remaining budget,
 * so counts are heavy-tailed and 5-core-like. Each user's items are split at random ~8:1:1.
 *
 * Nothing here is tuned toward any method: the constants are round numbers chosen for scale only.
 * Every random stream is derived from the seed with a fixed label per stage, so same seed ⇒ same bytes.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { csrFromCoo, type Csr } from "../util/csr";
import { writeFileAtomic, writeJsonAtomic } from "../util/atomicWrite";
import { SeaError } from "../util/errors";
import { Rng, deriveSeed } from "../util/rng";
import { readNpy, writeNpy } from "./npy";
import type { FeatureMatrix, SplitName } from "./types";

export interface SyntheticModalityConfig {
  /** Modality name: features go to `<name>_feat.npy`, planted unique factors to `gt_<name>.npy`. */
  readonly name: string;
  /** Feature width. */
  readonly dim: number;
  /** Width du of this modality's unique factor z_m. */
  readonly uniqueDim: number;
}

export interface SyntheticConfig {
  readonly nUsers: number;
  readonly nItems: number;
  /** Target number of interactions over all splits (met in expectation, within rounding). */
  readonly interactions: number;
  /** Every user gets at least this many interactions (5 = a 5-core-like floor). */
  readonly minPerUser: number;
  /** Log-normal sigma of each user's share of the interactions above the floor: larger ⇒ heavier tail. */
  readonly perUserSigma: number;
  /** Width dg of the shared factor z_g. */
  readonly sharedDim: number;
  /** Number of Gaussian-mixture components of z_g (item cluster labels). */
  readonly clusters: number;
  /** Within-cluster std relative to the std of the cluster centres. */
  readonly clusterSpread: number;
  readonly modalities: readonly SyntheticModalityConfig[];
  /** Features = tanh layer + linear map instead of one linear map. */
  readonly nonlinear: boolean;
  /** Width of the tanh layer when `nonlinear`. */
  readonly hiddenDim: number;
  /** Std of the Gaussian noise added to features whose noiseless part has unit variance per column. */
  readonly featureNoise: number;
  /** Weight of the shared and of each modality's unique factor in the user–item affinity. */
  readonly userWeights: { readonly shared: number; readonly unique: number };
  /** Std of the log item popularity bias b_i. */
  readonly popularitySigma: number;
  /** Softmax temperature of the interaction sampling: lower ⇒ users follow their affinities more strictly. */
  readonly temperature: number;
  /** Per-user train/valid/test proportions. */
  readonly split: readonly [number, number, number];
}

export type SyntheticPreset = "tiny" | "small" | "baby-shape";

const BASE: Omit<SyntheticConfig, "nUsers" | "nItems" | "interactions" | "sharedDim" | "clusters" | "modalities"> = {
  minPerUser: 5,
  perUserSigma: 1,
  clusterSpread: 0.5,
  nonlinear: false,
  hiddenDim: 64,
  featureNoise: 0.5,
  userWeights: { shared: 1, unique: 1 },
  popularitySigma: 1,
  temperature: 1,
  split: [0.8, 0.1, 0.1],
};

export const SYNTHETIC_PRESETS: Readonly<Record<SyntheticPreset, SyntheticConfig>> = {
  /** Tests: generates in a few milliseconds. */
  tiny: {
    ...BASE,
    nUsers: 300,
    nItems: 200,
    interactions: 2700,
    sharedDim: 4,
    clusters: 4,
    modalities: [
      { name: "image", dim: 32, uniqueDim: 4 },
      { name: "text", dim: 16, uniqueDim: 4 },
    ],
  },
  /** The shipped default dataset (data/small): demos, notebooks, quick ablations. */
  small: {
    ...BASE,
    nUsers: 1500,
    nItems: 1000,
    interactions: 15000,
    sharedDim: 16,
    clusters: 8,
    modalities: [
      { name: "image", dim: 256, uniqueDim: 8 },
      { name: "text", dim: 64, uniqueDim: 8 },
    ],
  },
  /** Amazon Baby's shape (README "Datasets"): sizes, interaction count and feature widths, for benchmarks. */
  "baby-shape": {
    ...BASE,
    nUsers: 19445,
    nItems: 7050,
    interactions: 160792,
    sharedDim: 16,
    clusters: 8,
    modalities: [
      { name: "image", dim: 4096, uniqueDim: 8 },
      { name: "text", dim: 384, uniqueDim: 8 },
    ],
  },
};

export const SYNTHETIC_PRESET_NAMES = Object.keys(SYNTHETIC_PRESETS) as SyntheticPreset[];

export function isSyntheticPreset(name: string): name is SyntheticPreset {
  return Object.prototype.hasOwnProperty.call(SYNTHETIC_PRESETS, name);
}

/** Planted factors per item. */
export interface PlantedTruth {
  /** [items × sharedDim] row-major */
  readonly shared: Float32Array;
  /** modality name → [items × uniqueDim] row-major */
  readonly unique: Readonly<Record<string, Float32Array>>;
  /** Gaussian-mixture component of each item's shared factor. */
  readonly clusters: Int32Array;
}

/** Interactions in file order: grouped by user, items ascending within a user. */
export interface SyntheticInteractions {
  readonly users: Int32Array;
  readonly items: Int32Array;
  /** 0 train, 1 valid, 2 test (MMRec x_label) */
  readonly splits: Uint8Array;
}

export interface SyntheticData {
  /** Preset name, or "custom" for a config object. */
  readonly preset: string;
  readonly seed: number;
  readonly config: SyntheticConfig;
  readonly nUsers: number;
  readonly nItems: number;
  readonly interactions: SyntheticInteractions;
  readonly features: readonly FeatureMatrix[];
  readonly truth: PlantedTruth;
}

/** Bumped whenever the generator's output for a given (config, seed) changes. */
export const GENERATOR_VERSION = 1;

// ---------------------------------------------------------------------------------------------
// Generation

/** Generates a dataset in memory. Deterministic in (preset or config, seed). */
export function generateSynthetic(preset: SyntheticPreset | SyntheticConfig, seed: number): SyntheticData {
  const presetName = typeof preset === "string" ? preset : "custom";
  if (typeof preset === "string" && !isSyntheticPreset(preset)) {
    throw new SeaError(`unknown synthetic preset "${preset}" (known: ${SYNTHETIC_PRESET_NAMES.join(", ")})`, { where: "preset" });
  }
  const config = typeof preset === "string" ? SYNTHETIC_PRESETS[preset] : preset;
  validateConfig(config);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new SeaError(`must be an integer in [0, 2^32), got ${seed}`, { where: "seed" });

  const { nUsers, nItems } = config;
  const { shared, clusters } = sharedFactors(config, new Rng(deriveSeed(seed, 1)));
  const unique: Record<string, Float32Array> = {};
  config.modalities.forEach((m, k) => {
    const z = new Float32Array(nItems * m.uniqueDim);
    new Rng(deriveSeed(seed, 2, k)).fillNormal(z);
    unique[m.name] = z;
  });
  const features = config.modalities.map((m, k) =>
    modalityFeatures(config, m, shared, unique[m.name]!, new Rng(deriveSeed(seed, 3, k))),
  );
  const itemFactors = concatItemFactors(config, shared, unique);
  const userPrefs = userPreferences(config, new Rng(deriveSeed(seed, 4)));
  const bias = new Float64Array(nItems);
  new Rng(deriveSeed(seed, 5)).fillNormal(bias, 0, config.popularitySigma);
  const counts = interactionCounts(config, new Rng(deriveSeed(seed, 6)));
  const sampled = sampleInteractions(config, itemFactors, userPrefs, bias, counts, new Rng(deriveSeed(seed, 7)));
  const interactions = splitPerUser(config, counts, sampled, new Rng(deriveSeed(seed, 8)));
  return { preset: presetName, seed, config, nUsers, nItems, interactions, features, truth: { shared, unique, clusters } };
}

function validateConfig(c: SyntheticConfig): void {
  const positiveInt = (v: number, field: string): void => {
    if (!Number.isInteger(v) || v < 1) throw new SeaError(`must be a positive integer, got ${v}`, { where: `synthetic config ${field}` });
  };
  const nonNegative = (v: number, field: string): void => {
    if (!(Number.isFinite(v) && v >= 0)) throw new SeaError(`must be a finite number ≥ 0, got ${v}`, { where: `synthetic config ${field}` });
  };
  positiveInt(c.nUsers, "nUsers");
  positiveInt(c.nItems, "nItems");
  positiveInt(c.interactions, "interactions");
  positiveInt(c.minPerUser, "minPerUser");
  positiveInt(c.sharedDim, "sharedDim");
  positiveInt(c.clusters, "clusters");
  positiveInt(c.hiddenDim, "hiddenDim");
  nonNegative(c.perUserSigma, "perUserSigma");
  nonNegative(c.clusterSpread, "clusterSpread");
  nonNegative(c.featureNoise, "featureNoise");
  nonNegative(c.userWeights.shared, "userWeights.shared");
  nonNegative(c.userWeights.unique, "userWeights.unique");
  nonNegative(c.popularitySigma, "popularitySigma");
  if (!(c.temperature > 0 && Number.isFinite(c.temperature))) throw new SeaError(`must be > 0, got ${c.temperature}`, { where: "synthetic config temperature" });
  if (c.minPerUser > c.nItems) throw new SeaError(`${c.minPerUser} exceeds nItems ${c.nItems}`, { where: "synthetic config minPerUser" });
  if (c.interactions < c.minPerUser * c.nUsers || c.interactions > c.nUsers * c.nItems) {
    throw new SeaError(`must lie in [minPerUser·nUsers, nUsers·nItems] = [${c.minPerUser * c.nUsers}, ${c.nUsers * c.nItems}], got ${c.interactions}`, {
      where: "synthetic config interactions",
    });
  }
  if (c.modalities.length === 0) throw new SeaError("needs at least one modality", { where: "synthetic config modalities" });
  const names = new Set<string>();
  c.modalities.forEach((m, k) => {
    if (!/^[A-Za-z0-9][A-Za-z0-9-]*$/.test(m.name) || names.has(m.name)) {
      throw new SeaError(`name "${m.name}" must be unique, letters/digits/dashes`, { where: `synthetic config modalities[${k}].name` });
    }
    names.add(m.name);
    positiveInt(m.dim, `modalities[${k}].dim`);
    positiveInt(m.uniqueDim, `modalities[${k}].uniqueDim`);
  });
  if (c.split.length !== 3 || !c.split.every((p) => Number.isFinite(p) && p >= 0) || !(c.split[0] > 0)) {
    throw new SeaError(`must be three proportions ≥ 0 with train > 0, got [${c.split.join(", ")}]`, { where: "synthetic config split" });
  }
}

/** Gaussian mixture; scaled so every coordinate of z_g has unit variance overall. */
function sharedFactors(c: SyntheticConfig, rng: Rng): { shared: Float32Array; clusters: Int32Array } {
  const dg = c.sharedDim;
  const centres = new Float64Array(c.clusters * dg);
  rng.fillNormal(centres);
  const scale = 1 / Math.sqrt(1 + c.clusterSpread * c.clusterSpread);
  const shared = new Float32Array(c.nItems * dg);
  const clusters = new Int32Array(c.nItems);
  for (let i = 0; i < c.nItems; i++) {
    const k = rng.int(c.clusters);
    clusters[i] = k;
    for (let t = 0; t < dg; t++) shared[i * dg + t] = (centres[k * dg + t]! + c.clusterSpread * rng.normal()) * scale;
  }
  return { shared, clusters };
}

/** A random Gaussian matrix [rows × cols] with entries N(0, 1/rows): unit-variance inputs give unit-variance outputs. */
function gaussianMatrix(rows: number, cols: number, rng: Rng): Float64Array {
  const w = new Float64Array(rows * cols);
  rng.fillNormal(w, 0, 1 / Math.sqrt(rows));
  return w;
}

/** out[n × q] = a[n × p] · b[p × q], all row-major. */
function matMul(a: ArrayLike<number>, b: Float64Array, n: number, p: number, q: number): Float64Array {
  const out = new Float64Array(n * q);
  for (let i = 0; i < n; i++) {
    const o = i * q;
    for (let t = 0; t < p; t++) {
      const v = a[i * p + t]!;
      if (v === 0) continue;
      const r = t * q;
      for (let j = 0; j < q; j++) out[o + j] += v * b[r + j]!;
    }
  }
  return out;
}

function modalityFeatures(c: SyntheticConfig, m: SyntheticModalityConfig, shared: Float32Array, unique: Float32Array, rng: Rng): FeatureMatrix {
  const n = c.nItems;
  const dIn = c.sharedDim + m.uniqueDim;
  const input = new Float64Array(n * dIn);
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < c.sharedDim; t++) input[i * dIn + t] = shared[i * c.sharedDim + t]!;
    for (let t = 0; t < m.uniqueDim; t++) input[i * dIn + c.sharedDim + t] = unique[i * m.uniqueDim + t]!;
  }
  let signal: Float64Array;
  if (c.nonlinear) {
    const hidden = matMul(input, gaussianMatrix(dIn, c.hiddenDim, rng), n, dIn, c.hiddenDim);
    for (let k = 0; k < hidden.length; k++) hidden[k] = Math.tanh(hidden[k]!);
    signal = matMul(hidden, gaussianMatrix(c.hiddenDim, m.dim, rng), n, c.hiddenDim, m.dim);
  } else {
    signal = matMul(input, gaussianMatrix(dIn, m.dim, rng), n, dIn, m.dim);
  }
  standardiseColumns(signal, n, m.dim);
  const data = new Float32Array(n * m.dim);
  for (let k = 0; k < data.length; k++) data[k] = signal[k]! + c.featureNoise * rng.normal();
  return { name: m.name, rows: n, cols: m.dim, data };
}

/** Centres each column and scales it to unit variance, so `featureNoise` is a noise-to-signal ratio. */
function standardiseColumns(x: Float64Array, n: number, d: number): void {
  const mean = new Float64Array(d);
  const sq = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += x[i * d + j]!;
  for (let j = 0; j < d; j++) mean[j]! /= n;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      const v = x[i * d + j]! - mean[j]!;
      x[i * d + j] = v;
      sq[j] += v * v;
    }
  }
  for (let j = 0; j < d; j++) {
    const std = Math.sqrt(sq[j]! / n);
    const inv = std > 0 ? 1 / std : 0;
    for (let i = 0; i < n; i++) x[i * d + j]! *= inv;
  }
}

/** [items × D] with D = dg + Σ du: the item side of the affinity dot product. */
function concatItemFactors(c: SyntheticConfig, shared: Float32Array, unique: Record<string, Float32Array>): Float64Array {
  const width = factorWidth(c);
  const out = new Float64Array(c.nItems * width);
  for (let i = 0; i < c.nItems; i++) {
    let o = i * width;
    for (let t = 0; t < c.sharedDim; t++) out[o++] = shared[i * c.sharedDim + t]!;
    for (const m of c.modalities) {
      const z = unique[m.name]!;
      for (let t = 0; t < m.uniqueDim; t++) out[o++] = z[i * m.uniqueDim + t]!;
    }
  }
  return out;
}

function factorWidth(c: SyntheticConfig): number {
  return c.sharedDim + c.modalities.reduce((s, m) => s + m.uniqueDim, 0);
}

/** [users × D]: N(0, 1) preferences, pre-scaled by w/sqrt(dim) so each factor kind contributes variance w². */
function userPreferences(c: SyntheticConfig, rng: Rng): Float64Array {
  const width = factorWidth(c);
  const prefs = new Float64Array(c.nUsers * width);
  rng.fillNormal(prefs);
  const scale = new Float64Array(width);
  scale.fill(c.userWeights.shared / Math.sqrt(c.sharedDim), 0, c.sharedDim);
  let o = c.sharedDim;
  for (const m of c.modalities) {
    scale.fill(c.userWeights.unique / Math.sqrt(m.uniqueDim), o, o + m.uniqueDim);
    o += m.uniqueDim;
  }
  for (let k = 0; k < prefs.length; k++) prefs[k]! *= scale[k % width]!;
  return prefs;
}

/**
 * Interactions per user: the floor plus a log-normal share of the budget above it, stochastically
 * rounded (so the total matches the target in expectation), capped at nItems.
 */
function interactionCounts(c: SyntheticConfig, rng: Rng): Int32Array {
  const w = new Float64Array(c.nUsers);
  let sum = 0;
  for (let u = 0; u < c.nUsers; u++) sum += w[u] = Math.exp(c.perUserSigma * rng.normal());
  const extra = c.interactions - c.minPerUser * c.nUsers;
  const counts = new Int32Array(c.nUsers);
  for (let u = 0; u < c.nUsers; u++) {
    const share = (extra * w[u]!) / sum;
    counts[u] = Math.min(c.nItems, c.minPerUser + Math.floor(share + rng.next()));
  }
  return counts;
}

/**
 * Per user, `counts[u]` distinct items drawn successively with probability ∝ exp(affinity/T) among
 * the items not yet drawn. This is the same distribution as Gumbel-top-k, at one exp per item instead
 * of a random number and two logs: a draw is a binary search in the cumulative weights, an already
 * drawn item is redrawn, and after many redraws (a few items hold most of the mass) the cumulative
 * weights are rebuilt without the drawn items. Returns items per user in draw order (CSR layout by counts).
 */
function sampleInteractions(
  c: SyntheticConfig,
  itemFactors: Float64Array,
  prefs: Float64Array,
  bias: Float64Array,
  counts: Int32Array,
  rng: Rng,
): Int32Array {
  const width = factorWidth(c);
  const n = c.nItems;
  const logits = new Float64Array(n);
  const cum = new Float64Array(n);
  const taken = new Uint8Array(n);
  let total = 0;
  for (let u = 0; u < c.nUsers; u++) total += counts[u]!;
  const out = new Int32Array(total);
  const invT = 1 / c.temperature;
  let w = 0;
  for (let u = 0; u < c.nUsers; u++) {
    const p = u * width;
    let max = -Infinity;
    for (let i = 0; i < n; i++) {
      let s = bias[i]!;
      const q = i * width;
      for (let t = 0; t < width; t++) s += prefs[p + t]! * itemFactors[q + t]!;
      s *= invT;
      logits[i] = s;
      if (s > max) max = s;
    }
    const start = w;
    buildCumulative(logits, max, taken, cum);
    let redraws = 0;
    while (w - start < counts[u]!) {
      const i = drawIndex(cum, rng);
      if (taken[i]) {
        if (++redraws > 64) {
          buildCumulative(logits, max, taken, cum);
          redraws = 0;
        }
        continue;
      }
      taken[i] = 1;
      out[w++] = i;
    }
    for (let k = start; k < w; k++) taken[out[k]!] = 0;
  }
  return out;
}

/** cum[i] = Σ_{j ≤ i} exp(logit_j − max) over items not taken. */
function buildCumulative(logits: Float64Array, max: number, taken: Uint8Array, cum: Float64Array): void {
  let s = 0;
  for (let i = 0; i < logits.length; i++) {
    if (!taken[i]) s += Math.exp(logits[i]! - max);
    cum[i] = s;
  }
}

/** Smallest i with cum[i] > U·total: item i with probability ∝ its weight. */
function drawIndex(cum: Float64Array, rng: Rng): number {
  const target = rng.next() * cum[cum.length - 1]!;
  let lo = 0;
  let hi = cum.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cum[mid]! > target) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * Number of valid and test items for a user with n items: round(n·p) each, at least 1 when n ≥ 3,
 * none below 3 items, and always at least one train item.
 */
export function heldOutCounts(n: number, split: readonly [number, number, number]): { valid: number; test: number } {
  if (n < 3) return { valid: 0, test: 0 };
  const total = split[0] + split[1] + split[2];
  let valid = split[1] > 0 ? Math.max(1, Math.round((n * split[1]) / total)) : 0;
  let test = split[2] > 0 ? Math.max(1, Math.round((n * split[2]) / total)) : 0;
  while (valid + test > n - 1) {
    if (valid >= test && valid > 0) valid--;
    else test--;
  }
  return { valid, test };
}

/** Random per-user split; rows come out grouped by user, items ascending within a user. */
function splitPerUser(c: SyntheticConfig, counts: Int32Array, sampled: Int32Array, rng: Rng): SyntheticInteractions {
  const users = new Int32Array(sampled.length);
  const items = new Int32Array(sampled.length);
  const splits = new Uint8Array(sampled.length);
  let start = 0;
  for (let u = 0; u < c.nUsers; u++) {
    const n = counts[u]!;
    // Shuffle first: draw order correlates with affinity, the split must not.
    const row = rng.shuffle(sampled.slice(start, start + n));
    const { valid, test } = heldOutCounts(n, c.split);
    const labelAt = (k: number): number => (k < n - valid - test ? 0 : k < n - test ? 1 : 2);
    const byItem = Array.from({ length: n }, (_, k) => k).sort((a, b) => row[a]! - row[b]!);
    byItem.forEach((k, r) => {
      users[start + r] = u;
      items[start + r] = row[k]!;
      splits[start + r] = labelAt(k);
    });
    start += n;
  }
  return { users, items, splits };
}

/** One split as a users × items CSR matrix (values 1). */
export function syntheticSplitCsr(data: SyntheticData, split: SplitName): Csr {
  const code = split === "train" ? 0 : split === "valid" ? 1 : 2;
  const { users, items, splits } = data.interactions;
  const rows: number[] = [];
  const cols: number[] = [];
  for (let k = 0; k < users.length; k++) {
    if (splits[k] !== code) continue;
    rows.push(users[k]!);
    cols.push(items[k]!);
  }
  return csrFromCoo(data.nUsers, data.nItems, rows, cols);
}

// ---------------------------------------------------------------------------------------------
// Writing and reading back

export const GROUND_TRUTH_FILE = "ground_truth.json";
/** Deterministic fake timestamps: one minute apart in file order from this Unix time (2020-01-01). */
const TIMESTAMP_BASE = 1577836800;

/** What ground_truth.json holds. Paths are relative to the dataset folder. */
export interface GroundTruthRecord {
  format: "sea-synthetic-ground-truth";
  generatorVersion: number;
  preset: string;
  seed: number;
  nUsers: number;
  nItems: number;
  sharedDim: number;
  clusters: number;
  config: SyntheticConfig;
  files: {
    shared: string;
    cluster: string;
    /** modality → planted unique factors file */
    unique: Record<string, string>;
    /** modality → feature file */
    features: Record<string, string>;
    interactions: string;
  };
  interactions: Record<SplitName, number>;
}

/**
 * Writes the MMRec files (`<name>.inter`, `<m>_feat.npy`) and the ground truth (`ground_truth.json`,
 * `gt_shared.npy`, `gt_<m>.npy`, `gt_cluster.npy`) into `outDir`, each file atomically. `name` defaults
 * to the folder's name, which is what the loader looks for. Returns the paths written.
 */
export function writeSynthetic(data: SyntheticData, outDir: string, options: { name?: string } = {}): string[] {
  const name = options.name ?? path.basename(path.resolve(outDir));
  fs.mkdirSync(outDir, { recursive: true });
  const written: string[] = [];
  const put = (file: string, write: (f: string) => void): void => {
    const full = path.join(outDir, file);
    write(full);
    written.push(full);
  };
  const interFile = `${name}.inter`;
  put(interFile, (f) => writeFileAtomic(f, interText(data.interactions)));
  for (const fm of data.features) put(`${fm.name}_feat.npy`, (f) => writeNpy(f, { dtype: "float32", shape: [fm.rows, fm.cols], data: fm.data }));
  const { config } = data;
  put("gt_shared.npy", (f) => writeNpy(f, { dtype: "float32", shape: [data.nItems, config.sharedDim], data: data.truth.shared }));
  for (const m of config.modalities) {
    put(`gt_${m.name}.npy`, (f) => writeNpy(f, { dtype: "float32", shape: [data.nItems, m.uniqueDim], data: data.truth.unique[m.name]! }));
  }
  put("gt_cluster.npy", (f) => writeNpy(f, { dtype: "int32", shape: [data.nItems], data: data.truth.clusters }));
  const counts = { train: 0, valid: 0, test: 0 };
  for (const s of data.interactions.splits) counts[s === 0 ? "train" : s === 1 ? "valid" : "test"]++;
  const record: GroundTruthRecord = {
    format: "sea-synthetic-ground-truth",
    generatorVersion: GENERATOR_VERSION,
    preset: data.preset,
    seed: data.seed,
    nUsers: data.nUsers,
    nItems: data.nItems,
    sharedDim: config.sharedDim,
    clusters: config.clusters,
    config,
    files: {
      shared: "gt_shared.npy",
      cluster: "gt_cluster.npy",
      unique: Object.fromEntries(config.modalities.map((m) => [m.name, `gt_${m.name}.npy`])),
      features: Object.fromEntries(config.modalities.map((m) => [m.name, `${m.name}_feat.npy`])),
      interactions: interFile,
    },
    interactions: counts,
  };
  put(GROUND_TRUTH_FILE, (f) => writeJsonAtomic(f, record));
  return written;
}

function interText(x: SyntheticInteractions): string {
  const lines = ["userID\titemID\trating\ttimestamp\tx_label"];
  for (let k = 0; k < x.users.length; k++) lines.push(`${x.users[k]}\t${x.items[k]}\t1\t${TIMESTAMP_BASE + 60 * k}\t${x.splits[k]}`);
  return lines.join("\n") + "\n";
}

/** Planted factors of a synthetic dataset folder, as read back from disk. */
export interface GroundTruth {
  readonly preset: string;
  readonly seed: number;
  readonly nItems: number;
  readonly sharedDim: number;
  /** [items × sharedDim] */
  readonly shared: Float32Array;
  /** modality → planted unique factors [items × dim] */
  readonly unique: Readonly<Record<string, { readonly values: Float32Array; readonly dim: number }>>;
  readonly clusters: Int32Array;
  readonly nClusters: number;
  readonly record: GroundTruthRecord;
}

/** Reads `<dir>/ground_truth.json` and the arrays it names; null when the folder has no ground_truth.json. */
export function loadGroundTruth(dir: string): GroundTruth | null {
  const jsonFile = path.join(dir, GROUND_TRUTH_FILE);
  if (!fs.existsSync(jsonFile)) return null;
  const record = parseRecord(jsonFile);
  const matrix = (file: string, cols: number, field: string): Float32Array => {
    const full = path.join(dir, plainFileName(file, field, jsonFile));
    const a = readNpy(full);
    if (a.dtype !== "float32" || a.shape.length !== 2 || a.shape[0] !== record.nItems || a.shape[1] !== cols) {
      throw new SeaError(`${field}: expected float32 [${record.nItems}, ${cols}], got ${a.dtype} [${a.shape.join(", ")}]`, { where: full });
    }
    return a.data as Float32Array;
  };
  const shared = matrix(record.files.shared, record.sharedDim, "files.shared");
  const unique: Record<string, { values: Float32Array; dim: number }> = {};
  for (const m of record.config.modalities) {
    const file = record.files.unique[m.name];
    if (typeof file !== "string") throw new SeaError(`files.unique has no entry for modality "${m.name}"`, { where: jsonFile });
    unique[m.name] = { values: matrix(file, m.uniqueDim, `files.unique.${m.name}`), dim: m.uniqueDim };
  }
  const clusterFile = path.join(dir, plainFileName(record.files.cluster, "files.cluster", jsonFile));
  const c = readNpy(clusterFile);
  if (c.dtype !== "int32" || c.shape.length !== 1 || c.shape[0] !== record.nItems) {
    throw new SeaError(`files.cluster: expected int32 [${record.nItems}], got ${c.dtype} [${c.shape.join(", ")}]`, { where: clusterFile });
  }
  return {
    preset: record.preset,
    seed: record.seed,
    nItems: record.nItems,
    sharedDim: record.sharedDim,
    shared,
    unique,
    clusters: c.data as Int32Array,
    nClusters: record.clusters,
    record,
  };
}

/** Files named in ground_truth.json must lie in the dataset folder itself. */
function plainFileName(name: string, field: string, jsonFile: string): string {
  if (name !== path.basename(name) || name === "" || name === "." || name === "..") {
    throw new SeaError(`field "${field}" must be a file name inside the dataset folder, got "${name}"`, { where: jsonFile });
  }
  return name;
}

function parseRecord(file: string): GroundTruthRecord {
  let value: unknown;
  try {
    value = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new SeaError(`not valid JSON (${(e as Error).message})`, { where: file, cause: e });
  }
  const r = value as Partial<GroundTruthRecord> | null;
  if (!r || typeof r !== "object" || r.format !== "sea-synthetic-ground-truth") {
    throw new SeaError('expected an object with "format": "sea-synthetic-ground-truth"', { where: file });
  }
  for (const field of ["nItems", "sharedDim", "clusters", "seed"] as const) {
    if (!Number.isInteger(r[field]) || (r[field] as number) < 0) throw new SeaError(`field "${field}" must be a non-negative integer`, { where: file });
  }
  if (!r.files || typeof r.files.shared !== "string" || typeof r.files.cluster !== "string" || typeof r.files.unique !== "object") {
    throw new SeaError('field "files" must name the shared, cluster and unique arrays', { where: file });
  }
  if (!r.config || !Array.isArray(r.config.modalities)) throw new SeaError('field "config.modalities" is missing', { where: file });
  return r as GroundTruthRecord;
}
