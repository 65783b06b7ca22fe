/**
 * The SEA analysis kit's public API (CommonJS build in dist/). Grouped by layer; the notebooks import
 * the same modules directly from ../dist/<layer>/<module>.
 */
export { selectBackend, type BackendInfo } from "./backend/select";
export { SparseMatrix } from "./backend/sparse";
export { readNpy, writeNpy, readFeatureMatrix } from "./data/npy";
export { loadMmrecDataset } from "./data/mmrec";
export { loadDatasetArg, resolveDatasetPath } from "./data/resolveDataset";
export { generateSynthetic, writeSynthetic, loadGroundTruth, SYNTHETIC_PRESETS } from "./data/synthetic";
export { sampleBprTriples } from "./data/bprSampling";
export type { Dataset, FeatureMatrix } from "./data/types";
export { normalizedBipartiteAdjacency } from "./graph/bipartite";
export { knnGraph, mixedItemGraph } from "./graph/knn";
export type { Csr } from "./graph/csr";
export { evaluateFullRanking, evaluateFullRankingSplits, evaluateScoreMatrix } from "./eval/fullRanking";
export { bprLoss } from "./losses/bpr";
export { bprLossOfTables } from "./losses/bprFused";
export { solosimLoss } from "./losses/solosim";
export { Club } from "./losses/club";
export { fitClubFused, newClubAdamState, type ClubAdamState } from "./losses/clubFit";
export { orthogonalPenalty } from "./losses/orthogonal";
export { negL2 } from "./losses/negL2";
export { estimateClubMi, estimateInfoNceMi } from "./analysis/mi";
export { linearProbeR2 } from "./analysis/linearProbe";
export { pairedTTest, wilcoxonSignedRank, compareVariantsPerUser } from "./analysis/significance";
export { DEFAULT_CONFIG, resolveConfig, parseOverride, type SeaConfig } from "./model/config";
export { VARIANTS, VARIANT_NAMES } from "./model/variants";
export { SeaModel } from "./model/seaModel";
export { trainRun, createTrainingParts, TrainStep, type TrainOptions } from "./train/trainer";
export { Adam, pytorchAdam } from "./train/adam";
export { runAblation, summariseAblation, writeResultsCsv } from "./train/ablation";
export { buildRunConfig, writeRunConfig } from "./train/runSetup";
export { readExperimentFile, validateExperiment, type ExperimentSpec } from "./experiment/spec";
export { expandCells, type Cell } from "./experiment/cells";
export { planExperiment } from "./experiment/plan";
export { runExperiment } from "./experiment/runExperiment";
export { experimentStatus } from "./experiment/status";
export { collectExperiment } from "./experiment/collect";
export { groundTruthFactors } from "./train/analysisHooks";
export type { RunMetrics, EpochRecord, RunConfigRecord, PerUserMetrics } from "./train/runRecord";
export * as figures from "./figures";
export { notebookPlan } from "./notebook/plan";
export { publishFigure } from "./notebook/publish";
export { Rng, deriveSeed } from "./util/rng";
export { SeaError } from "./util/errors";
