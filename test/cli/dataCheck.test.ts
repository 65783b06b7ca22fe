import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const REPO = path.resolve(__dirname, "../..");
const MINI = path.join(REPO, "data/fixtures/mini");
let tmp = "";

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sea-datacheck-"));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function sea(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(REPO, "bin/sea.js"), ...args], { cwd: REPO, encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A copy of the mini fixture whose .inter is replaced by `inter`. */
function miniWith(name: string, inter: string): string {
  const dir = path.join(tmp, name, "mini");
  fs.mkdirSync(dir, { recursive: true });
  for (const f of fs.readdirSync(MINI)) fs.copyFileSync(path.join(MINI, f), path.join(dir, f));
  fs.writeFileSync(path.join(dir, "mini.inter"), inter);
  return dir;
}

function assertCleanError(r: { status: number | null; stderr: string; stdout: string }, fragment: string): void {
  assert.equal(r.status, 1, r.stderr);
  assert.equal(r.stdout, "");
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line, no stack trace: ${r.stderr}`);
  assert.ok(lines[0]!.startsWith("sea: error: "), r.stderr);
  assert.ok(lines[0]!.includes(fragment), `expected "${fragment}" in: ${r.stderr}`);
}

test("sea data check <mini>: exit 0 and the summary (sizes, splits, sparsity, modalities, fingerprint)", () => {
  const r = sea("data", "check", MINI);
  assert.equal(r.status, 0, r.stderr);
  const fields = new Map(r.stdout.trimEnd().split("\n").map((l) => [l.split(/\s{2,}/)[0]!, l.split(/\s{2,}/).slice(1).join("  ")]));
  assert.equal(fields.get("dataset"), `mini (${MINI})`);
  assert.equal(fields.get("users"), "5");
  assert.equal(fields.get("items"), "6");
  assert.equal(fields.get("interactions"), "23 (train 13, valid 5, test 5)");
  assert.equal(fields.get("sparsity"), `${((1 - 23 / 30) * 100).toFixed(4)}%`);
  assert.equal(fields.get("modalities"), "image 4-d, text 3-d");
  assert.match(fields.get("fingerprint") ?? "", /^[0-9a-f]{16}$/);
  assert.equal(fields.get("warnings"), "none");
});

test("sea data check --json: one object with the same figures and the warnings", () => {
  const header = "userID\titemID\trating\ttimestamp\tx_label\n";
  const src = fs.readFileSync(path.join(MINI, "mini.inter"), "utf8");
  const dir = miniWith("dups", src + "0\t0\t1\t1\t0\n0\t0\t1\t1\t0\n");
  const r = sea("data", "check", dir, "--json");
  assert.equal(r.status, 0, r.stderr);
  const s = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.equal(s.name, "mini");
  assert.equal(s.users, 5);
  assert.equal(s.items, 6);
  assert.deepEqual(s.interactions, { train: 13, valid: 5, test: 5, total: 23 });
  assert.equal(s.duplicatesDropped, 2);
  assert.equal(s.usersWithoutTrain, 0);
  assert.deepEqual(s.modalities, [{ name: "image", rows: 6, dim: 4 }, { name: "text", rows: 6, dim: 3 }]);
  assert.equal((s.warnings as string[]).length, 1);
  assert.match((s.warnings as string[])[0]!, /dropped 2 duplicate/);
  assert.ok(src.startsWith(header));
  // Same interactions after dropping the duplicates: same fingerprint as the fixture itself.
  const plain = JSON.parse(sea("data", "check", MINI, "--json").stdout) as Record<string, unknown>;
  assert.equal(s.fingerprint, plain.fingerprint);
});

test("sea data check on bad input: exit 1, one 'sea: error:' line naming the file and line, no stack trace", () => {
  const badLabel = miniWith("badlabel", "userID\titemID\tx_label\n0\t0\t0\n1\t1\t7\n");
  assertCleanError(sea("data", "check", badLabel), `${path.join(badLabel, "mini.inter")}:3: x_label must be 0 (train), 1 (valid) or 2 (test), got "7"`);
  const noColumn = miniWith("nocol", "user\titemID\tx_label\n0\t0\t0\n");
  assertCleanError(sea("data", "check", noColumn), "header lacks required column(s) userID");
  assertCleanError(sea("data", "check", path.join(tmp, "nowhere")), "no such dataset folder, and not a preset");
});
