import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { acquireRunLock, inspectRunLock, LOCKED_EXIT_CODE, processStartTime, RUN_LOCK_FILE, type RunLockHolder } from "../../src/train/runLock";
import { SeaError } from "../../src/util/errors";

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "sea-lock-"));
}

/** The pid of a process that has exited (and so runs nothing now). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  return Number(r.stdout);
}

function writeLock(dir: string, holder: Partial<RunLockHolder>, ageMs = 0): void {
  const full: RunLockHolder = { token: "t0", host: os.hostname(), pid: process.pid, processStart: null, slurmJob: null, startedAt: "2020-01-01T00:00:00Z", ...holder };
  const file = path.join(dir, RUN_LOCK_FILE);
  fs.writeFileSync(file, JSON.stringify(full));
  const when = new Date(Date.now() - ageMs);
  fs.utimesSync(file, when, when);
}

test("a run lock is exclusive while its holder lives, and free again after release", () => {
  const dir = tmp();
  try {
    const lock = acquireRunLock(dir);
    assert.equal(lock.holder.pid, process.pid);
    assert.equal(inspectRunLock(dir).kind, "held");
    assert.throws(
      () => acquireRunLock(dir),
      (e: unknown) => e instanceof SeaError && e.exitCode === LOCKED_EXIT_CODE && /being trained by pid \d+ on /.test(e.message),
    );
    lock.release();
    assert.equal(inspectRunLock(dir).kind, "free");
    acquireRunLock(dir).release();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("a lock left by a dead process (kill -9) on this host is stale and taken over", () => {
  const dir = tmp();
  try {
    const pid = deadPid();
    writeLock(dir, { pid, token: "dead" });
    const state = inspectRunLock(dir);
    assert.equal(state.kind, "stale");
    assert.match(state.kind === "stale" ? state.reason : "", new RegExp(`pid ${pid} no longer runs`));
    const lock = acquireRunLock(dir);
    assert.notEqual(lock.holder.token, "dead");
    assert.equal(JSON.parse(fs.readFileSync(path.join(dir, RUN_LOCK_FILE), "utf8")).token, lock.holder.token);
    lock.release();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("a reused pid (same pid, another start time) does not keep a lock alive", { skip: processStartTime(process.pid) === null ? "no /proc here" : false }, () => {
  const dir = tmp();
  try {
    writeLock(dir, { pid: process.pid, processStart: "1" });
    assert.equal(inspectRunLock(dir).kind, "stale");
    writeLock(dir, { pid: process.pid, processStart: processStartTime(process.pid) });
    assert.equal(inspectRunLock(dir).kind, "held");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("a holder on another host: SLURM decides when asked, else the heartbeat's age", () => {
  const dir = tmp();
  try {
    writeLock(dir, { host: "node-17", pid: 1, slurmJob: "42_3" }, 5 * 60 * 1000);
    assert.equal(inspectRunLock(dir).kind, "held", "5 min without a heartbeat is not stale yet");
    assert.equal(inspectRunLock(dir, { staleAfterMs: 60 * 1000 }).kind, "stale");
    const asked: string[] = [];
    const gone = inspectRunLock(dir, { slurmJobState: (job) => (asked.push(job), "gone") });
    assert.equal(gone.kind, "stale");
    assert.match(gone.kind === "stale" ? gone.reason : "", /SLURM job 42_3 is no longer queued or running/);
    assert.deepEqual(asked, ["42_3"]);
    assert.equal(inspectRunLock(dir, { staleAfterMs: 1, slurmJobState: () => "active" }).kind, "held", "a running job holds its lock whatever its heartbeat");
    assert.equal(inspectRunLock(dir, { staleAfterMs: 1, slurmJobState: () => "unknown" }).kind, "stale", "no answer: the heartbeat decides");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("a heartbeat keeps a lock fresh; release leaves a lock that another process took over alone", () => {
  const dir = tmp();
  try {
    const lock = acquireRunLock(dir);
    const file = path.join(dir, RUN_LOCK_FILE);
    const old = new Date(Date.now() - 3600_000);
    fs.utimesSync(file, old, old);
    lock.heartbeat();
    assert.ok(Date.now() - fs.statSync(file).mtimeMs < 60_000);
    writeLock(dir, { token: "someone-else" });
    lock.release();
    assert.equal(JSON.parse(fs.readFileSync(file, "utf8")).token, "someone-else");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("an unreadable lock file counts as held while fresh (its holder may be writing it) and stale after a minute", () => {
  const dir = tmp();
  try {
    const file = path.join(dir, RUN_LOCK_FILE);
    fs.writeFileSync(file, "");
    assert.equal(inspectRunLock(dir).kind, "held");
    const old = new Date(Date.now() - 120_000);
    fs.utimesSync(file, old, old);
    assert.equal(inspectRunLock(dir).kind, "stale");
    acquireRunLock(dir).release();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("processes racing for one lock (free, and stale): exactly one wins each time", async () => {
  const dir = tmp();
  const script = `
    const { acquireRunLock } = require(${JSON.stringify(path.resolve(__dirname, "../../src/train/runLock.ts"))});
    const dir = process.argv[process.argv.length - 1];
    const until = Number(process.env.START_AT);
    while (Date.now() < until) {}
    try { acquireRunLock(dir); process.stdout.write("won"); setTimeout(() => {}, 1500); }
    catch (e) { process.stdout.write(e.exitCode === 75 ? "lost" : "error " + e.message); }
  `;
  const race = async (): Promise<string[]> => {
    const startAt = String(Date.now() + 1500);
    const children = Array.from({ length: 6 }, () => spawn(process.execPath, ["--import", "tsx", "-e", script, dir], { env: { ...process.env, START_AT: startAt } }));
    return Promise.all(
      children.map(
        (c) =>
          new Promise<string>((resolve) => {
            let out = "";
            c.stdout.on("data", (d: Buffer) => (out += d.toString()));
            c.on("close", () => resolve(out));
          }),
      ),
    );
  };
  try {
    const first = await race();
    assert.deepEqual(first.filter((r) => r === "won").length, 1, first.join(", "));
    assert.deepEqual(first.filter((r) => r === "lost").length, 5, first.join(", "));
    // The winner has exited: its lock is stale now, and the next race breaks it once.
    assert.equal(inspectRunLock(dir).kind, "stale");
    const second = await race();
    assert.equal(second.filter((r) => r === "won").length, 1, second.join(", "));
    assert.equal(second.filter((r) => r === "lost").length, 5, second.join(", "));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
