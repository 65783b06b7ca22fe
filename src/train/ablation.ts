import * as fs from "node:fs";
import * as path from "node:path";
import type { Dataset } from "../data/types";
import type { SeaConfig } from "../model/config";
import type { BackendInfo } from "../backend/select";
import { trainRun } from "./trainer";
import { withRunLock } from "./runLock";
import { buildRunConfig, writeRunConfig, assertSameConfig } from "./runSetup";
import { unsupportedCombination } from "../model/createModel";
import type { GroundTruthFactors } from "./analysisHooks";
import type { PerUserMetrics } from "../eval/metricRecords";
import { recordedBackbone, type RunMetrics } from "./runRecord";
import { compareVariantsPerUser, type VariantComparison } from "../analysis/significance";
import { writeFileAtomic } from "../util/atomicWrite";
import { meanStd } from "../analysis/descriptive";
import { SeaError } from "../util/errors";

export interface AblationOptions {
  readonly dataset: Dataset;
  /** Backbones crossed with the variants (the plug-in study); absent or []: the config's backbone, no folder level. */
  readonly backbones?: readonly string[];
  readonly variants: readonly string[];
  readonly seeds: readonly number[];
  readonly outDir: string;
  readonly backend: BackendInfo;
  readonly configFile?: string;
  readonly sets?: readonly string[];
  readonly explicit?: Partial<SeaConfig>;
  readonly groundTruth?: GroundTruthFactors | null;
  readonly quiet?: boolean;
}

export interface AblationRun {
  readonly variant: string;
  readonly seed: number;
  readonly dir: string;
  readonly metrics: RunMetrics;
  /** Further results.csv columns (an experiment's axes: dataset, config set, grid keys) → value. */
  readonly labels?: Readonly<Record<string, string>>;
}

/** A run's folder: `<out>/[<backbone>/]<variant>/seed-<n>` (the experiment layout, src/experiment/cells.ts). */
export function runDirFor(outDir: string, variant: string, seed: number, backbone: string | null = null): string {
  return backbone === null ? path.join(outDir, variant, `seed-${seed}`) : path.join(outDir, backbone, variant, `seed-${seed}`);
}

/**
 * Runs the (backbone ×) variant × seed grid in this process, one run after another (notebooks; `sea ablate` runs
 * the same grid as an experiment, in worker processes). Resumable: a finished run (metrics.json with a final stop
 * reason) is kept as it is, an interrupted one resumes from its checkpoint. A separation variant over a backbone
 * that reads no item content (lightgcn × sea) is not a model: it is left out with a note.
 */
export async function runAblation(options: AblationOptions): Promise<AblationRun[]> {
  const runs: AblationRun[] = [];
  const backbones: readonly (string | null)[] = options.backbones && options.backbones.length > 0 ? options.backbones : [null];
  const grid = backbones.flatMap((backbone) => options.variants.flatMap((variant) => options.seeds.map((seed) => ({ backbone, variant, seed }))));
  const total = grid.length;
  const labelColumns = backbones[0] !== null ? ["backbone"] : [];
  let index = 0;
  for (const { backbone, variant, seed } of grid) {
    index++;
    const dir = runDirFor(options.outDir, variant, seed, backbone);
    const explicit = { ...options.explicit, seed, ...(backbone !== null ? { backbone } : {}) };
    const config = buildRunConfig({ variant, configFile: options.configFile, sets: options.sets, explicit });
    const labels = backbone !== null ? { labels: { backbone } } : {};
    const unsupported = unsupportedCombination(config, variant);
    if (unsupported) {
      if (!options.quiet) process.stderr.write(`[${index}/${total}] left out: ${unsupported}\n`);
      continue;
    }
    assertSameConfig(dir, config, options.dataset.fingerprint);
    const finished = readFinishedMetrics(dir, config.epochs);
    if (finished) {
      if (!options.quiet) process.stderr.write(`[${index}/${total}] ${variant} seed ${seed}: finished earlier, kept\n`);
      runs.push({ variant, seed, dir, metrics: finished, ...labels });
      continue;
    }
    if (!options.quiet) process.stderr.write(`[${index}/${total}] ${variant} seed ${seed}\n`);
    fs.mkdirSync(dir, { recursive: true });
    if (!fs.existsSync(path.join(dir, "config.json"))) writeRunConfig(dir, config, variant, options.dataset, options.backend);
    // The run lock keeps a concurrent `sea experiment run` (or another notebook) off this run meanwhile.
    const metrics = await withRunLock(dir, {}, (lock) =>
      trainRun({ dataset: options.dataset, config, variant, outDir: dir, resume: true, groundTruth: options.groundTruth, quiet: options.quiet, onEpoch: () => lock.heartbeat() }),
    );
    runs.push({ variant, seed, dir, metrics, ...labels });
    writeResultsCsv(options.outDir, runs, labelColumns);
  }
  writeResultsCsv(options.outDir, runs, labelColumns);
  return runs;
}

/** A run folder's metrics when the run is finished (stopped early, or reached `epochs`); null otherwise. */
export function readFinishedMetrics(dir: string, epochs: number): RunMetrics | null {
  const file = path.join(dir, "metrics.json");
  if (!fs.existsSync(file)) return null;
  let m: RunMetrics;
  try {
    m = JSON.parse(fs.readFileSync(file, "utf8")) as RunMetrics;
  } catch (e) {
    throw new SeaError(`not valid JSON (${(e as Error).message}); delete the run folder to train it again`, { where: file, cause: e });
  }
  const done = m.stopReason === "early-stop" || (m.stopReason === "epochs" && m.epochs.length >= epochs);
  return done ? m : null;
}

const CSV_METRICS = ["recall@10", "recall@20", "ndcg@10", "ndcg@20", "precision@10", "precision@20", "map@10", "map@20"];

/**
 * results.csv: one row per run (variant × seed, and an experiment's other axes in `labelColumns`, first), test
 * metrics at the best valid epoch, plus recovery on synthetic data.
 */
export function writeResultsCsv(outDir: string, runs: readonly AblationRun[], labelColumns: readonly string[] = []): void {
  const recoveryKeys = [...new Set(runs.flatMap((r) => Object.keys(r.metrics.recovery ?? {})))].sort();
  const header = [...labelColumns, "variant", "seed", "best_epoch", "epochs_run", "stop_reason", "valid_recall@20", ...CSV_METRICS.map((m) => `test_${m}`), ...recoveryKeys.map((k) => `recovery:${k}`), "seconds"];
  const lines = [header.join(",")];
  for (const r of runs) {
    const m = r.metrics;
    const seconds = m.epochs.reduce((s, e) => s + e.seconds, 0);
    lines.push(
      [
        ...labelColumns.map((c) => csvField(r.labels?.[c] ?? "")),
        r.variant,
        r.seed,
        m.bestEpoch,
        m.epochs.length,
        m.stopReason,
        fmt(m.best.valid["recall@20"]),
        ...CSV_METRICS.map((k) => fmt(m.best.test[k])),
        ...recoveryKeys.map((k) => fmt(m.recovery?.[k])),
        seconds.toFixed(1),
      ].join(","),
    );
  }
  writeFileAtomic(path.join(outDir, "results.csv"), lines.join("\n") + "\n");
}

/** A text field, quoted when it holds a comma, quote or newline (RFC 4180). */
function csvField(text: string): string {
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function fmt(v: number | undefined): string {
  return v === undefined || !Number.isFinite(v) ? "" : v.toFixed(6);
}

export interface VariantSummary {
  /** The backbone the variant was plugged over ("sea" for records written before backbones existed). */
  backbone: string;
  variant: string;
  runs: number;
  /** metric → [mean, std] over seeds (sample std; 0 for one seed) */
  stats: Record<string, [number, number]>;
  /** Paired tests on per-user test Recall@20 against `sea` on the same backbone (each user's value averaged over seeds). */
  tTest: VariantComparison | null;
  wilcoxon: VariantComparison | null;
}

/**
 * Mean ± std per backbone and variant over seeds, and paired significance against the `sea` variant on the same
 * backbone (the plug-in study: plain backbone vs backbone + SEA). Backbones in order of first appearance.
 */
export function summariseAblation(runs: readonly AblationRun[], metrics: readonly string[] = ["recall@10", "recall@20", "ndcg@10", "ndcg@20"]): VariantSummary[] {
  const backbones = [...new Set(runs.map((r) => recordedBackbone(r.metrics)))];
  return backbones.flatMap((backbone) => summariseBackbone(backbone, runs.filter((r) => recordedBackbone(r.metrics) === backbone), metrics));
}

function summariseBackbone(backbone: string, runs: readonly AblationRun[], metrics: readonly string[]): VariantSummary[] {
  const variants = [...new Set(runs.map((r) => r.variant))];
  const perUser = new Map(variants.map((v) => [v, readPerUser(runs.filter((r) => r.variant === v))]));
  const base = perUser.get("sea") ?? [];
  return variants.map((variant) => {
    const mine = runs.filter((r) => r.variant === variant);
    const stats: Record<string, [number, number]> = {};
    for (const m of metrics) {
      const { mean, std } = meanStd(mine.map((r) => r.metrics.best.test[m] ?? NaN));
      stats[m] = [mean, std];
    }
    const other = perUser.get(variant) ?? [];
    const comparable = variant !== "sea" && base.length > 0 && other.length > 0;
    return {
      backbone,
      variant,
      runs: mine.length,
      stats,
      tTest: comparable ? compareVariantsPerUser(other, base, "recall@20", "t") : null,
      wilcoxon: comparable ? compareVariantsPerUser(other, base, "recall@20", "wilcoxon") : null,
    };
  });
}

function readPerUser(runs: readonly AblationRun[]): PerUserMetrics[] {
  return runs
    .map((r) => path.join(r.dir, "per_user.json"))
    .filter((f) => fs.existsSync(f))
    .map((f) => JSON.parse(fs.readFileSync(f, "utf8")) as PerUserMetrics);
}
