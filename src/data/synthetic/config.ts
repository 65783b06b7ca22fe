/**
 * What a synthetic dataset is made of: sizes, factor widths, feature maps, the interaction model and the split
 * (docs/method.md §11), and the checks every config passes before generation.
 */
import { SeaError } from "../../util/errors";

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

/** Rejects a config the generator cannot honour, naming the field. */
export function validateSyntheticConfig(c: SyntheticConfig): void {
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

/** D = dg + Σ du: the width of an item's concatenated factors and of a user's preferences. */
export function factorWidth(c: SyntheticConfig): number {
  return c.sharedDim + c.modalities.reduce((s, m) => s + m.uniqueDim, 0);
}
