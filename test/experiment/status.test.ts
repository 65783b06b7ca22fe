import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { validateExperiment } from "../../src/experiment/spec";
import { planExperiment, type ExperimentPlan } from "../../src/experiment/plan";
import { cellStatus } from "../../src/experiment/cellStatus";
import { experimentStatus } from "../../src/experiment/status";
import { collectExperiment } from "../../src/experiment/collect";
import { FAILURE_FILE } from "../../src/experiment/layout";
import { RUN_LOCK_FILE } from "../../src/train/runLock";
import type { Cell } from "../../src/experiment/cells";
import type { SlurmTaskState } from "../../src/experiment/slurmQueue";

function makePlan(out: string, raw: Record<string, unknown> = {}): ExperimentPlan {
  const spec = validateExperiment({ name: "st", output: out, datasets: ["tiny"], variants: ["sea", "no-club"], seeds: [1, 2, 3], epochs: 4, ...raw }, "st.yaml");
  return planExperiment({ spec, file: path.join(out, "st.yaml"), label: "st.yaml" });
}

/** A run folder as `sea train` leaves it after `epochs` epochs (metrics with plausible values, config.json). */
function fakeRun(plan: ExperimentPlan, cell: Cell, epochs: number, extra: { stopReason?: string; fingerprint?: string | null } = {}): void {
  const dir = plan.layout.runDir(cell);
  fs.mkdirSync(dir, { recursive: true });
  const m = (x: number): Record<string, number> => ({ "recall@10": x, "recall@20": x * 1.5, "ndcg@10": x / 2, "ndcg@20": x / 1.5 });
  const stopReason = extra.stopReason ?? (epochs >= cell.config.epochs ? "epochs" : "running");
  const metrics = {
    variant: cell.variant,
    seed: cell.seed,
    dataset: { name: "tiny", fingerprint: "f" },
    epochs: Array.from({ length: epochs }, (_, i) => ({ epoch: i + 1, seconds: 1, loss: { total: 1 }, valid: m(0.1 + i / 100), test: m(0.1 + cell.seed / 100) })),
    bestEpoch: epochs,
    best: { valid: m(0.1), test: m(0.1 + cell.seed / 100 + (cell.variant === "sea" ? 0.01 : 0)) },
    stopReason,
  };
  fs.writeFileSync(path.join(dir, "metrics.json"), JSON.stringify(metrics));
  const fingerprint = extra.fingerprint === undefined ? plan.fingerprint : extra.fingerprint;
  const experiment = fingerprint === null ? {} : { experiment: { name: "st", file: "", fingerprint, cell: cell.id, index: cell.index, threadsPerCell: 1 } };
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify({ config: cell.config, variant: cell.variant, seed: cell.seed, dataset: { name: "tiny" }, ...experiment }));
  fs.writeFileSync(path.join(dir, "per_user.json"), JSON.stringify({ users: [0, 1, 2], values: { "recall@20": [0.1, 0.2, cell.seed / 10] } }));
  fs.writeFileSync(path.join(dir, "train.log"), "log\n");
}

function deadPid(): number {
  return Number(spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" }).stdout);
}

function task(cell: Cell, state: string, source: "squeue" | "sacct"): SlurmTaskState {
  return { job: `77_${cell.index}`, arrayJob: "77", task: cell.index, state, source };
}

test("cell states from run folders, locks, failure records and SLURM's answers", () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "sea-status-"));
  try {
    const plan = makePlan(out);
    const c = plan.expansion.cells;
    fakeRun(plan, c[0]!, 4); // finished
    fakeRun(plan, c[1]!, 2); // running here: our own pid holds the lock
    fs.writeFileSync(path.join(plan.layout.runDir(c[1]!), RUN_LOCK_FILE), JSON.stringify({ token: "a", host: os.hostname(), pid: process.pid, processStart: null, slurmJob: null, startedAt: "now" }));
    fakeRun(plan, c[2]!, 3); // killed: its lock's pid is gone
    fs.writeFileSync(path.join(plan.layout.runDir(c[2]!), RUN_LOCK_FILE), JSON.stringify({ token: "b", host: os.hostname(), pid: deadPid(), processStart: null, slurmJob: null, startedAt: "then" }));
    fakeRun(plan, c[3]!, 1); // failed with a message
    fs.writeFileSync(path.join(plan.layout.runDir(c[3]!), FAILURE_FILE), JSON.stringify({ message: "bad thing", exitCode: 1, at: "now", host: "h", slurmJob: "77_3" }));
    fakeRun(plan, c[4]!, 2, { stopReason: "nan" });
    // c[5] never started

    const states = c.map((cell) => cellStatus(plan.layout, cell, null));
    assert.deepEqual(states.map((s) => s.state), ["done", "running", "failed", "failed", "failed", "pending"]);
    assert.match(states[0]!.detail, /finished after 4 epochs, best epoch 4/);
    assert.match(states[1]!.detail, new RegExp(`epoch 2/4; pid ${process.pid} on `));
    assert.match(states[2]!.detail, /interrupted at epoch 3\/4 \(pid \d+ no longer runs .*\); run again to resume from the checkpoint/);
    assert.match(states[3]!.detail, /bad thing \(exit 1, SLURM task 77_3\)/);
    assert.match(states[4]!.detail, /NaN\/Inf in epoch 3/);
    assert.equal(states[5]!.detail, "not started");
    assert.equal(states[2]!.log, plan.layout.logFile(c[2]!));
    assert.equal(states[5]!.log, null);

    // What SLURM says about a cell without a live lock.
    assert.equal(cellStatus(plan.layout, c[5]!, task(c[5]!, "PENDING", "squeue")).state, "pending");
    assert.match(cellStatus(plan.layout, c[5]!, task(c[5]!, "PENDING", "squeue")).detail, /queued as SLURM task 77_5/);
    assert.equal(cellStatus(plan.layout, c[5]!, task(c[5]!, "RUNNING", "squeue")).state, "running");
    const timeout = cellStatus(plan.layout, c[5]!, task(c[5]!, "TIMEOUT", "sacct"));
    assert.equal(timeout.state, "failed");
    assert.match(timeout.detail, /SLURM task 77_5 timeout/);
    assert.equal(cellStatus(plan.layout, c[0]!, task(c[0]!, "RUNNING", "squeue")).state, "done", "a finished run is done whatever the queue says");

    const status = experimentStatus(plan);
    assert.deepEqual(status.counts, { done: 1, running: 1, pending: 1, failed: 3 });
    assert.equal(status.slurm, null, "never submitted to SLURM");
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test("collect: results.csv and tables from finished cells; refuses unfinished cells and other definitions without the flags", () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "sea-collect-"));
  try {
    const plan = makePlan(out);
    const cells = plan.expansion.cells;
    for (const cell of cells.slice(0, 5)) fakeRun(plan, cell, 4);
    assert.throws(() => collectExperiment(plan), /1 of 6 cells are not finished \(first: no-club\/seed-3\).*--partial/);
    const partial = collectExperiment(plan, { partial: true });
    assert.equal(partial.runs.length, 5);
    assert.ok(partial.notes.some((n) => /1 of 6 cells are not finished/.test(n)));

    fakeRun(plan, cells[5]!, 4, { fingerprint: "0123456789abcdef" });
    assert.throws(() => collectExperiment(plan), /refusing to mix runs of different experiment definitions.*1 from another definition of the experiment: no-club\/seed-3 \(definition 0123456789abcdef\).*--force/);
    const forced = collectExperiment(plan, { force: true });
    assert.equal(forced.runs.length, 6);
    assert.ok(forced.notes.some((n) => /included under --force/.test(n)));

    fakeRun(plan, cells[5]!, 4, { fingerprint: null });
    assert.throws(() => collectExperiment(plan), /1 made outside an experiment: no-club\/seed-3/);
    assert.equal(collectExperiment(plan, { acceptRunsWithoutProvenance: true }).runs.length, 6);

    fakeRun(plan, cells[5]!, 4);
    const result = collectExperiment(plan);
    const rows = fs.readFileSync(result.resultsFile, "utf8").trim().split("\n");
    assert.equal(rows.length, 7);
    assert.match(rows[0]!, /^variant,seed,best_epoch,epochs_run,stop_reason,valid_recall@20,test_recall@10/);
    assert.match(rows[4]!, /^no-club,1,4,4,epochs,/);
    const tables = fs.readFileSync(result.tablesFile, "utf8");
    assert.match(tables, /== all cells ==/);
    assert.match(tables, /p \(paired t\)/);

    // A run whose config is not the cell's is never collected, even with --force.
    const dir = plan.layout.runDir(cells[0]!);
    const record = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"));
    record.config.lr = 0.5;
    fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(record));
    assert.throws(() => collectExperiment(plan, { force: true }), /the run of cell sea\/seed-1 has another config/);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test("collect on a backbone × variant experiment: one table per backbone, no sensitivity table", () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "sea-collect-backbones-"));
  try {
    const plan = makePlan(out, { backbones: ["lightgcn", "vbpr"], variants: ["plain", "sea"], seeds: [1] });
    assert.deepEqual(plan.expansion.cells.map((c) => c.id), ["lightgcn/plain/seed-1", "vbpr/plain/seed-1", "vbpr/sea/seed-1"]);
    for (const cell of plan.expansion.cells) fakeRun(plan, cell, 4);
    const result = collectExperiment(plan);
    const rows = fs.readFileSync(result.resultsFile, "utf8").trim().split("\n");
    assert.match(rows[0]!, /^backbone,variant,seed,best_epoch,/);
    assert.match(result.tables, /== backbone=lightgcn ==/);
    assert.match(result.tables, /== backbone=vbpr ==/);
    assert.doesNotMatch(result.tables, /sensitivity/, "a backbone is a setting, not a swept value");
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test("collect on a grid experiment: axis columns in results.csv and a sensitivity table", () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "sea-collect-grid-"));
  try {
    const plan = makePlan(out, { variants: ["sea"], seeds: [1, 2], grids: [{ alpha: [0.01, 0.1] }] });
    for (const cell of plan.expansion.cells) fakeRun(plan, cell, 4);
    const result = collectExperiment(plan);
    const rows = fs.readFileSync(result.resultsFile, "utf8").trim().split("\n");
    assert.match(rows[0]!, /^alpha,variant,seed,best_epoch,/);
    assert.deepEqual(rows.slice(1).map((r) => r.split(",").slice(0, 3).join(",")), ["0.01,sea,1", "0.01,sea,2", "0.1,sea,1", "0.1,sea,2"]);
    assert.match(result.tables, /== alpha=0\.01 ==/);
    assert.match(result.tables, /== sensitivity ==\nalpha\s+variant\s+seeds\s+recall@10/);
    assert.match(result.tables, /\n0\.1 +sea +2 +0\.1250 ± 0\.0071/);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
