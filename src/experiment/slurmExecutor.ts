/**
 * The SLURM executor: one sbatch job array per submission, one array task per cell (the task id is the cell's
 * index), each task running the cell's `sea train` (cellCommand.ts) with the experiment's thread count and
 * appending to the cell's train.log. Submissions are recorded (slurm/submissions.json) so that `status` can ask
 * squeue/sacct about each cell's latest task and a later `run` submits only cells that are neither finished nor
 * queued nor running. A resubmitted cell resumes from its checkpoint (`--resume`); its run lock keeps a second
 * copy from training it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { REPO_ROOT } from "../data/resolveDataset";
import { LOCKED_EXIT_CODE } from "../train/runLock";
import { writeFileAtomic, writeJsonAtomic } from "../util/atomicWrite";
import { SeaError } from "../util/errors";
import type { Cell } from "./cells";
import { cellCommand, shellQuote } from "./cellCommand";
import type { ExperimentPlan } from "./plan";
import { ACTIVE_SLURM_STATES, accountedTasks, queuedTasks, submitJobScript, type SlurmTaskState } from "./slurmQueue";
import type { SlurmSettings } from "./spec";

/** SLURM settings after command-line flags; cpusPerTask always set. */
export interface ResolvedSlurmSettings extends SlurmSettings {
  readonly cpusPerTask: number;
}

export interface SlurmFlags {
  readonly partition?: string;
  readonly time?: string;
  readonly cpusPerTask?: number;
  readonly mem?: string;
  readonly maxParallel?: number;
  /** Further sbatch options (repeatable --sbatch), after the file's. */
  readonly extra?: readonly string[];
}

/** The experiment file's slurm settings with the flags over them; CPUs per task default to the threads per cell. */
export function resolveSlurmSettings(plan: ExperimentPlan, flags: SlurmFlags = {}): ResolvedSlurmSettings {
  const s = plan.source.spec.slurm;
  return {
    partition: flags.partition ?? s.partition,
    time: flags.time ?? s.time,
    cpusPerTask: flags.cpusPerTask ?? s.cpusPerTask ?? plan.source.spec.threadsPerCell,
    mem: flags.mem ?? s.mem,
    maxParallel: flags.maxParallel ?? s.maxParallel,
    extra: [...s.extra, ...(flags.extra ?? [])],
    setup: s.setup,
  };
}

/** sbatch's --array value: sorted indices as ranges ("0-3,7,9-10"), with "%N" to run at most N at once. */
export function arraySpec(indices: readonly number[], maxParallel: number | null): string {
  const sorted = [...new Set(indices)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(",") + (maxParallel !== null ? `%${maxParallel}` : "");
}

/** The job script for `cells` (absolute paths throughout: it runs from wherever SLURM starts it). */
export function renderJobScript(plan: ExperimentPlan, cells: readonly Cell[], settings: ResolvedSlurmSettings): string {
  if (cells.length === 0) throw new SeaError("no cells to submit");
  const { spec } = plan.source;
  const q = shellQuote;
  const sbatch = [
    `--job-name=sea-${spec.name}`,
    `--array=${arraySpec(cells.map((c) => c.index), settings.maxParallel)}`,
    "--nodes=1",
    "--ntasks=1",
    `--cpus-per-task=${settings.cpusPerTask}`,
    ...(settings.mem ? [`--mem=${settings.mem}`] : []),
    ...(settings.time ? [`--time=${settings.time}`] : []),
    ...(settings.partition ? [`--partition=${settings.partition}`] : []),
    // SLURM's own output (anything before the cell's log takes over, e.g. a missing node binary).
    `--output=${path.join(plan.layout.slurmDir, "%A_%a.out")}`,
    "--open-mode=append",
    ...settings.extra,
  ];
  const branches = cells.map((cell) => {
    const command = cellCommand(plan, cell).map(q).join(" ");
    return `  ${cell.index}) run_dir=${q(plan.layout.runDir(cell))}; cell=${q(cell.id)}\n     command=(${command}) ;;`;
  });
  return [
    "#!/bin/bash",
    `# Written by \`sea experiment run --executor slurm\`: experiment "${spec.name}" (definition ${plan.fingerprint}),`,
    `# ${cells.length} cell(s), one array task per cell (task id = cell index). Resubmitting resumes cells from their checkpoints.`,
    ...sbatch.map((o) => `#SBATCH ${o}`),
    "",
    "set -u",
    ...settings.setup,
    `cd ${q(REPO_ROOT)} || exit 1`,
    "# The experiment's thread count: a cell's last bits depend on it, and every executor must agree.",
    `export OPENBLAS_NUM_THREADS=${spec.threadsPerCell}`,
    'case "${SLURM_ARRAY_TASK_ID:-}" in',
    ...branches,
    '  *) echo "sea: no cell for array task ${SLURM_ARRAY_TASK_ID:-?}" >&2; exit 2 ;;',
    "esac",
    'mkdir -p "$run_dir"',
    'log="$run_dir/train.log"',
    'echo "=== $(date -u +%Y-%m-%dT%H:%M:%SZ) SLURM task ${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID} on $(hostname): cell ${SLURM_ARRAY_TASK_ID} ($cell), ' +
      `${spec.threadsPerCell} thread(s)" >>"$log"`,
    '"${command[@]}" >>"$log" 2>&1',
    "status=$?",
    `# ${LOCKED_EXIT_CODE}: another live process holds the cell's run lock; it will finish the cell.`,
    `if [ "$status" -eq ${LOCKED_EXIT_CODE} ]; then echo "sea: cell is being trained by another process; this task leaves it" >>"$log"; exit 0; fi`,
    'exit "$status"',
    "",
  ].join("\n");
}

/** One sbatch call: which cells went in which job. */
export interface SlurmSubmission {
  readonly job: string;
  readonly cells: readonly number[];
  readonly script: string;
  readonly submittedAt: string;
}

function submissionsFile(plan: ExperimentPlan): string {
  return path.join(plan.layout.slurmDir, "submissions.json");
}

export function readSubmissions(plan: ExperimentPlan): SlurmSubmission[] {
  try {
    const v = JSON.parse(fs.readFileSync(submissionsFile(plan), "utf8")) as { submissions?: SlurmSubmission[] };
    return Array.isArray(v.submissions) ? v.submissions : [];
  } catch {
    return [];
  }
}

/** Writes the job script next to the earlier ones, submits it and records the submission. */
export function submitCells(plan: ExperimentPlan, cells: readonly Cell[], settings: ResolvedSlurmSettings): SlurmSubmission {
  const earlier = readSubmissions(plan);
  const script = path.join(plan.layout.slurmDir, `job-${earlier.length + 1}.sh`);
  writeFileAtomic(script, renderJobScript(plan, cells, settings));
  fs.chmodSync(script, 0o755);
  const job = submitJobScript(script);
  const submission: SlurmSubmission = { job, cells: cells.map((c) => c.index), script, submittedAt: new Date().toISOString() };
  writeJsonAtomic(submissionsFile(plan), { submissions: [...earlier, submission] });
  return submission;
}

/**
 * Each submitted cell's latest array task as SLURM reports it: squeue first (queued/running), else sacct where
 * accounting answers; cells SLURM says nothing about are absent. `sacct` tells whether accounting answered.
 */
export function latestTasks(plan: ExperimentPlan): { tasks: Map<number, SlurmTaskState>; squeue: boolean; sacct: boolean } {
  const latestJob = new Map<number, string>();
  for (const s of readSubmissions(plan)) for (const index of s.cells) latestJob.set(index, s.job);
  const jobs = [...new Set(latestJob.values())];
  const queued = queuedTasks(jobs);
  const accounted = jobs.length > 0 ? accountedTasks(jobs) : null;
  const tasks = new Map<number, SlurmTaskState>();
  for (const t of [...(accounted ?? []), ...(queued ?? [])]) {
    if (latestJob.get(t.task) === t.arrayJob) tasks.set(t.task, t); // squeue's answer, listed last, wins
  }
  return { tasks, squeue: queued !== null, sacct: accounted !== null };
}

/** Cells with a task SLURM still has queued or running (not to be submitted again). */
export function activeCells(plan: ExperimentPlan): Set<number> {
  const { tasks } = latestTasks(plan);
  return new Set([...tasks].filter(([, t]) => t.source === "squeue" && ACTIVE_SLURM_STATES.has(t.state)).map(([i]) => i));
}
