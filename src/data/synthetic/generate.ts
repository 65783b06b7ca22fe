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
 * Every random stream is derived from the seed with a fixed label per stage, so same seed ⇒ same bytes; the
 * labels are all here, in generateSynthetic, which runs the stages (one module each) in order.
 */
import { csrFromCoo, type Csr } from "../../util/csr";
import { SeaError } from "../../util/errors";
import { Rng, deriveSeed } from "../../util/rng";
import type { FeatureMatrix, SplitName } from "../types";
import { concatItemFactors, popularityBias, userPreferences } from "./affinity";
import { validateSyntheticConfig, type SyntheticConfig } from "./config";
import { modalityFeatures } from "./features";
import { interactionCounts, sampleInteractions } from "./interactionSampler";
import { sharedFactors, uniqueFactors, type PlantedTruth } from "./plantedFactors";
import { isSyntheticPreset, SYNTHETIC_PRESET_NAMES, SYNTHETIC_PRESETS, type SyntheticPreset } from "./presets";
import { splitPerUser, type SyntheticInteractions } from "./split";

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

/** Generates a dataset in memory. Deterministic in (preset or config, seed). */
export function generateSynthetic(preset: SyntheticPreset | SyntheticConfig, seed: number): SyntheticData {
  const presetName = typeof preset === "string" ? preset : "custom";
  if (typeof preset === "string" && !isSyntheticPreset(preset)) {
    throw new SeaError(`unknown synthetic preset "${preset}" (known: ${SYNTHETIC_PRESET_NAMES.join(", ")})`, { where: "preset" });
  }
  const config = typeof preset === "string" ? SYNTHETIC_PRESETS[preset] : preset;
  validateSyntheticConfig(config);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new SeaError(`must be an integer in [0, 2^32), got ${seed}`, { where: "seed" });

  const { nUsers, nItems } = config;
  const { shared, clusters } = sharedFactors(config, new Rng(deriveSeed(seed, 1)));
  const unique: Record<string, Float32Array> = {};
  config.modalities.forEach((m, k) => {
    unique[m.name] = uniqueFactors(nItems, m.uniqueDim, new Rng(deriveSeed(seed, 2, k)));
  });
  const features = config.modalities.map((m, k) =>
    modalityFeatures(config, m, shared, unique[m.name]!, new Rng(deriveSeed(seed, 3, k))),
  );
  const itemFactors = concatItemFactors(config, shared, unique);
  const userPrefs = userPreferences(config, new Rng(deriveSeed(seed, 4)));
  const bias = popularityBias(config, new Rng(deriveSeed(seed, 5)));
  const counts = interactionCounts(config, new Rng(deriveSeed(seed, 6)));
  const sampled = sampleInteractions(config, itemFactors, userPrefs, bias, counts, new Rng(deriveSeed(seed, 7)));
  const interactions = splitPerUser(config, counts, sampled, new Rng(deriveSeed(seed, 8)));
  return { preset: presetName, seed, config, nUsers, nItems, interactions, features, truth: { shared, unique, clusters } };
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
