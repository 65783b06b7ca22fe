import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  generateSynthetic,
  heldOutCounts,
  loadGroundTruth,
  SYNTHETIC_PRESETS,
  syntheticSplitCsr,
  writeSynthetic,
  type SyntheticConfig,
} from "../../src/data/synthetic";
import { loadMmrecDataset } from "../../src/data/mmrec";
import { readNpy } from "../../src/data/npy";
import { resolveDatasetPath, SHIPPED_SMALL_DIR, loadDatasetArg } from "../../src/data/resolveDataset";
import { csrRow } from "../../src/util/csr";
import { Command } from "commander";
import { registerDataSynthCommand } from "../../src/cli/commands/dataSynth";

const ROOT = path.resolve(__dirname, "../..");
let tmp = "";
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sea-synth-"));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function filesOf(dir: string): Map<string, Buffer> {
  return new Map(fs.readdirSync(dir).sort().map((f) => [f, fs.readFileSync(path.join(dir, f))]));
}

test("tiny: same seed ⇒ byte-identical files; another seed ⇒ different files", () => {
  const a = path.join(tmp, "a", "tiny");
  const b = path.join(tmp, "b", "tiny");
  const c = path.join(tmp, "c", "tiny");
  writeSynthetic(generateSynthetic("tiny", 5), a);
  writeSynthetic(generateSynthetic("tiny", 5), b);
  writeSynthetic(generateSynthetic("tiny", 6), c);
  const fa = filesOf(a);
  const fb = filesOf(b);
  const fc = filesOf(c);
  assert.deepEqual(
    [...fa.keys()],
    ["ground_truth.json", "gt_cluster.npy", "gt_image.npy", "gt_shared.npy", "gt_text.npy", "image_feat.npy", "text_feat.npy", "tiny.inter"],
  );
  for (const [f, bytes] of fa) {
    assert.ok(bytes.equals(fb.get(f)!), `${f} identical for the same seed`);
    if (f !== "ground_truth.json") assert.ok(!bytes.equals(fc.get(f)!), `${f} differs for another seed`);
  }
});

test("tiny: shapes, counts, per-user floor and the split rules", async () => {
  const cfg = SYNTHETIC_PRESETS.tiny;
  const data = generateSynthetic("tiny", 1);
  const dir = path.join(tmp, "shapes", "tiny");
  writeSynthetic(data, dir);
  const d = await loadMmrecDataset(dir);
  assert.equal(d.nUsers, cfg.nUsers);
  assert.equal(d.nItems, cfg.nItems);
  assert.deepEqual(d.modalities.map((m) => [m.name, m.rows, m.cols]), [["image", 200, 32], ["text", 200, 16]]);
  assert.deepEqual(d.warnings, []);
  const { train, valid, test: testSplit } = d.stats.interactions;
  const total = train + valid + testSplit;
  // The total matches the target in expectation (stochastic rounding over 300 users): within 3%.
  assert.ok(Math.abs(total - cfg.interactions) < 0.03 * cfg.interactions, `total ${total}`);
  // ~8:1:1 overall (min-5 users with 3/1/1 pull train a little below 80%).
  assert.ok(train / total > 0.7 && train / total < 0.82, `train share ${train / total}`);
  assert.ok(Math.abs(valid - testSplit) <= 0.02 * total && valid / total > 0.08 && valid / total < 0.15, `valid ${valid}, test ${testSplit}`);
  for (let u = 0; u < d.nUsers; u++) {
    const n = [d.train, d.valid, d.test].map((m) => m.indptr[u + 1]! - m.indptr[u]!);
    const all = n[0]! + n[1]! + n[2]!;
    assert.ok(all >= cfg.minPerUser, `user ${u} has ${all} interactions`);
    assert.ok(n[0]! >= 1 && n[1]! >= 1 && n[2]! >= 1, `user ${u}: ${n}`);
    assert.deepEqual({ valid: n[1], test: n[2] }, heldOutCounts(all, cfg.split));
    // No item in two splits of one user.
    const items = [d.train, d.valid, d.test].flatMap((m) => Array.from(csrRow(m, u)));
    assert.equal(new Set(items).size, items.length);
  }
  // The in-memory CSR helper agrees with the loader.
  assert.deepEqual(syntheticSplitCsr(data, "valid").indices, d.valid.indices);
});

test("heldOutCounts: rounding, floors, at least one train item", () => {
  const s = [0.8, 0.1, 0.1] as const;
  assert.deepEqual(heldOutCounts(1, s), { valid: 0, test: 0 });
  assert.deepEqual(heldOutCounts(2, s), { valid: 0, test: 0 });
  assert.deepEqual(heldOutCounts(3, s), { valid: 1, test: 1 });
  assert.deepEqual(heldOutCounts(14, s), { valid: 1, test: 1 });
  assert.deepEqual(heldOutCounts(15, s), { valid: 2, test: 2 });
  assert.deepEqual(heldOutCounts(3, [0.2, 0.4, 0.4]), { valid: 1, test: 1 });
  assert.deepEqual(heldOutCounts(10, [0.8, 0, 0.2]), { valid: 0, test: 2 });
});

/** Least-squares R² of y [n] on columns X [n × p] plus an intercept (normal equations, float64). */
function r2(xCols: Float64Array[], y: Float64Array): number {
  const n = y.length;
  const cols = [new Float64Array(n).fill(1), ...xCols];
  const p = cols.length;
  const a = Array.from({ length: p }, (_, i) => Array.from({ length: p + 1 }, (_, j) => {
    const v = j < p ? cols[j]! : y;
    let s = 0;
    for (let k = 0; k < n; k++) s += cols[i]![k]! * v[k]!;
    return s;
  }));
  for (let i = 0; i < p; i++) {
    let piv = i;
    for (let r = i + 1; r < p; r++) if (Math.abs(a[r]![i]!) > Math.abs(a[piv]![i]!)) piv = r;
    [a[i], a[piv]] = [a[piv]!, a[i]!];
    for (let r = 0; r < p; r++) {
      if (r === i) continue;
      const f = a[r]![i]! / a[i]![i]!;
      for (let c = i; c <= p; c++) a[r]![c]! -= f * a[i]![c]!;
    }
  }
  const beta = a.map((row, i) => row[p]! / row[i]!);
  const mean = y.reduce((s, v) => s + v, 0) / n;
  let ssRes = 0;
  let ssTot = 0;
  for (let k = 0; k < n; k++) {
    let fit = 0;
    for (let j = 0; j < p; j++) fit += beta[j]! * cols[j]![k]!;
    ssRes += (y[k]! - fit) ** 2;
    ssTot += (y[k]! - mean) ** 2;
  }
  return 1 - ssRes / ssTot;
}

function column(values: Float32Array, dim: number, j: number): Float64Array {
  return Float64Array.from({ length: values.length / dim }, (_, i) => values[i * dim + j]!);
}

test("planted truth: noiseless linear features lie exactly in the span of [z_g, z_m], not of [z_g, z_other]", () => {
  const cfg: SyntheticConfig = { ...SYNTHETIC_PRESETS.tiny, featureNoise: 0 };
  const data = generateSynthetic(cfg, 3);
  const gt = data.truth;
  const zg = Array.from({ length: cfg.sharedDim }, (_, j) => column(gt.shared, cfg.sharedDim, j));
  const zu = (m: string) => Array.from({ length: 4 }, (_, j) => column(gt.unique[m]!, 4, j));
  const image = data.features.find((f) => f.name === "image")!;
  for (const j of [0, 7, 31]) {
    const y = column(image.data, image.cols, j);
    assert.ok(r2([...zg, ...zu("image")], y) > 0.999999, `image column ${j} from its own factors`);
    assert.ok(r2([...zg, ...zu("text")], y) < 0.95, `image column ${j} is not explained by the text factors`);
  }
  // Clusters: z_g of items in one cluster sit around a common centre (spread 0.5 ⇒ within-cluster
  // variance 0.25/1.25 = 0.2 of the total per coordinate).
  let within = 0;
  for (let j = 0; j < cfg.sharedDim; j++) {
    const col = zg[j]!;
    for (let c = 0; c < cfg.clusters; c++) {
      const members = Array.from(col).filter((_, i) => gt.clusters[i] === c);
      const m = members.reduce((s, v) => s + v, 0) / members.length;
      within += members.reduce((s, v) => s + (v - m) ** 2, 0);
    }
  }
  const share = within / (cfg.nItems * cfg.sharedDim);
  assert.ok(share > 0.12 && share < 0.3, `within-cluster variance share ${share}`);
});

test("loadGroundTruth: round trip; null without ground_truth.json; readable error on a bad file", () => {
  const data = generateSynthetic("tiny", 2);
  const dir = path.join(tmp, "gt", "tiny");
  writeSynthetic(data, dir);
  const gt = loadGroundTruth(dir)!;
  assert.equal(gt.nItems, 200);
  assert.equal(gt.sharedDim, 4);
  assert.equal(gt.preset, "tiny");
  assert.equal(gt.seed, 2);
  assert.deepEqual(gt.shared, data.truth.shared);
  assert.deepEqual(Object.keys(gt.unique), ["image", "text"]);
  assert.deepEqual(gt.unique.text!.values, data.truth.unique.text);
  assert.equal(gt.unique.text!.dim, 4);
  assert.deepEqual(gt.clusters, data.truth.clusters);
  const c = readNpy(path.join(dir, "gt_cluster.npy"));
  assert.equal(c.dtype, "int32");
  assert.equal(loadGroundTruth(path.join(tmp, "gt")), null);
  fs.writeFileSync(path.join(dir, "ground_truth.json"), "{ nope");
  assert.throws(() => loadGroundTruth(dir), /ground_truth\.json: not valid JSON/);
});

test("generateSynthetic: bad preset and bad config fields are named", () => {
  assert.throws(() => generateSynthetic("huge" as "tiny", 1), /preset: unknown synthetic preset "huge"/);
  assert.throws(() => generateSynthetic({ ...SYNTHETIC_PRESETS.tiny, nItems: 0 }, 1), /synthetic config nItems: must be a positive integer/);
  assert.throws(() => generateSynthetic({ ...SYNTHETIC_PRESETS.tiny, interactions: 10 }, 1), /synthetic config interactions/);
  assert.throws(() => generateSynthetic("tiny", -1), /seed: must be an integer/);
});

test("data/small is exactly what `sea data synth --preset small --seed 999` generates", () => {
  const dir = path.join(tmp, "regen", "small");
  writeSynthetic(generateSynthetic("small", 999), dir);
  const shipped = filesOf(SHIPPED_SMALL_DIR);
  const regenerated = filesOf(dir);
  assert.deepEqual([...shipped.keys()], [...regenerated.keys()]);
  for (const [f, bytes] of shipped) assert.ok(bytes.equals(regenerated.get(f)!), `data/small/${f} differs from a fresh generation`);
  const total = [...shipped.values()].reduce((s, b) => s + b.length, 0);
  assert.ok(total < 3 * 1024 * 1024, `data/small is ${total} bytes`);
});

test("resolveDatasetPath: folders as is, small → data/small, unknown names and missing folders are errors", async () => {
  assert.equal(resolveDatasetPath("small"), SHIPPED_SMALL_DIR);
  assert.equal(resolveDatasetPath(SHIPPED_SMALL_DIR), SHIPPED_SMALL_DIR);
  assert.throws(() => resolveDatasetPath(path.join(tmp, "nowhere")), /nowhere: no such dataset folder, and not a preset \(presets: tiny, small, baby-shape\)/);
  const file = path.join(tmp, "a-file");
  fs.writeFileSync(file, "x");
  assert.throws(() => resolveDatasetPath(file), /not a folder/);
  const d = await loadDatasetArg("small");
  assert.equal(d.name, "small");
  assert.equal(d.nItems, 1000);
  assert.ok(loadGroundTruth(d.dir) !== null);
});

test("resolveDatasetPath: a preset is generated once into .cache/datasets/<preset>-seed<seed>", () => {
  const dir = resolveDatasetPath("tiny", { seed: 424242 });
  assert.equal(dir, path.join(ROOT, ".cache", "datasets", "tiny-seed424242"));
  assert.ok(fs.existsSync(path.join(dir, "tiny-seed424242.inter")));
  const before = fs.statSync(path.join(dir, "image_feat.npy")).mtimeMs;
  assert.equal(resolveDatasetPath("tiny", { seed: 424242 }), dir);
  assert.equal(fs.statSync(path.join(dir, "image_feat.npy")).mtimeMs, before, "reused, not regenerated");
  // No temporary folders left behind.
  assert.deepEqual(fs.readdirSync(path.dirname(dir)).filter((f) => f.includes(".tmp-")), []);
  fs.rmSync(dir, { recursive: true, force: true });
});

function sea(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(ROOT, "bin", "sea.js"), ...args], { encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The command in-process (no CLI start-up cost): resolves with stdout, rejects with the command's error. */
async function synthInProcess(...args: string[]): Promise<string> {
  const program = new Command("sea").exitOverride();
  registerDataSynthCommand(program.command("data").exitOverride());
  let out = "";
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string) => {
    out += chunk;
    return true;
  }) as typeof process.stdout.write;
  try {
    await program.parseAsync(["data", "synth", ...args], { from: "user" });
  } finally {
    process.stdout.write = write;
  }
  return out;
}

test("sea data synth: exit codes and messages through bin/sea.js", () => {
  const out = path.join(tmp, "cli", "mytiny");
  const ok = sea("data", "synth", "--preset", "tiny", "--seed", "5", "--out", out);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /wrote synthetic dataset "tiny" \(seed 5\)/);
  assert.match(ok.stdout, /mytiny\.inter/);
  // Same bytes as the API with the same seed.
  const api = path.join(tmp, "cli-api", "mytiny");
  writeSynthetic(generateSynthetic("tiny", 5), api);
  for (const [f, bytes] of filesOf(api)) assert.ok(bytes.equals(fs.readFileSync(path.join(out, f))), f);
  const badPreset = sea("data", "synth", "--preset", "huge", "--out", path.join(tmp, "cli", "x"));
  assert.equal(badPreset.status, 1);
  assert.match(badPreset.stderr, /^sea: error: --preset: unknown preset "huge" \(known: tiny, small, baby-shape\)/);
});

test("sea data synth: replaces a synthetic dataset, refuses a foreign folder unless --force, checks --seed", async () => {
  const out = path.join(tmp, "cli2", "again");
  await synthInProcess("--preset", "tiny", "--seed", "1", "--out", out);
  const first = fs.readFileSync(path.join(out, "image_feat.npy"));
  assert.match(await synthInProcess("--preset", "tiny", "--seed", "2", "--out", out), /wrote synthetic dataset "tiny" \(seed 2\)/);
  assert.ok(!first.equals(fs.readFileSync(path.join(out, "image_feat.npy"))), "replaced");
  assert.deepEqual(fs.readdirSync(path.dirname(out)), ["again"], "no temporary or set-aside folders left");
  const foreign = path.join(tmp, "cli2", "foreign");
  fs.mkdirSync(foreign);
  fs.writeFileSync(path.join(foreign, "notes.txt"), "keep me");
  await assert.rejects(synthInProcess("--preset", "tiny", "--out", foreign), /foreign: exists, is not empty .* pass --force/);
  assert.equal(fs.readFileSync(path.join(foreign, "notes.txt"), "utf8"), "keep me");
  await synthInProcess("--preset", "tiny", "--out", foreign, "--force");
  assert.ok(!fs.existsSync(path.join(foreign, "notes.txt")) && fs.existsSync(path.join(foreign, "foreign.inter")));
  await assert.rejects(synthInProcess("--preset", "tiny", "--seed", "abc", "--out", out), /--seed: must be an integer/);
});
