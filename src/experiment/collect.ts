/**
 * Gathers an experiment's finished cells into `<output>/results.csv` (one row per cell: its axes, test metrics
 * at the best valid epoch, recovery on synthetic data) and `<output>/tables.txt` (per setting — dataset, config
 * set, grid point — mean ± std over seeds per variant with paired tests against `sea`; for grids, one line per
 * grid point as well). Both are written atomically.
 *
 * Runs of another experiment definition (another fingerprint in config.json), or made outside any experiment,
 * are not mixed in without `force`: their cell's config matches, but the definition may differ in what the
 * config does not show (the threads per cell, hence the last bits).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { readFinishedMetrics, summariseAblation, writeResultsCsv, type AblationRun } from "../train/ablation";
import type { RunConfigRecord } from "../train/runRecord";
import { writeFileAtomic } from "../util/atomicWrite";
import { SeaError } from "../util/errors";
import type { Cell } from "./cells";
import type { ExperimentPlan } from "./plan";
import { provenanceOf } from "./provenance";

export interface CollectOptions {
  /** Collect the finished cells when some are not (default: all cells must be finished). */
  readonly partial?: boolean;
  /** Include runs of other definitions, and runs made outside an experiment. */
  readonly force?: boolean;
  /**
   * Include runs made outside any experiment (no provenance) without `force`, with a note: `sea ablate` reuses
   * the runs of earlier versions of itself and of the notebooks, whose configs match by construction.
   */
  readonly acceptRunsWithoutProvenance?: boolean;
}

export interface CollectedRun extends AblationRun {
  readonly cell: Cell;
}

export interface CollectResult {
  readonly runs: readonly CollectedRun[];
  /** Cells without a finished run. */
  readonly unfinished: readonly Cell[];
  /** Lines worth telling the user (runs included under force, runs without provenance). */
  readonly notes: readonly string[];
  readonly resultsFile: string;
  readonly tablesFile: string;
  /** tables.txt's text. */
  readonly tables: string;
}

export function collectExperiment(plan: ExperimentPlan, options: CollectOptions = {}): CollectResult {
  const { layout, expansion } = plan;
  const runs: CollectedRun[] = [];
  const unfinished: Cell[] = [];
  const foreign: string[] = [];
  const unrecorded: string[] = [];
  for (const cell of expansion.cells) {
    const dir = layout.runDir(cell);
    const metrics = readFinishedMetrics(dir, cell.config.epochs);
    if (!metrics) {
      unfinished.push(cell);
      continue;
    }
    const record = readConfigRecord(dir);
    if (JSON.stringify({ ...record.config, epochs: 0 }) !== JSON.stringify({ ...cell.config, epochs: 0 })) {
      throw new SeaError(`the run of cell ${cell.id} has another config than the experiment gives it; delete the run folder or fix the experiment`, { where: path.join(dir, "config.json") });
    }
    const provenance = provenanceOf(record);
    if (provenance === null) unrecorded.push(cell.id);
    else if (provenance.fingerprint !== plan.fingerprint) foreign.push(`${cell.id} (definition ${provenance.fingerprint}${provenance.file ? ` from ${provenance.file}` : ""})`);
    runs.push({ variant: cell.variant, seed: cell.seed, dir, metrics, labels: cell.labels, cell });
  }
  if (unfinished.length > 0 && !options.partial) {
    throw new SeaError(
      `${unfinished.length} of ${expansion.cells.length} cells are not finished (first: ${unfinished[0]!.id}); ` +
        "`sea experiment status` shows where each stands, --partial collects the finished ones",
      { where: plan.source.label },
    );
  }
  const notes: string[] = [];
  const blocked = [...(foreign.length > 0 && !options.force ? [`${foreign.length} from another definition of the experiment: ${listFew(foreign)}`] : [])];
  if (unrecorded.length > 0 && !options.force && !options.acceptRunsWithoutProvenance) blocked.push(`${unrecorded.length} made outside an experiment: ${listFew(unrecorded)}`);
  if (blocked.length > 0) {
    throw new SeaError(
      `refusing to mix runs of different experiment definitions (this one is ${plan.fingerprint}): ${blocked.join("; ")}. ` +
        "Their configs match; the definitions may differ in threads per cell. --force collects them anyway",
      { where: plan.source.label },
    );
  }
  if (foreign.length > 0) notes.push(`included under --force: ${foreign.length} run(s) of another definition (${listFew(foreign)})`);
  if (unrecorded.length > 0) notes.push(`included ${unrecorded.length} run(s) made outside an experiment with the same config (${listFew(unrecorded)})`);
  if (unfinished.length > 0) notes.push(`${unfinished.length} of ${expansion.cells.length} cells are not finished and are left out`);

  const labelColumns = expansion.columns.filter((c) => c !== "variant" && c !== "seed");
  writeResultsCsv(layout.outputDir, runs, labelColumns);
  const tables = renderTables(runs, labelColumns, expansion.gridColumns);
  const tablesFile = path.join(layout.outputDir, "tables.txt");
  writeFileAtomic(tablesFile, tables);
  return { runs, unfinished, notes, resultsFile: path.join(layout.outputDir, "results.csv"), tablesFile, tables };
}

function readConfigRecord(dir: string): RunConfigRecord & { experiment?: unknown } {
  const file = path.join(dir, "config.json");
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as RunConfigRecord;
  } catch (e) {
    throw new SeaError(`cannot read the run's config (${(e as Error).message})`, { where: file, cause: e });
  }
}

function listFew(items: readonly string[]): string {
  return items.slice(0, 3).join(", ") + (items.length > 3 ? `, … (${items.length - 3} more)` : "");
}

const TABLE_METRICS = ["recall@10", "recall@20", "ndcg@10", "ndcg@20"];

/**
 * One ablation table per setting (the runs sharing every axis but variant and seed), and for experiments with
 * grids one sensitivity table (grid point × variant) per value of the other axes (dataset, config set, backbone).
 */
export function renderTables(runs: readonly CollectedRun[], labelColumns: readonly string[], gridColumns: readonly string[]): string {
  // danfojs-node is loaded only when tables are drawn (see src/cli/commands/train.ts on its start-up cost).
  const { renderAblationTable } = require("../train/ablationTable") as typeof import("../train/ablationTable");
  const sections: string[] = [];
  for (const [title, group] of groupBy(runs, (r) => labelColumns.map((c) => `${c}=${r.labels?.[c] ?? ""}`).join(", "))) {
    sections.push(`== ${title || "all cells"} ==\n${renderAblationTable(summariseAblation(group, TABLE_METRICS))}`);
  }
  if (gridColumns.length > 0) {
    const outer = labelColumns.filter((c) => !gridColumns.includes(c));
    for (const [title, group] of groupBy(runs, (r) => outer.map((c) => `${c}=${r.labels?.[c] ?? ""}`).join(", "))) {
      sections.push(`== sensitivity${title ? `: ${title}` : ""} ==\n${sensitivityTable(group, gridColumns)}`);
    }
  }
  return sections.join("\n\n") + "\n";
}

/** Rows: grid point × variant; columns: seeds and mean ± std of the table metrics over seeds. */
function sensitivityTable(runs: readonly CollectedRun[], gridColumns: readonly string[]): string {
  const header = [...gridColumns, "variant", "seeds", ...TABLE_METRICS];
  const rows: string[][] = [];
  for (const [, group] of groupBy(runs, (r) => [...gridColumns.map((c) => r.labels?.[c] ?? ""), r.variant].join("\u0000"))) {
    const first = group[0]!;
    const summary = summariseAblation(group, TABLE_METRICS)[0]!;
    rows.push([
      ...gridColumns.map((c) => first.labels?.[c] ?? ""),
      first.variant,
      String(group.length),
      ...TABLE_METRICS.map((m) => `${summary.stats[m]![0].toFixed(4)} ± ${summary.stats[m]![1].toFixed(4)}`),
    ]);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = groups.get(k) ?? [];
    list.push(item);
    groups.set(k, list);
  }
  return groups;
}
