import * as fs from "node:fs";
import { groupByVariant, DEFAULT_METRIC, type MetricRef, type RunResult } from "./runs";
import { baseValues, runsAtBase, sweptKeys, SWEEP_KEYS } from "./sweep";
import { trainingCurvesFigure } from "./trainingCurves";
import { ablationBarFigure } from "./ablation";
import { groupByBackbone, plugInFigure } from "./plugIn";
import { miCurvesFigure, miQuantitiesOf } from "./miCurves";
import { miSummaryFigure } from "./miSummary";
import { recoveryFigure } from "./recovery";
import { sensitivityFigure } from "./sensitivity";
import { resultsTableFigure } from "./table";
import { loadClusterLabels, loadItemParts, umapPartsFigure } from "./umap";
import type { PairedTestKind } from "../analysis/significance";
import type { Figure } from "./types";
import { FigureExporter, type WriteFigureOptions } from "./export";

/** A figure to write: its file stem and how to build it (UMAPs take seconds, so building is deferred). */
export interface FigurePlan {
  name: string;
  /** one line saying what the figure shows and from which runs */
  description: string;
  build(): Figure;
}

export interface PlanOptions {
  /** metric for the ablation bars and sensitivity plots; default test recall@20 */
  metric?: MetricRef;
  test?: PairedTestKind;
  /** dataset folder with gt_cluster.npy (synthetic data); default: each run's config dataset.dir when it has one */
  datasetDir?: string;
  /** UMAP seed and subsample size */
  umapSeed?: number;
  umapMaxItems?: number;
  umapEpochs?: number;
}

function safeStem(s: string): string {
  const t = s.replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^[._-]+/, "");
  return t.length > 0 ? t : "dataset";
}

/** The two variants a UMAP comparison shows: sea vs orthogonal when both exist, else the first two. */
export function umapVariantPair(variants: readonly string[]): string[] {
  if (variants.includes("sea") && variants.includes("orthogonal")) return ["sea", "orthogonal"];
  return variants.slice(0, 2);
}

/**
 * Every figure the runs support: training curves, ablation bars, MI curves and the MI summary (when logged),
 * planted-factor recovery (synthetic data), UMAPs (when
 * embeddings exist), one sensitivity plot per swept config key (alpha, tau, clubWeight), results table.
 * Runs of several datasets give one set per dataset, names prefixed by the dataset; runs of several backbones
 * give one set per backbone (prefixed by it) and the plug-in figure (plain vs + SEA per backbone). When a key is swept,
 * the per-variant figures use only runs at the key's most common value (runsAtBase).
 */
export function planFigures(runs: readonly RunResult[], options: PlanOptions = {}): FigurePlan[] {
  const byDataset = new Map<string, RunResult[]>();
  for (const r of runs) {
    const list = byDataset.get(r.metrics.dataset.name) ?? [];
    list.push(r);
    byDataset.set(r.metrics.dataset.name, list);
  }
  const plans: FigurePlan[] = [];
  const datasets = [...byDataset.keys()].sort();
  for (const ds of datasets) {
    const datasetPrefix = datasets.length > 1 ? `${safeStem(ds)}-` : "";
    const byBackbone = groupByBackbone(byDataset.get(ds)!);
    if (byBackbone.size > 1) {
      const all = byDataset.get(ds)!;
      const metric = options.metric ?? DEFAULT_METRIC;
      plans.push({
        name: `${datasetPrefix}plug-in`,
        description: `${metric.split} ${metric.name} per backbone: plain vs + SEA side by side, mean ± std over seeds, significance vs sea on each backbone`,
        build: () => plugInFigure(all, { metric, test: options.test ?? "t" }),
      });
    }
    for (const [backbone, backboneRuns] of byBackbone) {
      plans.push(...planDatasetFigures(backboneRuns, byBackbone.size > 1 ? `${datasetPrefix}${safeStem(backbone)}-` : datasetPrefix, options));
    }
  }
  return plans;
}

/** The figures of one dataset and backbone (names prefixed by them when a folder holds several). */
function planDatasetFigures(dsRuns: readonly RunResult[], prefix: string, options: PlanOptions): FigurePlan[] {
  const plans: FigurePlan[] = [];
  const swept = sweptKeys(dsRuns, SWEEP_KEYS);
  const base = baseValues(dsRuns, swept);
  const baseRuns = runsAtBase(dsRuns, base);
  const baseNote = swept.length > 0 ? ` (runs at ${[...base].map(([k, v]) => `${k}=${v}`).join(", ")})` : "";
  const metric = options.metric ?? DEFAULT_METRIC;

  plans.push({ name: `${prefix}training-curves`, description: `loss parts and validation Recall@20 per epoch${baseNote}`, build: () => trainingCurvesFigure(baseRuns) });
  plans.push({
    name: `${prefix}ablation`,
    description: `${metric.split} ${metric.name} per variant, mean ± std over seeds, significance vs sea${baseNote}`,
    build: () => ablationBarFigure(baseRuns, { metric, test: options.test ?? "t" }),
  });
  if (miQuantitiesOf(baseRuns).length > 0) {
    plans.push({ name: `${prefix}mi-curves`, description: `MI estimates per epoch with intervals and sanity references${baseNote}`, build: () => miCurvesFigure(baseRuns) });
    plans.push({
      name: `${prefix}mi-summary`,
      description: `MI estimates at the last MI epoch per variant, 95% intervals, paired tests vs sea${baseNote}`,
      build: () => miSummaryFigure(baseRuns),
    });
  }
  if (baseRuns.some((r) => r.metrics.recovery !== undefined)) {
    plans.push({ name: `${prefix}ground-truth-recovery`, description: `planted-factor recovery (linear-probe R²) per variant${baseNote}`, build: () => recoveryFigure(baseRuns) });
  }
  const umapPlan = planUmap(baseRuns, prefix, options);
  if (umapPlan) plans.push(umapPlan);
  for (const key of swept) {
    const sweepRuns = runsAtBase(dsRuns, base, key);
    plans.push({ name: `${prefix}sensitivity-${safeStem(key)}`, description: `${metric.name} against ${key}`, build: () => sensitivityFigure(sweepRuns, key, { metric }) });
  }
  plans.push({ name: `${prefix}results-table`, description: `test metrics per variant, mean ± std${baseNote}`, build: () => resultsTableFigure(baseRuns) });
  return plans;
}

function planUmap(runs: readonly RunResult[], prefix: string, options: PlanOptions): FigurePlan | undefined {
  const withEmbeddings = new Map<string, RunResult>();
  for (const [variant, vruns] of groupByVariant(runs)) {
    // lowest seed of the variant whose embeddings folder holds item parts
    const run = vruns.find((r) => r.embeddingsDir !== undefined && fs.readdirSync(r.embeddingsDir).some((f) => /^item_.+_generic\.npy$/.test(f)));
    if (run) withEmbeddings.set(variant, run);
  }
  const pair = umapVariantPair([...withEmbeddings.keys()]);
  if (pair.length === 0) return undefined;
  const chosen = pair.map((v) => withEmbeddings.get(v)!);
  return {
    name: `${prefix}umap-${pair.map(safeStem).join("-vs-")}`,
    description: `UMAP of item generic/unique parts: ${chosen.map((r) => `${r.metrics.variant} seed ${r.metrics.seed}`).join(" vs ")}`,
    build: () => {
      const datasetDir = options.datasetDir ?? chosen.map((r) => r.config.dataset.dir).find((d) => d !== "" && fs.existsSync(d));
      const clusters = datasetDir ? loadClusterLabels(datasetDir) : undefined;
      return umapPartsFigure(
        chosen.map((r) => ({ label: r.metrics.variant, parts: loadItemParts(r.embeddingsDir!) })),
        {
          seed: options.umapSeed ?? 999,
          ...(options.umapMaxItems !== undefined ? { maxItems: options.umapMaxItems } : {}),
          ...(options.umapEpochs !== undefined ? { nEpochs: options.umapEpochs } : {}),
          ...(clusters ? { clusters } : {}),
        },
      );
    },
  };
}

/** Builds and writes every planned figure with one exporter; `onWritten` gets each file as it lands. */
export async function writeFigures(
  plans: readonly FigurePlan[],
  outDir: string,
  options: WriteFigureOptions & { exporter?: FigureExporter; onWritten?: (file: string) => void } = {},
): Promise<string[]> {
  const exporter = options.exporter ?? new FigureExporter();
  const written: string[] = [];
  try {
    for (const plan of plans) {
      const result = await exporter.write(plan.build(), outDir, plan.name, options);
      for (const f of result.written) {
        written.push(f);
        options.onWritten?.(f);
      }
    }
  } finally {
    if (!options.exporter) await exporter.close();
  }
  return written;
}
