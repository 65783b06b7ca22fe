import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { ABLATION_RECALL, fixturePerUser, tempDir, writeFakeRun, writeFixtureAblation } from "./fixtures";
import { loadRuns, meanStd, parseMetricRef } from "../../src/figures/runs";
import { trainingCurvesFigure } from "../../src/figures/trainingCurves";
import { ablationBarFigure, ablationSummary } from "../../src/figures/ablation";
import { miCurvesFigure } from "../../src/figures/miCurves";
import { sensitivityFigure } from "../../src/figures/sensitivity";
import { resultsTableFigure } from "../../src/figures/table";
import { variantColour, OKABE_ITO } from "../../src/figures/style";
import { baseValues, runsAtBase, sweptKeys } from "../../src/figures/sweep";
import type { PlotlyBarTrace, PlotlyScatterTrace, PlotlyTableTrace } from "../../src/figures/types";
import { SeaError } from "../../src/util/errors";

/** Sample std (n − 1), written out independently of the library. */
function sampleStd(xs: number[]): number {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
}
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

function near(a: number, b: number, what: string): void {
  assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} vs ${b}`);
}

function withFixture(fn: (root: string) => void): void {
  const t = tempDir("sea-fig-");
  try {
    writeFixtureAblation(t.dir);
    fn(t.dir);
  } finally {
    t.cleanup();
  }
}

test("loadRuns finds nested run folders, sorted by variant then seed", () => {
  withFixture((root) => {
    const runs = loadRuns(root);
    assert.deepEqual(
      runs.map((r) => `${r.metrics.variant}/${r.metrics.seed}`),
      ["sea/1", "sea/2", "sea/3", "no-club/1", "no-club/2", "no-club/3", "orthogonal/1", "orthogonal/2"],
    );
    assert.equal(runs[0]!.perUser!.users.length, 40);
    assert.equal(runs[0]!.config.config.alpha, 0.012);
    assert.equal(runs[0]!.embeddingsDir, undefined);
  });
});

test("loadRuns names the file and field on bad input", () => {
  const t = tempDir("sea-fig-bad-");
  try {
    const run = path.join(t.dir, "a");
    writeFakeRun(run, { variant: "sea", seed: 1, test: { "recall@20": 0.1 } });
    const metricsFile = path.join(run, "metrics.json");
    const good = fs.readFileSync(metricsFile, "utf8");

    fs.writeFileSync(metricsFile, "{ not json");
    assert.throws(() => loadRuns(t.dir), (e: unknown) => e instanceof SeaError && e.message.startsWith(metricsFile) && /not valid JSON/.test(e.message));

    const noSeed = JSON.parse(good) as Record<string, unknown>;
    delete noSeed.seed;
    fs.writeFileSync(metricsFile, JSON.stringify(noSeed));
    assert.throws(() => loadRuns(t.dir), (e: unknown) => e instanceof SeaError && e.message === `${metricsFile}: field "seed" must be a number (got nothing)`);

    const badEpoch = JSON.parse(good) as { epochs: { loss: Record<string, unknown> }[] };
    badEpoch.epochs[0]!.loss.bpr = "x";
    fs.writeFileSync(metricsFile, JSON.stringify(badEpoch));
    assert.throws(() => loadRuns(t.dir), (e: unknown) => e instanceof SeaError && e.message.includes('field "epochs[0].loss.bpr" must be a number'));

    fs.writeFileSync(metricsFile, good);
    const perUserFile = path.join(run, "per_user.json");
    fs.writeFileSync(perUserFile, JSON.stringify({ users: [1, 2, 3], values: { "recall@20": [0.1, 0.2] } }));
    assert.throws(() => loadRuns(t.dir), (e: unknown) => e instanceof SeaError && e.message.startsWith(perUserFile) && /array of 3 numbers/.test(e.message));
    fs.rmSync(perUserFile);

    const configFile = path.join(run, "config.json");
    const cfg = JSON.parse(fs.readFileSync(configFile, "utf8")) as Record<string, unknown>;
    fs.writeFileSync(configFile, JSON.stringify({ ...cfg, variant: "orthogonal" }));
    assert.throws(() => loadRuns(t.dir), (e: unknown) => e instanceof SeaError && /differs from config.json's "orthogonal"/.test(e.message));

    assert.throws(() => loadRuns(path.join(t.dir, "nope")), (e: unknown) => e instanceof SeaError && /does not exist/.test(e.message));
  } finally {
    t.cleanup();
  }
});

test("parseMetricRef", () => {
  assert.deepEqual(parseMetricRef("test.recall@20"), { split: "test", name: "recall@20" });
  assert.deepEqual(parseMetricRef("valid.ndcg@10"), { split: "valid", name: "ndcg@10" });
  assert.deepEqual(parseMetricRef("map@20"), { split: "test", name: "map@20" });
  assert.throws(() => parseMetricRef("train.recall@20"), SeaError);
});

test("training curves: one panel per loss part plus validation recall, one line per run", () => {
  withFixture((root) => {
    const fig = trainingCurvesFigure(loadRuns(root));
    const titles = (fig.layout.annotations ?? []).map((a) => a.text);
    assert.deepEqual(titles, ["<b>Total loss</b>", "<b>BPR loss</b>", "<b>Solosim loss</b>", "<b>CLUB bound (nats)</b>", "<b>Validation Recall@20</b>"]);
    const traces = fig.data as PlotlyScatterTrace[];
    // 8 runs in 4 panels, CLUB only in the 5 runs that have it
    assert.equal(traces.length, 8 * 4 + 5);
    assert.equal(traces.filter((t) => t.yaxis === "y4").length, 5);
    assert.ok(traces.filter((t) => t.yaxis === "y4").every((t) => t.name !== "no-club"));
    // one legend entry per variant, colours fixed per variant
    assert.deepEqual(traces.filter((t) => t.showlegend).map((t) => t.name), ["sea", "no-club", "orthogonal"]);
    for (const t of traces) assert.equal(t.line!.color, variantColour(t.name!));
    const seaSeed2Valid = traces.filter((t) => t.yaxis === "y5" && t.name === "sea")[1]!;
    assert.deepEqual(seaSeed2Valid.x, [1, 2, 3]);
    assert.deepEqual(seaSeed2Valid.y, [0.05, 0.07 + 2 / 100, 0.12]);
    assert.equal(fig.layout.yaxis5!.title!.text, "Recall@20");
    assert.ok((fig.layout.font!.size ?? 0) >= 14);
    assert.equal(fig.layout.paper_bgcolor, "#FFFFFF");
  });
});

test("ablation bars: mean ± sample std over seeds and significance marks vs sea", () => {
  withFixture((root) => {
    const runs = loadRuns(root);
    const fig = ablationBarFigure(runs);
    assert.equal(fig.data.length, 1);
    const bar = fig.data[0] as PlotlyBarTrace;
    assert.deepEqual(bar.x, ["sea", "no-club", "orthogonal"]);
    bar.x.forEach((v, i) => {
      near(bar.y[i]!, mean(ABLATION_RECALL[v]!), `mean ${v}`);
      near(bar.error_y!.array[i]!, sampleStd(ABLATION_RECALL[v]!), `std ${v}`);
    });
    assert.deepEqual(bar.marker!.color, [OKABE_ITO.vermillion, OKABE_ITO.blue, OKABE_ITO.orange]);

    const rows = ablationSummary(runs);
    assert.equal(rows[0]!.comparison, undefined); // the reference itself
    // no-club differs from sea by ±0.01 alternating over users → mean difference 0 → p ≈ 1, no mark
    assert.ok(rows[1]!.comparison!.p > 0.99, `no-club p = ${rows[1]!.comparison!.p}`);
    assert.equal(rows[1]!.comparison!.mark, "");
    // orthogonal is ~0.05 below sea for every user
    assert.equal(rows[2]!.comparison!.mark, "**");
    assert.equal(rows[2]!.comparison!.n, 40);
    assert.ok(rows[2]!.comparison!.meanDiff < -0.04);
    const marks = (fig.layout.annotations ?? []).filter((a) => a.xref === "x");
    assert.deepEqual(marks.map((a) => [a.text, a.x]), [["**", 2]]);
    near(marks[0]!.y, mean(ABLATION_RECALL.orthogonal!) + sampleStd(ABLATION_RECALL.orthogonal!), "mark sits on the error bar");
    assert.equal(fig.layout.yaxis!.title!.text, "Recall@20 (test, best epoch)");

    // a variant without per_user.json gets no test, and says why
    fs.rmSync(path.join(root, "no-club", "seed2", "per_user.json"));
    const rows2 = ablationSummary(loadRuns(root), { test: "wilcoxon" });
    assert.equal(rows2[1]!.comparison, undefined);
    assert.match(rows2[1]!.noComparison!, /per_user\.json/);
    assert.equal(rows2[2]!.comparison!.test, "wilcoxon");
    assert.equal(rows2[2]!.comparison!.mark, "**");
  });
});

test("MI curves: panel per quantity, mean over seeds with a ±1 sd band", () => {
  withFixture((root) => {
    const fig = miCurvesFigure(loadRuns(root));
    const titles = (fig.layout.annotations ?? []).map((a) => a.text);
    assert.deepEqual(titles, [
      "<b>CLUB (distance space): image generic ↔ unique</b>",
      "<b>CLUB (distance space): text generic ↔ unique</b>",
      "<b>InfoNCE: generic image ↔ text</b>",
      "<b>InfoNCE: unique image ↔ text</b>",
    ]);
    assert.equal(fig.layout.yaxis!.title!.text, "MI estimate (nats)");
    const traces = fig.data as PlotlyScatterTrace[];
    assert.equal(traces.length, 4 * 3 * 2); // 4 quantities × 3 variants × (band + mean)
    const seaClubImage = traces.filter((t) => t.yaxis === "y" && t.legendgroup === "sea");
    const [band, line] = seaClubImage as [PlotlyScatterTrace, PlotlyScatterTrace];
    assert.equal(band.fill, "toself");
    assert.equal(band.showlegend, false);
    // epoch 1: seeds 1..3 give 0.6, 0.7, 0.8; epoch 2: 0.4, 0.5, 0.6; epoch 3: 0.2 each
    const e1 = [0.6, 0.7, 0.8];
    const e2 = [0.4, 0.5, 0.6];
    assert.deepEqual(line.x, [1, 2, 3]);
    near(line.y[0]!, mean(e1), "epoch 1 mean");
    near(line.y[1]!, mean(e2), "epoch 2 mean");
    near(line.y[2]!, 0.2, "epoch 3 mean");
    assert.deepEqual(band.x, [1, 2, 3, 3, 2, 1]);
    near(band.y[0]!, mean(e1) + sampleStd(e1), "upper edge, epoch 1");
    near(band.y[5]!, mean(e1) - sampleStd(e1), "lower edge, epoch 1");
    near(band.y[2]!, 0.2, "upper edge, epoch 3 (sd 0)");
  });
});

test("sensitivity: metric against a config key, mean ± std per value, log axis when spanning decades", () => {
  const t = tempDir("sea-fig-sens-");
  try {
    const table: [number, number, number][] = [
      [0.001, 1, 0.08], [0.001, 2, 0.09],
      [0.012, 1, 0.1], [0.012, 2, 0.11], [0.012, 3, 0.12],
      [0.1, 1, 0.07],
    ];
    for (const [alpha, seed, r] of table) {
      writeFakeRun(path.join(t.dir, `sea-a${alpha}-s${seed}`), { variant: "sea", seed, test: { "recall@20": r }, config: { alpha } });
    }
    writeFakeRun(path.join(t.dir, "ortho"), { variant: "orthogonal", seed: 1, test: { "recall@20": 0.05 }, config: { alpha: 0.012, tau: 0.5 } });
    const runs = loadRuns(t.dir);
    assert.deepEqual(sweptKeys(runs), ["alpha", "tau"]);
    const base = baseValues(runs, ["alpha", "tau"]);
    assert.deepEqual([...base], [["alpha", 0.012], ["tau", 0.2]]);
    // the orthogonal run sits at tau = 0.5, off the base, so it leaves the alpha sweep
    const alphaRuns = runsAtBase(runs, base, "alpha");
    assert.equal(alphaRuns.length, 6);

    const fig = sensitivityFigure(alphaRuns, "alpha");
    assert.equal(fig.data.length, 1);
    const line = fig.data[0] as PlotlyScatterTrace;
    assert.equal(line.name, "sea");
    assert.deepEqual(line.x, [0.001, 0.012, 0.1]);
    near(line.y[0]!, 0.085, "alpha 0.001 mean");
    near(line.y[1]!, 0.11, "alpha 0.012 mean");
    near(line.error_y!.array[0]!, sampleStd([0.08, 0.09]), "alpha 0.001 std");
    near(line.error_y!.array[1]!, sampleStd([0.1, 0.11, 0.12]), "alpha 0.012 std");
    assert.equal(line.error_y!.array[2], 0); // one seed
    assert.equal(fig.layout.xaxis!.type, "log");
    assert.equal(fig.layout.xaxis!.title!.text, "α (Solosim weight)");
    assert.equal(sensitivityFigure(runs, "tau").data.length, 2);
    assert.equal(sensitivityFigure(runs, "tau").layout.xaxis!.type, "linear");
  } finally {
    t.cleanup();
  }
});

test("results table: mean ± std per variant and metric, best in bold", () => {
  withFixture((root) => {
    const fig = resultsTableFigure(loadRuns(root));
    const table = fig.data[0] as PlotlyTableTrace;
    assert.equal(table.type, "table");
    assert.deepEqual(table.header.values, ["<b>Variant</b>", "<b>Recall@10</b>", "<b>Recall@20</b>", "<b>NDCG@10</b>", "<b>NDCG@20</b>"]);
    assert.deepEqual(table.cells.values[0], ["sea (n=3)", "no-club (n=3)", "orthogonal (n=2)"]);
    const r20 = table.cells.values[2]!;
    const fmt = (xs: number[]): string => `${mean(xs).toFixed(4)} ± ${sampleStd(xs).toFixed(4)}`;
    assert.deepEqual(r20, [`<b>${fmt(ABLATION_RECALL.sea!)}</b>`, fmt(ABLATION_RECALL["no-club"]!), fmt(ABLATION_RECALL.orthogonal!)]);
    assert.equal(r20[0], "<b>0.1100 ± 0.0100</b>");
  });
});

test("meanStd ignores non-finite values and gives sd 0 for one value", () => {
  assert.deepEqual(meanStd([1, NaN, 3]), { mean: 2, std: Math.SQRT2, n: 2 });
  assert.deepEqual(meanStd([5]), { mean: 5, std: 0, n: 1 });
  assert.equal(meanStd([]).n, 0);
});

test("per-user fixture sanity: sea and no-club pooled over seeds differ by exactly ±0.01", () => {
  const sea = [1, 2, 3].map((s) => fixturePerUser("sea", s).values["recall@20"]!);
  const nc = fixturePerUser("no-club", 1).values["recall@20"]!;
  const d = nc.map((v, u) => v - (sea[0]![u]! + sea[1]![u]! + sea[2]![u]!) / 3);
  assert.ok(d.every((x, u) => Math.abs(x - (u % 2 === 0 ? 0.01 : -0.01)) < 1e-12));
});
