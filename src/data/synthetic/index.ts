/**
 * Synthetic MMRec-format datasets with planted ground truth (docs/method.md §11), one stage per module:
 *   config.ts             what a dataset is made of, and its checks
 *   presets.ts            the named sizes (tiny, small, baby-shape)
 *   plantedFactors.ts     the shared and unique factors planted in each item
 *   features.ts           each modality's features, a random map of the factors plus noise
 *   affinity.ts           item factors, user preferences and popularity: the terms of the user–item affinity
 *   interactionSampler.ts interaction counts per user and the weighted draws without replacement
 *   split.ts              the per-user train/valid/test split
 *   generate.ts           the generator, which runs the stages above from one seed
 *   writeDataset.ts       the MMRec folder and the ground-truth arrays on disk
 *   groundTruthFile.ts    ground_truth.json and reading the planted factors back
 */
export type { SyntheticConfig, SyntheticModalityConfig } from "./config";
export { isSyntheticPreset, SYNTHETIC_PRESET_NAMES, SYNTHETIC_PRESETS, type SyntheticPreset } from "./presets";
export type { PlantedTruth } from "./plantedFactors";
export { heldOutCounts, type SyntheticInteractions } from "./split";
export { GENERATOR_VERSION, generateSynthetic, syntheticSplitCsr, type SyntheticData } from "./generate";
export { writeSynthetic } from "./writeDataset";
export { GROUND_TRUTH_FILE, loadGroundTruth, type GroundTruth, type GroundTruthRecord } from "./groundTruthFile";
