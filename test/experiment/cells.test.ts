import { test } from "node:test";
import assert from "node:assert/strict";
import * as path from "node:path";
import { expandCells } from "../../src/experiment/cells";
import { experimentFingerprint } from "../../src/experiment/provenance";
import { readExperimentFile, validateExperiment, type ExperimentSpec } from "../../src/experiment/spec";
import { ablationExperiment } from "../../src/experiment/ablationExperiment";
import { DEFAULT_CONFIG } from "../../src/model/config";
import { parseOverride } from "../../src/model/config";

const REPO = path.resolve(__dirname, "../..");

function spec(raw: Record<string, unknown>): ExperimentSpec {
  return validateExperiment({ name: "t", output: "out", datasets: ["tiny"], variants: ["sea"], seeds: [1], ...raw }, "t.yaml");
}

test("a one-dataset ablation expands to variant × seed with sea ablate's folder layout", () => {
  const { cells, columns, merged } = expandCells(spec({ variants: ["sea", "no-club"], seeds: [1, 2, 3] }), "t.yaml");
  assert.deepEqual(
    cells.map((c) => c.id),
    ["sea/seed-1", "sea/seed-2", "sea/seed-3", "no-club/seed-1", "no-club/seed-2", "no-club/seed-3"],
  );
  assert.deepEqual(cells.map((c) => c.index), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(columns, ["variant", "seed"]);
  assert.equal(merged, 0);
  assert.equal(cells[4]!.config.seed, 2);
  assert.equal(cells[4]!.config.distance, "none", "the variant's overrides");
  assert.deepEqual(cells[4]!.labels, { variant: "no-club", seed: "2" });
});

test("datasets, config sets and grid points are outer axes, named in the folder only when they vary", () => {
  const s = spec({
    datasets: ["tiny", { path: "/data/clothing", set: { patience: 30 } }],
    configSets: { base: {}, fast: { lr: 0.005 } },
    grids: [{ alpha: [0.01, 0.02], tau: [0.1, 0.5] }],
    seeds: [7],
  });
  const { cells, columns } = expandCells(s, "t.yaml");
  assert.equal(cells.length, 2 * 2 * 4 * 1 * 1);
  assert.deepEqual(columns, ["dataset", "config_set", "alpha", "tau", "variant", "seed"]);
  assert.deepEqual(expandCells(s, "t.yaml").gridColumns, ["alpha", "tau"], "only the grid's keys are swept values");
  assert.equal(cells[0]!.id, "tiny/base/alpha-0.01_tau-0.1/sea/seed-7");
  assert.equal(cells[1]!.id, "tiny/base/alpha-0.01_tau-0.5/sea/seed-7", "the last grid key varies fastest");
  const last = cells[cells.length - 1]!;
  assert.equal(last.id, "clothing/fast/alpha-0.02_tau-0.5/sea/seed-7");
  assert.deepEqual(last.labels, { dataset: "clothing", config_set: "fast", alpha: "0.02", tau: "0.5", variant: "sea", seed: "7" });
  assert.equal(last.config.patience, 30, "the dataset's own config values");
  assert.equal(last.config.lr, 0.005, "the config set's values");
  assert.equal(last.config.alpha, 0.02, "the grid point's values");
  assert.equal(cells[0]!.config.patience, DEFAULT_CONFIG.patience);
});

test("config layers: variant < set < dataset < config set < grid point < seed", () => {
  const s = spec({
    variants: ["no-solosim"], // alpha = 0
    datasets: [{ path: "tiny", set: { lr: 0.2, tau: 0.3 } }],
    set: { lr: 0.1, clubWeight: 0.5, tau: 0.25 },
    configSets: { one: { tau: 0.4, clubWeight: 0.6 } },
    grids: [{ clubWeight: [0.7] }],
    seeds: [3],
  });
  const [cell] = expandCells(s, "t.yaml").cells;
  assert.equal(cell!.config.alpha, 0, "no grid or set touches alpha: the variant's value");
  assert.equal(cell!.config.lr, 0.2, "dataset over set");
  assert.equal(cell!.config.tau, 0.4, "config set over dataset");
  assert.equal(cell!.config.clubWeight, 0.7, "grid point over config set");
  assert.equal(cell!.config.seed, 3);
});

test("cells with the same dataset, variant and config are one cell (one-key grids share their base point)", () => {
  const s = spec({ set: { alpha: 0.012, tau: 0.2 }, grids: [{ alpha: [0.003, 0.012] }, { tau: [0.2, 0.5] }] });
  const { cells, merged, columns } = expandCells(s, "t.yaml");
  assert.deepEqual(cells.map((c) => c.id), ["alpha-0.003/sea/seed-1", "alpha-0.012/sea/seed-1", "tau-0.5/sea/seed-1"]);
  assert.equal(merged, 1, "tau=0.2 is alpha=0.012's cell");
  assert.deepEqual(columns, ["alpha", "tau", "variant", "seed"]);
  assert.deepEqual(cells[2]!.labels, { alpha: "", tau: "0.5", variant: "sea", seed: "1" });
});

test("a combination no config allows names the cell and the file", () => {
  assert.throws(() => expandCells(spec({ set: { stopMetric: "recall@50" } }), "t.yaml"), /t\.yaml: cell sea\/seed-1: config\.stopMetric: stopMetric "recall@50"/);
});

test("the fingerprint covers what decides results, not where or how cells run", () => {
  const base = { set: { lr: 0.1, batchSize: 256 }, grids: [{ alpha: [0.1, 0.2] }] };
  const f = experimentFingerprint(spec(base));
  assert.match(f, /^[0-9a-f]{16}$/);
  assert.equal(experimentFingerprint(spec({ ...base, set: { batchSize: 256, lr: 0.1 } })), f, "key order of a config map");
  assert.equal(experimentFingerprint(spec({ ...base, name: "renamed", output: "elsewhere", dataRoot: "/d", slurm: { partition: "gpu" } })), f);
  assert.equal(experimentFingerprint(spec({ ...base, set: { lr: "0.1", batchSize: 256 } })), f, "values compared after conversion");
  assert.notEqual(experimentFingerprint(spec({ ...base, threadsPerCell: 2 })), f, "the thread count changes the last bits");
  assert.notEqual(experimentFingerprint(spec({ ...base, seeds: [1, 2] })), f);
  assert.notEqual(experimentFingerprint(spec({ ...base, grids: [{ alpha: [0.2, 0.1] }] })), f, "grid order names cells");
});

test("npm start's sea ablate flags and experiments/small/ablation.yaml are one definition (they share runs)", () => {
  const file = readExperimentFile(path.join(REPO, "experiments/small/ablation.yaml"));
  const pkg = require(path.join(REPO, "package.json")) as { scripts: { start: string } };
  const sets = [...pkg.scripts.start.matchAll(/--set (\S+)/g)].map((m) => m[1]!);
  const set = Object.assign({}, ...sets.map((s) => parseOverride(s)), { epochs: Number(/--epochs (\d+)/.exec(pkg.scripts.start)![1]) }) as Record<string, unknown>;
  const seeds = /--seeds (\S+)/.exec(pkg.scripts.start)![1]!.split(",").map(Number);
  const fromFlags = ablationExperiment({ backbones: [], dataset: "small", variants: file.variants, seeds, set, threadsPerCell: 1, out: "runs/small/ablation" });
  assert.equal(experimentFingerprint(fromFlags), experimentFingerprint(file));
  assert.equal(path.resolve(fromFlags.output), path.resolve(file.output));
});

test("the shipped experiments expand to the cells their comments promise", () => {
  const counts: Record<string, number> = {
    "small/ablation.yaml": 14,
    "small/sensitivity.yaml": 7,
    "tiny/ablation.yaml": 14,
    "full/ablation.yaml": 63,
    "full/sensitivity.yaml": 14,
    "small/plug-in.yaml": 14,
    "full/plug-in.yaml": 21,
  };
  for (const [file, n] of Object.entries(counts)) {
    const s = readExperimentFile(path.join(REPO, "experiments", file));
    assert.equal(expandCells(s, file).cells.length, n, file);
  }
  const clothing = expandCells(readExperimentFile(path.join(REPO, "experiments/full/ablation.yaml")), "full").cells.filter((c) => c.dataset.path === "clothing");
  assert.ok(clothing.length === 21 && clothing.every((c) => c.config.patience === 30), "Clothing stops after 30 epochs without improvement");
});

test("backbones are an axis between the grid and the variant; a separation over an ID-only backbone is left out with its reason", () => {
  const s = spec({ backbones: ["lightgcn", "vbpr"], variants: ["plain", "sea"], seeds: [1] });
  const { cells, columns, skipped, merged } = expandCells(s, "t.yaml");
  assert.deepEqual(cells.map((c) => c.id), ["lightgcn/plain/seed-1", "vbpr/plain/seed-1", "vbpr/sea/seed-1"]);
  assert.deepEqual(columns, ["backbone", "variant", "seed"]);
  assert.deepEqual(expandCells(s, "t.yaml").gridColumns, [], "a backbone is a setting, not a swept value");
  assert.deepEqual(skipped.map((x) => x.id), ["lightgcn/sea/seed-1"]);
  assert.match(skipped[0]!.reason, /lightgcn reads no item content/);
  assert.equal(merged, 0, "a skipped cell is not counted as merged");
  assert.deepEqual(cells.map((c) => [c.backbone, c.config.backbone]), [["lightgcn", "lightgcn"], ["vbpr", "vbpr"], ["vbpr", "vbpr"]]);
  assert.equal(cells[2]!.config.alpha, DEFAULT_CONFIG.alpha, "vbpr + sea has SEA's separation constants");
  assert.equal(cells[1]!.config.alpha, 0, "plain switches the separation off");
});

test("one backbone is not a folder level; no backbones field keeps a definition's fingerprint", () => {
  const one = expandCells(spec({ backbones: ["freedom"], variants: ["sea"], seeds: [1] }), "t.yaml");
  assert.deepEqual(one.cells.map((c) => c.id), ["sea/seed-1"]);
  assert.equal(one.cells[0]!.config.backbone, "freedom");
  const without = spec({});
  assert.deepEqual(without.backbones, []);
  assert.notEqual(experimentFingerprint(spec({ backbones: ["sea"] })), experimentFingerprint(without), "a backbones axis is part of the definition");
  assert.throws(() => spec({ backbones: ["nope"] }), /t\.yaml: backbones\[0\]: unknown backbone "nope"/);
});
