import type { Command } from "commander";
import * as path from "node:path";
import { readExperimentFile } from "../../experiment/spec";
import { planExperiment, type ExperimentPlan, type ExperimentSource, type PlanOptions } from "../../experiment/plan";
import { EXECUTOR_NAMES, runExperiment, type ExecutorName } from "../../experiment/runExperiment";
import { experimentStatus, type ExperimentStatus } from "../../experiment/status";
import { collectExperiment, type CollectOptions, type CollectResult } from "../../experiment/collect";
import { CELL_STATES } from "../../experiment/cellStatus";
import type { CellOutcome } from "../../experiment/localExecutor";
import { normaliseSbatchLine } from "../../experiment/spec";
import { SeaError } from "../../util/errors";

interface LocationOptions {
  out?: string;
  dataRoot?: string;
}

interface RunOptions extends LocationOptions {
  executor: string;
  jobs?: string;
  partition?: string;
  time?: string;
  cpusPerTask?: string;
  mem?: string;
  maxParallel?: string;
  sbatch: string[];
  dryRun?: boolean;
}

function collectRepeated(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function count(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new SeaError(`must be an integer ≥ 1, got "${text}"`, { where: flag });
  return n;
}

export function loadExperimentSource(file: string): ExperimentSource {
  return { spec: readExperimentFile(file), file: path.resolve(file), label: file };
}

function planOptions(opts: LocationOptions): PlanOptions {
  return { ...(opts.out !== undefined ? { outputDir: opts.out } : {}), ...(opts.dataRoot !== undefined ? { dataRoot: opts.dataRoot } : {}) };
}

function withLocation(cmd: Command): Command {
  return cmd
    .option("--out <dir>", "output folder (default: the experiment's `output`, relative to the working directory)")
    .option("--data-root <dir>", "folder holding the datasets the experiment names (default: its `dataRoot`)");
}

/** `sea experiment run|status|collect|check`. */
export function registerExperimentCommands(program: Command): void {
  const experiment = program
    .command("experiment")
    .description("declarative sweeps (YAML/JSON experiment files): run them locally or on SLURM, follow them, collect their results");

  withLocation(
    experiment
      .command("run <file>")
      .description("train the experiment's unfinished cells: local worker processes (waits), or a SLURM job array (submits)")
      .option("--executor <name>", `${EXECUTOR_NAMES.join(" | ")}`, "local")
      .option("--jobs <n>", "local: worker processes (default: cores ÷ threadsPerCell)")
      .option("--partition <name>", "slurm: partition (default: the file's slurm.partition)")
      .option("--time <limit>", "slurm: time limit per cell, e.g. 02:00:00")
      .option("--cpus-per-task <n>", "slurm: CPUs per cell (default: the file's, else threadsPerCell)")
      .option("--mem <size>", "slurm: memory per cell, e.g. 4G")
      .option("--max-parallel <n>", "slurm: at most this many cells at once")
      .option("--sbatch <option>", "slurm: one more #SBATCH option, e.g. --sbatch=--account=abc (repeatable)", collectRepeated, [])
      .option("--dry-run", "slurm: print the job script; write and submit nothing"),
  ).action(async (file: string, opts: RunOptions) => {
    if (!(EXECUTOR_NAMES as readonly string[]).includes(opts.executor)) throw new SeaError(`unknown executor "${opts.executor}" (${EXECUTOR_NAMES.join(", ")})`, { where: "--executor" });
    const source = loadExperimentSource(file);
    const result = await runExperiment(source, {
      ...planOptions(opts),
      executor: opts.executor as ExecutorName,
      ...(opts.jobs !== undefined ? { jobs: count(opts.jobs, "--jobs")! } : {}),
      slurm: {
        ...(opts.partition !== undefined ? { partition: opts.partition } : {}),
        ...(opts.time !== undefined ? { time: opts.time } : {}),
        ...(opts.cpusPerTask !== undefined ? { cpusPerTask: count(opts.cpusPerTask, "--cpus-per-task")! } : {}),
        ...(opts.mem !== undefined ? { mem: opts.mem } : {}),
        ...(opts.maxParallel !== undefined ? { maxParallel: count(opts.maxParallel, "--max-parallel")! } : {}),
        extra: opts.sbatch.map((line) => normaliseSbatchLine(line, (m) => { throw new SeaError(m, { where: "--sbatch" }); })),
      },
      dryRun: opts.dryRun ?? false,
    });
    if (result.jobScript !== null) {
      process.stdout.write(result.jobScript);
      return;
    }
    if (opts.executor === "local") finishLocalRun(result.plan.source, opts, result.outcomes);
  });

  withLocation(
    experiment
      .command("status <file>")
      .description("each cell pending / running / done / failed, from the run folders and squeue (sacct where accounting is on)")
      .option("--all", "list finished cells too")
      .option("--json", "print one JSON object"),
  ).action((file: string, opts: LocationOptions & { all?: boolean; json?: boolean }) => {
    const status = experimentStatus(planExperiment(loadExperimentSource(file), planOptions(opts)));
    process.stdout.write(opts.json ? JSON.stringify(status, null, 2) + "\n" : renderStatus(status, opts.all ?? false));
  });

  withLocation(
    experiment
      .command("collect <file>")
      .description("write results.csv and tables.txt in the output folder from the finished cells, and print the tables")
      .option("--partial", "collect the finished cells when some are not")
      .option("--force", "include runs of another definition of the experiment (or made outside one)"),
  ).action((file: string, opts: LocationOptions & { partial?: boolean; force?: boolean }) => {
    const result = collectExperiment(planExperiment(loadExperimentSource(file), planOptions(opts)), { partial: opts.partial ?? false, force: opts.force ?? false });
    printCollected(result);
  });

  withLocation(
    experiment
      .command("check <file>")
      .description("validate the experiment file and list its cells (nothing is run)")
      .option("--json", "print the cells as JSON"),
  ).action((file: string, opts: LocationOptions & { json?: boolean }) => {
    const plan = planExperiment(loadExperimentSource(file), planOptions(opts));
    const cells = plan.expansion.cells;
    if (opts.json) {
      process.stdout.write(JSON.stringify({ fingerprint: plan.fingerprint, outputDir: plan.layout.outputDir, cells: cells.map((c) => ({ index: c.index, id: c.id, labels: c.labels, config: c.config })) }, null, 2) + "\n");
      return;
    }
    const merged = plan.expansion.merged > 0 ? `, ${plan.expansion.merged} duplicate(s) merged` : "";
    const lines = [`${file}: valid; experiment ${plan.source.spec.name} (definition ${plan.fingerprint}), ${cells.length} cells${merged}, output ${plan.layout.outputDir}`];
    for (const c of cells) lines.push(`  ${String(c.index).padStart(4)}  ${c.id}`);
    for (const s of plan.expansion.skipped) lines.push(`     -  ${s.id}: not trained: ${s.reason}`);
    process.stdout.write(lines.join("\n") + "\n");
  });
}

/** After local workers: collect when every cell is finished, else name the failed ones and exit non-zero. */
function finishLocalRun(source: ExperimentSource, opts: LocationOptions, outcomes: readonly CellOutcome[]): void {
  printCollected(collectAfterLocalRun(planExperiment(source, planOptions(opts)), outcomes));
}

/** The collected results once every cell is finished; otherwise the failed cells with their logs and a SeaError. */
export function collectAfterLocalRun(plan: ExperimentPlan, outcomes: readonly CellOutcome[], options: CollectOptions = {}): CollectResult {
  const status = experimentStatus(plan);
  if (status.counts.done === status.cells.length) return collectExperiment(plan, options);
  const failed = outcomes.filter((o) => o.kind === "failed");
  for (const o of failed) process.stderr.write(`failed: ${o.cell.id} (${o.exit}); log: ${o.log}\n`);
  const busy = outcomes.filter((o) => o.kind === "busy").length;
  throw new SeaError(
    `${status.counts.done} of ${status.cells.length} cells finished (${failed.length} failed${busy > 0 ? `, ${busy} trained by another process` : ""}); ` +
      "fix what failed and run again (finished cells are kept, interrupted ones resume), or `sea experiment collect --partial`",
  );
}

export function printCollected(result: CollectResult): void {
  for (const note of result.notes) process.stderr.write(`note: ${note}\n`);
  process.stdout.write(result.tables + `\n${result.runs.length} runs: ${result.resultsFile} and ${result.tablesFile}\n`);
}

export function renderStatus(status: ExperimentStatus, all: boolean): string {
  const lines = [
    `experiment ${status.name} (definition ${status.fingerprint}): ${status.cells.length} cells in ${status.outputDir}`,
    "  " + CELL_STATES.map((s) => `${s} ${status.counts[s]}`).join("   "),
  ];
  if (status.slurm) {
    const sacct = status.slurm.sacct ? "sacct answered" : "sacct unavailable (no accounting on this cluster; optional)";
    lines.push(`  SLURM: ${status.slurm.submissions} submission(s), jobs ${status.slurm.jobs.join(", ")}; ${status.slurm.squeue ? "squeue answered" : "squeue unavailable"}; ${sacct}`);
  }
  const shown = status.cells.filter((c) => all || c.state !== "done");
  const width = Math.max(0, ...shown.map((c) => c.id.length));
  for (const c of shown) lines.push(`${c.state.padEnd(8)} ${c.id.padEnd(width)}  ${c.detail}${c.state === "failed" && c.log ? ` — log: ${c.log}` : ""}`);
  return lines.join("\n") + "\n";
}
