import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Command } from "commander";
import { registerFiguresCommand } from "../../src/cli/commands/figures";
import { planFigures, umapVariantPair } from "../../src/figures/batch";
import { loadRuns } from "../../src/figures/runs";
import { loadClusterLabels, loadItemParts } from "../../src/figures/umap";
import { tempDir, writeFakeRun, writeFixtureAblation, writeTestNpy } from "./fixtures";
import { Rng } from "../../src/util/rng";
import { SeaError } from "../../src/util/errors";

/** Runs `sea figures …` in-process and returns what it printed on stdout. */
async function runFigures(args: string[]): Promise<string> {
  const program = new Command("sea").exitOverride();
  registerFiguresCommand(program);
  for (const c of program.commands) c.exitOverride();
  const printed: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array): boolean => {
    printed.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  try {
    await program.parseAsync(["node", "sea", "figures", ...args]);
  } finally {
    process.stdout.write = write;
  }
  return printed.join("");
}

/** item_<m>_{generic,unique}.npy for n items: generic rows near cluster centres, unique rows elsewhere. */
function writeEmbeddings(runDir: string, n: number, d: number, seed: number): void {
  const rng = new Rng(seed);
  for (const m of ["image", "text"]) {
    for (const part of ["generic", "unique"]) {
      const x = new Float32Array(n * d);
      rng.fillNormal(x, part === "unique" ? 4 : 0, 0.5);
      for (let i = 0; i < n; i++) x[i * d + (i % 3)] += 3;
      writeTestNpy(path.join(runDir, "embeddings", `item_${m}_${part}.npy`), x, [n, d]);
    }
  }
}

test("umapVariantPair prefers sea vs orthogonal", () => {
  assert.deepEqual(umapVariantPair(["sea", "no-club", "orthogonal"]), ["sea", "orthogonal"]);
  assert.deepEqual(umapVariantPair(["no-club", "neg-l2", "subtraction"]), ["no-club", "neg-l2"]);
  assert.deepEqual(umapVariantPair(["sea"]), ["sea"]);
});

test("planFigures: one set per dataset, sensitivity only for swept keys, base runs for the ablation", () => {
  const t = tempDir("sea-fig-plan-");
  try {
    writeFixtureAblation(path.join(t.dir, "a"));
    for (const [alpha, r] of [[0.05, 0.2], [0.1, 0.3]] as const) {
      writeFakeRun(path.join(t.dir, "sweep", String(alpha)), { variant: "sea", seed: 1, test: { "recall@20": r }, config: { alpha } });
    }
    writeFakeRun(path.join(t.dir, "other"), { variant: "sea", seed: 1, test: { "recall@20": 0.3 }, dataset: "baby/v2" });
    const plans = planFigures(loadRuns(t.dir));
    assert.deepEqual(plans.map((p) => p.name), [
      "baby_v2-training-curves", "baby_v2-ablation", "baby_v2-results-table",
      "tiny-training-curves", "tiny-ablation", "tiny-mi-curves", "tiny-mi-summary", "tiny-sensitivity-alpha", "tiny-results-table",
    ]);
    // the two alpha-sweep runs are left out of the ablation (alpha = 0.012 is the base value)
    const ablation = plans.find((p) => p.name === "tiny-ablation")!;
    assert.match(ablation.description, /alpha=0\.012/);
    const bar = ablation.build().data[0] as { y: number[] };
    assert.ok(Math.abs(bar.y[0]! - 0.11) < 1e-12, `sea mean ${bar.y[0]} should not include the sweep runs`);
    const sens = plans.find((p) => p.name === "tiny-sensitivity-alpha")!.build();
    assert.deepEqual((sens.data[0] as { x: number[] }).x, [0.012, 0.05, 0.1]);
  } finally {
    t.cleanup();
  }
});

test("planFigures: a variant defined by a sweepable key (no-solosim: alpha = 0) is an ablation variant, not a sweep", () => {
  const t = tempDir("sea-fig-plan-variant-");
  try {
    writeFixtureAblation(path.join(t.dir, "a"));
    for (const seed of [1, 2]) {
      writeFakeRun(path.join(t.dir, "a", "no-solosim", `seed${seed}`), { variant: "no-solosim", seed, test: { "recall@20": 0.1 }, config: { alpha: 0 } });
    }
    const plans = planFigures(loadRuns(t.dir));
    assert.ok(!plans.some((p) => p.name.includes("sensitivity")), plans.map((p) => p.name).join(", "));
    const bar = plans.find((p) => p.name === "ablation")!.build().data[0] as { x: string[] };
    assert.ok(bar.x.includes("no-solosim"), `ablation bars: ${bar.x.join(", ")}`);
  } finally {
    t.cleanup();
  }
});

test("sea figures writes every figure and prints each file", async () => {
  const t = tempDir("sea-fig-cli-");
  try {
    const runs = path.join(t.dir, "runs");
    writeFixtureAblation(runs);
    const out = path.join(t.dir, "figs");
    const printed = await runFigures(["--runs", runs, "--out", out, "--formats", "html"]);
    const expected = [...["training-curves", "ablation", "mi-curves", "mi-summary", "results-table"].map((n) => `${n}.html`), "findings.md"].map((n) => path.join(out, n));
    for (const f of expected) {
      assert.ok(fs.existsSync(f), `${f} missing`);
      assert.ok(printed.includes(`wrote ${f}\n`), `${f} not printed`);
    }
    assert.deepEqual(fs.readdirSync(out).sort(), expected.map((f) => path.basename(f)).sort());
    // findings.md holds the computed paragraphs: orthogonal is ≈ 0.05 below sea for every user of the fixture.
    const findings = fs.readFileSync(path.join(out, "findings.md"), "utf8");
    assert.match(findings, /Different from sea at p < 0\.05 on both tests: orthogonal \(worse\)/);
    assert.match(findings, /Does CLUB change the generic–unique dependence \(sea vs no-club\)\?/);
    assert.match(printed, /^8 run\(s\) found/);

    await assert.rejects(runFigures(["--runs", runs, "--out", out, "--formats", "html,gif"]), (e: unknown) => e instanceof SeaError && /unknown format "gif"/.test(e.message));
    await assert.rejects(runFigures(["--runs", path.join(t.dir, "figs"), "--out", out]), (e: unknown) => e instanceof SeaError && /no run folders/.test(e.message));
  } finally {
    t.cleanup();
  }
});

test("sea figures draws a UMAP of sea vs orthogonal from run embeddings, coloured by planted cluster", async () => {
  const t = tempDir("sea-fig-umap-");
  try {
    const runs = path.join(t.dir, "runs");
    writeFixtureAblation(runs);
    writeEmbeddings(path.join(runs, "sea", "seed1"), 30, 6, 1);
    writeEmbeddings(path.join(runs, "orthogonal", "seed2"), 30, 6, 2);
    writeEmbeddings(path.join(runs, "no-club", "seed1"), 30, 6, 3);
    const dataset = path.join(t.dir, "data");
    writeTestNpy(path.join(dataset, "gt_cluster.npy"), Int32Array.from({ length: 30 }, (_, i) => i % 3), [30]);

    const parts = loadItemParts(path.join(runs, "sea", "seed1", "embeddings"));
    assert.deepEqual(parts.map((p) => [p.modality, p.generic.n, p.generic.d, p.unique.n]), [["image", 30, 6, 30], ["text", 30, 6, 30]]);
    assert.deepEqual([...loadClusterLabels(dataset)!].slice(0, 4), [0, 1, 2, 0]);
    assert.equal(loadClusterLabels(t.dir), undefined);

    const out = path.join(t.dir, "figs");
    const printed = await runFigures(["--runs", runs, "--out", out, "--formats", "html", "--dataset", dataset, "--umap-max-items", "20"]);
    const umapFile = path.join(out, "umap-sea-vs-orthogonal.html");
    assert.ok(printed.includes(`wrote ${umapFile}\n`));
    const html = fs.readFileSync(umapFile, "utf8");
    const json = /var fig=(\{.*?\});Plotly\.newPlot/s.exec(html)![1]!;
    const fig = JSON.parse(json) as { data: { name: string; x: number[]; text: string[] }[]; layout: { annotations: { text: string }[] } };
    assert.deepEqual(fig.layout.annotations.map((a) => a.text), ["<b>sea: image</b>", "<b>orthogonal: image</b>", "<b>sea: text</b>", "<b>orthogonal: text</b>"]);
    assert.equal(fig.data.length, 8);
    assert.ok(fig.data.every((tr) => tr.x.length === 20));
    assert.match(fig.data[0]!.text[0]!, /^item \d+, cluster \d$/);

    // a bad embeddings file is reported with its path
    fs.writeFileSync(path.join(runs, "sea", "seed1", "embeddings", "item_image_unique.npy"), "garbage");
    await assert.rejects(runFigures(["--runs", runs, "--out", out, "--formats", "html"]), (e: unknown) => e instanceof SeaError && e.message.includes("item_image_unique.npy"));
  } finally {
    t.cleanup();
  }
});
