import type { Command } from "commander";
import * as path from "node:path";
import { selectBackend } from "../../backend/select";
import { loadDatasetArg } from "../../data/resolveDataset";
import { VARIANTS, VARIANT_NAMES } from "../../model/variants";
import { trainRun } from "../../train/trainer";
import { buildRunConfig, writeRunConfig, assertSameConfig } from "../../train/runSetup";
import { runAblation, summariseAblation } from "../../train/ablation";
import { groundTruthFactors } from "../../train/analysisHooks";
import { SeaError } from "../../util/errors";

interface CommonOptions {
  dataset: string;
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

function addCommon(cmd: Command): Command {
  return cmd
    .requiredOption("--dataset <dir|preset>", "MMRec dataset folder, or a preset: tiny | small | baby-shape")
    .option("--epochs <n>", "maximum epochs (default: config, 1000)")
    .option("--set <key=value>", "override a config value (repeatable), e.g. --set alpha=0.02", collect, [])
    .option("--config <file.json>", "JSON object of config values")
    .option("--backend <name>", "tfjs-node-gpu | tfjs-node | native | wasm | cpu (default: best available; env SEA_BACKEND)")
    .requiredOption("--out <dir>", "output folder");
}

export function registerTrainCommands(program: Command): void {
  addCommon(
    program
      .command("train")
      .description("train one variant; writes config.json, metrics.json, per_user.json, embeddings/ and a checkpoint to --out")
      .option("--variant <name>", `one of ${VARIANT_NAMES.join(", ")}`, "sea")
      .option("--seed <n>", "random seed (default: config, 999)")
      .option("--resume", "continue from --out/checkpoint.bin"),
  ).action(async (opts: CommonOptions & { variant: string; seed?: string; resume?: boolean }) => {
    const backend = await selectBackend({ backend: opts.backend });
    const dataset = await loadDatasetArg(opts.dataset);
    const config = buildRunConfig({
      variant: opts.variant,
      configFile: opts.config,
      sets: opts.set,
      explicit: { seed: positiveInt(opts.seed, "--seed"), epochs: positiveInt(opts.epochs, "--epochs") },
    });
    assertSameConfig(opts.out, config, dataset.fingerprint);
    writeRunConfig(opts.out, config, opts.variant, dataset, backend);
    const metrics = await trainRun({ dataset, config, variant: opts.variant, outDir: opts.out, resume: opts.resume ?? false, groundTruth: groundTruthFactors(dataset) });
    const t = metrics.best.test;
    process.stdout.write(
      `${opts.variant}: best epoch ${metrics.bestEpoch} (${metrics.stopReason}); test ` +
        ["recall@10", "recall@20", "ndcg@10", "ndcg@20"].map((k) => `${k} ${(t[k] ?? NaN).toFixed(4)}`).join("  ") +
        `\nresults in ${path.resolve(opts.out)}\n`,
    );
  });

  addCommon(
    program
      .command("ablate")
      .description("run a variant × seed grid (resumable), write results.csv and print mean ± std with significance against sea")
      .option("--variants <list>", "comma-separated variants", VARIANT_NAMES.join(","))
      .option("--seeds <list>", "comma-separated seeds", "1,2,3"),
  ).action(async (opts: CommonOptions & { variants: string; seeds: string }) => {
    const variants = variantList(opts.variants);
    const seeds = intList(opts.seeds, "--seeds");
    const backend = await selectBackend({ backend: opts.backend });
    const dataset = await loadDatasetArg(opts.dataset);
    const runs = await runAblation({
      dataset,
      variants,
      seeds,
      outDir: opts.out,
      backend,
      configFile: opts.config,
      sets: opts.set,
      explicit: { epochs: positiveInt(opts.epochs, "--epochs") },
      groundTruth: groundTruthFactors(dataset),
    });
    // Loaded only now: danfojs-node brings ~100 modules (mathjs, tfjs-node, …) whose heap made every training
    // step's garbage collection about twice as long (a Baby-shaped step ~15% slower) when loaded at start-up.
    // (require, not import(): under tsx a dynamic import goes through the ESM loader, which does not resolve .ts.)
    const { renderAblationTable } = require("../../train/ablationTable") as typeof import("../../train/ablationTable");
    process.stdout.write(renderAblationTable(summariseAblation(runs)) + `\nresults.csv and run folders in ${path.resolve(opts.out)}\n`);
  });
}
