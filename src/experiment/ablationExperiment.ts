/**
 * `sea ablate` as an experiment: one dataset, (backbones ×) variants × seeds, the same config values for every run. Built
 * with the experiment file's validation, so the flags and an equivalent experiment file give the same
 * definition fingerprint (`npm start` and experiments/small/ablation.yaml share runs/small/ablation).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { isSyntheticPreset } from "../data/synthetic";
import { validateExperiment, type ExperimentSpec } from "./spec";

export interface AblationFlags {
  /** A preset name or a dataset folder. */
  readonly dataset: string;
  /** Backbones crossed with the variants ([]: the config's backbone, no backbone axis). */
  readonly backbones: readonly string[];
  readonly variants: readonly string[];
  readonly seeds: readonly number[];
  /** Config values for every run (from --config and --set; epochs included). */
  readonly set: Readonly<Record<string, unknown>>;
  readonly threadsPerCell: number;
  readonly out: string;
}

export function ablationExperiment(flags: AblationFlags): ExperimentSpec {
  // An existing folder wins over a preset of the same name, as everywhere else; folders are recorded absolute.
  const dataset = isSyntheticPreset(flags.dataset) && !fs.existsSync(flags.dataset) ? flags.dataset : path.resolve(flags.dataset);
  return validateExperiment(
    { name: "ablate", output: flags.out, datasets: [dataset], ...(flags.backbones.length > 0 ? { backbones: flags.backbones } : {}), variants: flags.variants, seeds: flags.seeds, set: flags.set, threadsPerCell: flags.threadsPerCell },
    "sea ablate",
  );
}
