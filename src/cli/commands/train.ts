import type { Command } from "commander";
import * as path from "node:path";
import { BACKEND_NAMES, selectBackend } from "../../backend/select";
import { loadDatasetArg } from "../../data/resolveDataset";
import { ABLATION_VARIANT_NAMES, VARIANTS, VARIANT_NAMES } from "../../model/variants";
import { backboneDefinition, backboneDefinitions, backboneNames } from "../../model/backbones/registry";
import { unsupportedCombination } from "../../model/createModel";
import { trainRun } from "../../train/trainer";
import { buildRunConfig, writeRunConfig, assertSameConfig, readConfigFile } from "../../train/runSetup";
import { readFinishedMetrics, summariseAblation } from "../../train/ablation";
import { withRunLock } from "../../train/runLock";
import { loadCellContext, useCellThreads, cellProvenance, clearCellFailure, recordCellFailure } from "../../experiment/cellRun";
import { SLURM_AWARE_LOCK_OPTIONS } from "../../experiment/slurmQueue";
import { groundTruthFactors } from "../../train/analysisHooks";
import { SeaError } from "../../util/errors";
import { parseOverride } from "../../model/config";
import { ablationExperiment } from "../../experiment/ablationExperiment";
import { runExperiment } from "../../experiment/runExperiment";
import { collectAfterLocalRun } from "./experiment";

interface CommonOptions {
  dataset: string;
  implementation?: string;
  epochs?: string;
  set: string[];
  config?: string;
  backend?: string;
  out: string;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function positiveInt(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (!Number.isInteger(v) || v < 0) throw new SeaError(`${flag} must be a non-negative integer, got "${text}"`);
  return v;
}

function intList(text: string, flag: string): number[] {
  const values = text.split(",").map((s) => s.trim());
  if (values.some((s) => !/^\d+$/.test(s))) throw new SeaError(`${flag} must be a comma-separated list of non-negative integers, got "${text}"`);
  return values.map(Number);
}

function variantList(text: string): string[] {
  const names = text.split(",").map((s) => s.trim()).filter(Boolean);
  for (const n of names) if (!VARIANTS[n]) throw new SeaError(`unknown variant "${n}" (known: ${VARIANT_NAMES.join(", ")})`, { where: "--variants" });
  return names;
}

function backboneList(text: string): string[] {
  const names = text.split(",").map((s) => s.trim()).filter(Boolean);
  for (const n of names) backboneDefinition(n, "--backbones");
  return names;
}

/** Each backbone with its description, for --help. */
function backboneHelp(): string {
  return backboneDefinitions().map((d) => `${d.name} (${d.description})`).join("; ");
}

function implementationFlag(value: string | undefined): { implementation?: "reference" | "fast" } {
  if (value === undefined) return {};
  if (value !== "reference" && value !== "fast") throw new SeaError(`must be reference or fast, got "${value}"`, { where: "--implementation" });
  return { implementation: value };
}

function addCommon(cmd: Command): Command {
  return cmd
    .requiredOption("--dataset <dir|preset>", "MMRec dataset folder, or a preset: tiny | small | baby-shape")
    .option("--epochs <n>", "maximum epochs (default: config, 1000)")
    .option("--set <key=value>", "override a config value (repeatable), e.g. --set alpha=0.02", collect, [])
    .option("--config <file.json>", "JSON object of config values")
    .option("--backend <name>", "tfjs-node-gpu | tfjs-node | native | wasm | cpu (default: best available; env SEA_BACKEND)")
    .option("--implementation <name>", "reference (readable tfjs compositions only) | fast (fused/native kernels; default)")
    .requiredOption("--out <dir>", "output folder");
}

export function registerTrainCommands(program: Command): void {
  addCommon(
    program
      .command("train")
      .description("train one variant; writes config.json, metrics.json, per_user.json, embeddings/ and a checkpoint to --out")
      .option("--backbone <name>", `the model SEA's separation is plugged over: ${backboneHelp()} (default: config, sea)`)
      .option("--separation <variant>", `the separation variant: ${VARIANT_NAMES.join(", ")} (default sea)`)
      .option("--variant <name>", "the same as --separation (kept for scripts)")
      .option("--seed <n>", "random seed (default: config, 999)")
      .option("--resume", "continue from --out/checkpoint.bin")
      .option("--experiment <experiment.json>", "train a cell of an experiment: its frozen definition (written by `sea experiment run`)")
      .option("--cell <index>", "with --experiment: which cell"),
  ).action(async (flags: CommonOptions & { backbone?: string; separation?: string; variant?: string; seed?: string; resume?: boolean; experiment?: string; cell?: string }) => {
    if (flags.separation !== undefined && flags.variant !== undefined && flags.separation !== flags.variant) {
      throw new SeaError(`--separation ${flags.separation} and --variant ${flags.variant} disagree; give one`, { where: "--variant" });
    }
    const opts = { ...flags, variant: flags.separation ?? flags.variant ?? "sea" };
    if (opts.backbone !== undefined) backboneDefinition(opts.backbone, "--backbone");
    if ((opts.experiment === undefined) !== (opts.cell === undefined)) throw new SeaError("--experiment and --cell go together", { where: opts.experiment ? "--cell" : "--experiment" });
    const cell = opts.experiment !== undefined ? loadCellContext(opts.experiment, opts.cell!, { out: opts.out, variant: opts.variant, datasetDir: opts.dataset }) : null;
    if (cell) useCellThreads(cell);
    const backend = await selectBackend({ backend: opts.backend });
    if (cell && backend.native && backend.threads !== cell.frozen.threadsPerCell) {
      throw new SeaError(`the native kernels run ${backend.threads} threads, the experiment's cells ${cell.frozen.threadsPerCell}`, { where: opts.experiment });
    }
    const dataset = await loadDatasetArg(opts.dataset);
    const config = buildRunConfig({
      variant: opts.variant,
      configFile: opts.config,
      sets: opts.set,
      explicit: {
        seed: positiveInt(opts.seed, "--seed"),
        epochs: positiveInt(opts.epochs, "--epochs"),
        ...(opts.backbone !== undefined ? { backbone: opts.backbone } : {}),
        ...implementationFlag(opts.implementation),
      },
    });
    const unsupported = unsupportedCombination(config, opts.variant);
    if (unsupported) throw new SeaError(`${unsupported}; use --separation plain with it`, { where: "--backbone" });
    // Only one process trains a run folder at a time (a second `sea train`, a local worker, a SLURM task).
    const metrics = await withRunLock(opts.out, SLURM_AWARE_LOCK_OPTIONS, async (lock) => {
      if (cell) {
        clearCellFailure(opts.out);
        const finished = readFinishedMetrics(opts.out, config.epochs);
        if (finished) {
          assertSameConfig(opts.out, config, dataset.fingerprint);
          process.stderr.write(`cell ${cell.cell.index} (${cell.cell.id}) finished earlier; kept\n`);
          return finished;
        }
      }
      try {
        assertSameConfig(opts.out, config, dataset.fingerprint);
        writeRunConfig(opts.out, config, opts.variant, dataset, backend, cell ? cellProvenance(cell) : undefined);
        return await trainRun({
          dataset,
          config,
          variant: opts.variant,
          outDir: opts.out,
          resume: opts.resume ?? false,
          groundTruth: groundTruthFactors(dataset),
          onEpoch: () => lock.heartbeat(),
        });
      } catch (e) {
        if (cell) recordCellFailure(opts.out, e);
        throw e;
      }
    });
    const t = metrics.best.test;
    process.stdout.write(
      `${config.backbone} + ${opts.variant}: best epoch ${metrics.bestEpoch} (${metrics.stopReason}); test ` +
        ["recall@10", "recall@20", "ndcg@10", "ndcg@20"].map((k) => `${k} ${(t[k] ?? NaN).toFixed(4)}`).join("  ") +
        `\nresults in ${path.resolve(opts.out)}\n`,
    );
  });

  addCommon(
    program
      .command("ablate")
      .description("run a variant × seed grid (resumable, in parallel worker processes), write results.csv and print mean ± std with significance against sea")
      .option("--backbones <list>", `comma-separated backbones crossed with the variants (${backboneNames().join(", ")}); default: the config's backbone, sea`)
      .option("--variants <list>", "comma-separated variants", ABLATION_VARIANT_NAMES.join(","))
      .option("--seeds <list>", "comma-separated seeds", "1,2,3")
      .option("--jobs <n>", "worker processes (default: cores ÷ --threads-per-cell)")
      .option("--threads-per-cell <n>", "BLAS/addon threads of each run (results depend on it in the last bits)", "1")
      .option("--force", "also use finished runs of another experiment definition in the table"),
  ).action(async (opts: CommonOptions & { backbones?: string; variants: string; seeds: string; jobs?: string; threadsPerCell: string; force?: boolean }) => {
    // A thin front: the grid is a one-dataset experiment (src/experiment), run by the local executor.
    const variants = variantList(opts.variants);
    const backbones = opts.backbones === undefined ? [] : backboneList(opts.backbones);
    const seeds = intList(opts.seeds, "--seeds");
    const jobs = positiveInt(opts.jobs, "--jobs");
    const threadsPerCell = positiveInt(opts.threadsPerCell, "--threads-per-cell");
    if (jobs === 0 || threadsPerCell === 0) throw new SeaError("must be at least 1", { where: jobs === 0 ? "--jobs" : "--threads-per-cell" });
    if (opts.backend !== undefined) {
      if (!(BACKEND_NAMES as readonly string[]).includes(opts.backend)) throw new SeaError(`unknown backend '${opts.backend}' (expected one of: ${BACKEND_NAMES.join(", ")})`, { where: "--backend" });
      process.env.SEA_BACKEND = opts.backend; // each run's `sea train` process reads it
    }
    const set: Record<string, unknown> = { ...(opts.config ? readConfigFile(opts.config) : {}) };
    for (const pair of opts.set) Object.assign(set, parseOverride(pair));
    const epochs = positiveInt(opts.epochs, "--epochs");
    if (epochs !== undefined) set.epochs = epochs;
    Object.assign(set, implementationFlag(opts.implementation));
    const spec = ablationExperiment({ dataset: opts.dataset, backbones, variants, seeds, set, threadsPerCell: threadsPerCell ?? 1, out: opts.out });
    const result = await runExperiment({ spec, file: "", label: "sea ablate" }, { executor: "local", ...(jobs !== undefined ? { jobs } : {}) });
    const collected = collectAfterLocalRun(result.plan, result.outcomes, { acceptRunsWithoutProvenance: true, force: opts.force ?? false });
    for (const note of collected.notes) process.stderr.write(`note: ${note}\n`);
    // Loaded only now: danfojs-node brings ~100 modules (mathjs, tfjs-node, …) whose heap made every training
    // step's garbage collection about twice as long (a Baby-shaped step ~15% slower) when loaded at start-up.
    // (require, not import(): under tsx a dynamic import goes through the ESM loader, which does not resolve .ts.)
    const { renderAblationTable } = require("../../train/ablationTable") as typeof import("../../train/ablationTable");
    process.stdout.write(renderAblationTable(summariseAblation(collected.runs)) + `\nresults.csv and run folders in ${result.plan.layout.outputDir}\n`);
  });
}
