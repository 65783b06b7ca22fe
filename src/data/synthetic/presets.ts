/** The named sizes `sea data synth --preset` and dataset names like "small" resolve to. */
import type { SyntheticConfig } from "./config";

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
