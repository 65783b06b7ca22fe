/** Figures from run results on disk (see src/train/runRecord.ts): builders return plotly specs, export.ts writes them. */
export * from "./types";
export * from "./style";
export * from "./runs";
export * from "./sweep";
export * from "./trainingCurves";
export * from "./ablation";
export * from "./plugIn";
export * from "./miCurves";
export * from "./sensitivity";
export * from "./table";
export * from "./umap";
export * from "./export";
export * from "./batch";
export * from "./recovery";
export * from "./miComparison";
export * from "./miSummary";
export * from "./findings";
