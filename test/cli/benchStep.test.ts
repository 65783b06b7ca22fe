import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";

const REPO = path.resolve(__dirname, "../..");

function sea(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return seaWith({}, ...args);
}

function seaWith(env: Record<string, string>, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(REPO, "bin/sea.js"), ...args], { cwd: REPO, encoding: "utf8", env: { ...process.env, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Timing {
  stepSeconds: number;
  phases: Record<string, number>;
  batchesPerEpoch: number;
  epochSeconds: number;
  parameters: number;
}

// Timings are not asserted (machines are noisy); the report's structure and consistency are.
test("sea bench step --json on tiny: both formulations timed, same model, ratios consistent with the timings", () => {
  const r = sea("bench", "step", "--preset", "tiny", "--steps", "1", "--naive-steps", "1", "--json");
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, unknown>;
  const re = out.reassociated as Timing;
  const naive = out.naive as Timing;
  for (const t of [re, naive]) {
    assert.ok(t.stepSeconds > 0);
    assert.deepEqual(Object.keys(t.phases).sort(), ["club", "gradient", "update"]);
    assert.ok(t.epochSeconds >= t.stepSeconds * t.batchesPerEpoch, "an epoch is at least its steps");
  }
  assert.equal(re.parameters, naive.parameters, "reassociation changes the computation, not the model");
  assert.equal(out.speedup, naive.stepSeconds / re.stepSeconds);
  const projection = out.projectionSeconds as Record<string, number>;
  assert.equal(out.projectionSpeedup, projection.naive! / projection.reassociated!);
  assert.ok((out.peakRssMiB as number) > 0);
  assert.equal(out.warmup, 3);
  assert.equal(out.garbageCollector, "single-threaded", "bin/sea.js re-runs itself under --single-threaded-gc");
  if (process.env.GLIBC_TUNABLES === undefined) assert.match(String(out.glibcTunables), /glibc\.malloc\.mmap_threshold=33554432/);
});

test("sea bench step: SEA_PROCESS_TUNING=0 keeps V8's collector; a non-integer --warmup is an error naming the flag", () => {
  const r = seaWith({ SEA_PROCESS_TUNING: "0" }, "bench", "step", "--preset", "tiny", "--steps", "1", "--naive-steps", "0", "--warmup", "0", "--json");
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.equal(out.garbageCollector, "concurrent");
  if (process.env.GLIBC_TUNABLES === undefined) assert.equal(out.glibcTunables, null);
  assert.equal(out.warmup, 0);
  const bad = sea("bench", "step", "--preset", "tiny", "--warmup", "two");
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--warmup.*must be an integer ≥ 0, got "two"/);
});

test("sea bench step with an unknown dataset: one-line error, exit 1", () => {
  const r = sea("bench", "step", "--preset", "no-such-dataset", "--json");
  assert.equal(r.status, 1);
  assert.equal(r.stdout, "");
  assert.equal(r.stderr.trimEnd().split("\n").filter((l) => l.startsWith("sea: error")).length, 1, r.stderr);
});

// Timings are not asserted; which models are timed, beside what, and the profile's presence are.
test("sea bench step --backbone vbpr --separation sea --json: sea + sea, vbpr alone and vbpr + sea, each with its kernels", () => {
  const r = sea("bench", "step", "--preset", "tiny", "--backbone", "vbpr", "--separation", "sea", "--steps", "1", "--warmup", "0", "--profile", "--json");
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { timings: { backbone: string; variant: string; stepSeconds: number; parameters: number; kernels?: Record<string, { calls: number }> }[] };
  assert.deepEqual(out.timings.map((t) => `${t.backbone}+${t.variant}`), ["sea+sea", "vbpr+plain", "vbpr+sea"]);
  for (const t of out.timings) {
    assert.ok(t.stepSeconds > 0 && t.parameters > 0);
    assert.ok((t.kernels?.BatchMatMul?.calls ?? 0) > 0, `${t.backbone} + ${t.variant}: the profile lists its products`);
  }
  const [, alone, withSea] = out.timings;
  assert.ok(withSea!.parameters > alone!.parameters, "the separation adds its heads and maps");
  const bad = sea("bench", "step", "--preset", "tiny", "--backbone", "nope");
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--backbone: unknown backbone "nope"/);
});
