import type { Command } from "commander";
import * as path from "node:path";
import { SeaError } from "../../util/errors";
import { loadRuns, parseMetricRef } from "../../figures/runs";
import { planFigures, writeFigures } from "../../figures/batch";
import { FIGURE_FORMATS, FigureExporter, type FigureFormat } from "../../figures/export";
import { findingsReport } from "../../figures/findings";
import { writeFileAtomic } from "../../util/atomicWrite";

interface FiguresCliOptions {
  runs: string;
  out: string;
  formats: string;
  dataset?: string;
  metric: string;
  test: string;
  umapMaxItems: string;
  umapSeed: string;
}

function parseFormats(s: string): FigureFormat[] {
  const formats = s.split(",").map((f) => f.trim().toLowerCase()).filter((f) => f.length > 0);
  for (const f of formats) {
    if (!(FIGURE_FORMATS as readonly string[]).includes(f)) throw new SeaError(`--formats: unknown format "${f}" (use ${FIGURE_FORMATS.join(",")})`);
  }
  if (formats.length === 0) throw new SeaError("--formats: give at least one of " + FIGURE_FORMATS.join(","));
  return formats as FigureFormat[];
}

function parseInteger(s: string, flag: string, min: number): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < min) throw new SeaError(`${flag}: expected an integer ≥ ${min}, got "${s}"`);
  return n;
}

/** `sea figures`: every figure the run folders under --runs support, written to --out. */
export function registerFiguresCommand(program: Command): void {
  program
    .command("figures")
    .description("write training curves, ablation bars, MI curves and summary, recovery, UMAPs, sensitivity plots, a results table and findings.md from run folders")
    .requiredOption("--runs <dir>", "folder searched (recursively) for run folders holding metrics.json + config.json")
    .requiredOption("--out <dir>", "folder the figures are written to")
    .option("--formats <list>", "comma-separated: html,png,svg,pdf (static formats need chromium)", "html,png,svg")
    .option("--dataset <dir>", "dataset folder with gt_cluster.npy (synthetic data) to colour UMAPs by planted cluster")
    .option("--metric <split.name>", "metric of the ablation bars and sensitivity plots", "test.recall@20")
    .option("--test <t|wilcoxon>", "paired per-user significance test vs sea", "t")
    .option("--umap-max-items <n>", "items subsampled per UMAP panel", "2000")
    .option("--umap-seed <n>", "UMAP seed", "999")
    .action(async (opts: FiguresCliOptions) => {
      const formats = parseFormats(opts.formats);
      if (opts.test !== "t" && opts.test !== "wilcoxon") throw new SeaError(`--test: expected "t" or "wilcoxon", got "${opts.test}"`);
      const runs = loadRuns(opts.runs);
      if (runs.length === 0) throw new SeaError("no run folders (metrics.json + config.json) found", { where: opts.runs });
      const plans = planFigures(runs, {
        metric: parseMetricRef(opts.metric),
        test: opts.test,
        ...(opts.dataset !== undefined ? { datasetDir: opts.dataset } : {}),
        umapMaxItems: parseInteger(opts.umapMaxItems, "--umap-max-items", 1),
        umapSeed: parseInteger(opts.umapSeed, "--umap-seed", 0),
      });
      process.stdout.write(`${runs.length} run(s) found under ${opts.runs}; writing ${plans.length} figure(s) to ${path.resolve(opts.out)}\n`);
      const exporter = new FigureExporter();
      try {
        await writeFigures(plans, opts.out, { formats, exporter, onWritten: (f) => process.stdout.write(`wrote ${f}\n`) });
      } finally {
        await exporter.close();
      }
      const findings = path.join(opts.out, "findings.md");
      writeFileAtomic(findings, findingsReport(runs, parseMetricRef(opts.metric)));
      process.stdout.write(`wrote ${findings}\n`);
    });
}
