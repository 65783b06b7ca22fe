import * as path from "node:path";

/**
 * How big the notebooks' experiments are. `SEA_NOTEBOOK_SIZE` = `tiny` (CI: seconds per run),
 * `small` (the default: the shipped dataset, a real if short ablation) or a dataset folder path
 * (a real MMRec dataset such as Baby, with the reference's training length).
 */
export interface NotebookPlan {
  /** `sea` dataset argument: a preset name or a folder. */
  readonly dataset: string;
  readonly size: "tiny" | "small" | "custom";
  readonly epochs: number;
  readonly seeds: readonly number[];
  readonly variants: readonly string[];
  /** Config overrides (`key=value`) applied to every run of the notebooks at this size. */
  readonly sets: readonly string[];
  /** The plug-in study of notebook 07: backbones crossed with variants. */
  readonly plugIn: { readonly backbones: readonly string[]; readonly variants: readonly string[] };
  /** Values swept by the sensitivity notebook. */
  readonly sweep: { readonly alpha: readonly number[]; readonly tau: readonly number[]; readonly clubWeight: readonly number[] };
  /** Where the notebooks keep their runs (re-running reuses finished ones). */
  readonly runsDir: string;
  /** Where figures are written. */
  readonly figuresDir: string;
}

/**
 * The short ablation on the shipped `small` dataset: `npm start` runs exactly this (into runs/small/ablation),
 * so the notebooks at their default size reuse its runs. About 11k training interactions: a batch of 1024 gives
 * 11 steps per epoch; a larger learning rate than the reference's 1e-4 (tuned for Baby's 58 batches × hundreds of
 * epochs) lets a few epochs show the variants apart. Every variant gets the same settings.
 */
export const SMALL_ABLATION = {
  epochs: 8,
  seeds: [1, 2] as readonly number[],
  sets: ["batchSize=1024", "lr=0.002", "clubSteps=10", "miSteps=150", "miEvery=2", "patience=10"] as readonly string[],
};

const ALL_VARIANTS = ["sea", "no-club", "no-solosim", "no-both", "orthogonal", "neg-l2", "subtraction"];

/** The paper's generalization study: each backbone alone and with SEA's separation (lightgcn has no content: plain only). */
const PLUG_IN = { backbones: ["lightgcn", "vbpr", "freedom", "sea"], variants: ["plain", "sea"] } as const;

export function notebookPlan(env: Readonly<Record<string, string | undefined>> = process.env): NotebookPlan {
  const raw = env.SEA_NOTEBOOK_SIZE?.trim() || "small";
  const repo = path.resolve(__dirname, "..", "..");
  const dirs = (tag: string) => ({ runsDir: path.join(repo, "runs", tag), figuresDir: path.join(repo, "figures", tag === "small" ? "" : tag) });
  if (raw === "tiny") {
    return {
      dataset: "tiny",
      size: "tiny",
      epochs: 2,
      seeds: [1, 2],
      variants: ALL_VARIANTS,
      plugIn: PLUG_IN,
      sets: ["batchSize=256", "clubSteps=5", "miSteps=30", "lr=0.005"],
      sweep: { alpha: [0.004, 0.012, 0.05], tau: [0.1, 0.2, 0.5], clubWeight: [0.002, 0.006, 0.02] },
      ...dirs("tiny"),
    };
  }
  if (raw === "small") {
    return {
      dataset: "small",
      size: "small",
      epochs: SMALL_ABLATION.epochs,
      seeds: SMALL_ABLATION.seeds,
      variants: ALL_VARIANTS,
      plugIn: PLUG_IN,
      sets: SMALL_ABLATION.sets,
      sweep: { alpha: [0.003, 0.012, 0.05], tau: [0.1, 0.2, 0.5], clubWeight: [0.0015, 0.006, 0.024] },
      ...dirs("small"),
    };
  }
  const tag = path.basename(path.resolve(raw));
  return {
    dataset: raw,
    size: "custom",
    epochs: 1000,
    seeds: [1, 2, 3],
    variants: ALL_VARIANTS,
    plugIn: PLUG_IN,
    sets: ["miEvery=5"],
    sweep: { alpha: [0.003, 0.012, 0.05], tau: [0.1, 0.2, 0.5], clubWeight: [0.0015, 0.006, 0.024] },
    ...dirs(tag),
  };
}
