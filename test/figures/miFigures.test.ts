import { test } from "node:test";
import assert from "node:assert/strict";
import * as path from "node:path";
import { loadRuns, type RunResult } from "../../src/figures/runs";
import { miComparison, miReferenceLevels } from "../../src/figures/miComparison";
import { miCurvesFigure } from "../../src/figures/miCurves";
import { miSummaryFigure } from "../../src/figures/miSummary";
import { miContrast, miFindings, recoveryFindings } from "../../src/figures/findings";
import type { PlotlyScatterTrace } from "../../src/figures/types";
import { tempDir, writeFakeRun } from "./fixtures";

/*
 * A hand-built MI ablation: sea and no-club, seeds 1–3, two epochs. At the last epoch
 *   club:image  sea 0.10 / 0.12 / 0.11, no-club 0.30 / 0.35 / 0.31: differences (no-club − sea) 0.20, 0.23, 0.20,
 *               mean 0.21, sd √((0.01² + 0.02² + 0.01²)/2) = √0.0003, t = 0.21 / (√0.0003/√3) = 21.0 with 2 df;
 *               for 2 df the two-sided p is exactly 1 − t/√(t² + 2).
 *   cka:image   sea 0.5 / 0.6 / 0.4, no-club 0.55 / 0.45 / 0.5: differences 0.05, −0.15, 0.10, mean 0 → p = 1.
 * sea's club:image intervals at the last epoch: [0.05, 0.15], [0.07, 0.17], [0.06, 0.16] → mean [0.06, 0.16].
 */
const LAST: Record<string, Record<string, number[]>> = {
  sea: { "club:image": [0.1, 0.12, 0.11], "cka:image": [0.5, 0.6, 0.4], "infonce:generic:image|text": [1, 1.1, 1.2] },
  "no-club": { "club:image": [0.3, 0.35, 0.31], "cka:image": [0.55, 0.45, 0.5], "infonce:generic:image|text": [1.05, 1.1, 1.15] },
};

function withMiRuns(check: (runs: RunResult[]) => void): void {
  const t = tempDir("sea-mi-fig-");
  try {
    for (const [variant, keys] of Object.entries(LAST)) {
      for (let s = 0; s < 3; s++) {
        const mi: Record<string, number[]> = {};
        const miInterval: Record<string, [number, number][]> = {};
        for (const [k, v] of Object.entries(keys)) {
          mi[k] = [v[s]! + 1, v[s]!];
          miInterval[k] = [[v[s]! + 0.9, v[s]! + 1.1], [v[s]! - 0.05, v[s]! + 0.05]];
        }
        writeFakeRun(path.join(t.dir, variant, `seed-${s + 1}`), {
          variant,
          seed: s + 1,
          test: { "recall@20": 0.1 },
          validRecall: [0.05, 0.06],
          mi,
          miInterval,
          miReference: { "club:image": { shuffled: 0.01 + s / 100, self: 50 }, "cka:image": { shuffled: 0.02, self: 1 } },
          recovery: { "image.generic→shared": variant === "sea" ? 0.9 + s / 100 : 0.7 + s / 50, "image.unique→shared": 0.3 },
        });
      }
    }
    check(loadRuns(t.dir));
  } finally {
    t.cleanup();
  }
}

const near = (a: number, b: number, what: string, tol = 1e-9): void => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

test("miComparison: last-epoch estimates per variant, mean bootstrap interval, paired t over seeds against sea", () => {
  withMiRuns((runs) => {
    const rows = miComparison(runs, "club:image");
    assert.deepEqual(rows.map((r) => r.variant), ["sea", "no-club"]);
    const [sea, noClub] = rows as [(typeof rows)[0], (typeof rows)[0]];
    assert.deepEqual(sea.seeds, [1, 2, 3]);
    near(sea.mean, 0.11, "sea mean");
    near(sea.lo, 0.06, "sea mean lower bound");
    near(sea.hi, 0.16, "sea mean upper bound");
    assert.equal(sea.noComparison, "the reference variant");
    const t = 21;
    near(noClub.comparison!.meanDiff, 0.21, "difference");
    near(noClub.comparison!.t, t, "t", 1e-6);
    near(noClub.comparison!.p, 1 - t / Math.sqrt(t * t + 2), "p (2 df, closed form)", 1e-9);
    assert.equal(noClub.comparison!.mark, "**");
    const cka = miComparison(runs, "cka:image")[1]!;
    near(cka.comparison!.meanDiff, 0, "cka difference", 1e-12);
    assert.equal(cka.comparison!.mark, "");
    const levels = miReferenceLevels(runs, "club:image")!;
    near(levels.shuffled, 0.02, "shuffled level (mean over 6 runs)");
    assert.equal(levels.self, 50);
    assert.equal(miReferenceLevels(runs, "infonce:generic:image|text"), undefined);
  });
});

test("MI curves: band = the seeds' mean bootstrap interval; references as lines, an off-scale ceiling as a note", () => {
  withMiRuns((runs) => {
    const fig = miCurvesFigure(runs);
    const traces = fig.data as PlotlyScatterTrace[];
    const seaClub = traces.filter((tr) => tr.yaxis === "y" && tr.legendgroup === "sea");
    const [band, line] = seaClub as [PlotlyScatterTrace, PlotlyScatterTrace];
    assert.equal(band.name, "sea 95% interval");
    near(line.y[1]!, 0.11, "epoch 2 mean");
    near(band.y[1]!, 0.16, "upper edge at epoch 2");
    near(band.y[2]!, 0.06, "lower edge at epoch 2 (the band runs back)");
    near(band.y[0]!, 1.11 + 0.1, "upper edge at epoch 1");
    const shuffled = traces.filter((tr) => tr.yaxis === "y" && tr.legendgroup === "reference:shuffled");
    assert.equal(shuffled.length, 1);
    assert.deepEqual(shuffled[0]!.line!.dash, "dash");
    near(shuffled[0]!.y[0]!, 0.02, "shuffled line");
    assert.equal(traces.filter((tr) => tr.yaxis === "y" && tr.legendgroup === "reference:self").length, 0, "a ceiling of 50 nats is not drawn on a ~1-nat panel");
    const clubTitle = (fig.layout.annotations ?? [])[0]!.text;
    assert.equal(clubTitle, '<b>CLUB (distance space): image generic ↔ unique</b><br><span style="font-size:11px">ceiling (part with itself): 50.0, off scale</span>');
    // CKA's ceiling (1) is on scale: drawn as a dotted line, and its axis says it is not in nats.
    const ckaPanel = (fig.layout.annotations ?? []).findIndex((a) => a.text.includes("CKA: image"));
    assert.ok(ckaPanel >= 0);
    const ckaSelf = traces.filter((tr) => tr.legendgroup === "reference:self");
    assert.equal(ckaSelf.length, 1);
    assert.equal(ckaSelf[0]!.y[0], 1);
    assert.equal(fig.layout[`yaxis${ckaSelf[0]!.yaxis!.slice(1)}`]!.title!.text, "linear CKA (0–1)");
  });
});

test("MI summary: one column per variant, asymmetric interval bars, a significance mark, seed dots", () => {
  withMiRuns((runs) => {
    const fig = miSummaryFigure(runs, { quantities: ["club:image", "cka:image"] });
    const traces = fig.data as PlotlyScatterTrace[];
    const means = traces.filter((tr) => tr.yaxis === "y" && (tr.name === "sea" || tr.name === "no-club"));
    const [sea, noClub] = means as [PlotlyScatterTrace, PlotlyScatterTrace];
    assert.deepEqual([sea.x, noClub.x], [[0], [1]]);
    near(sea.error_y!.array[0]!, 0.05, "upper bar = hi − mean");
    near(sea.error_y!.arrayminus![0]!, 0.05, "lower bar = mean − lo");
    assert.equal(sea.error_y!.symmetric, false);
    assert.deepEqual(noClub.text, ["**"]);
    assert.equal(noClub.mode, "markers+text");
    assert.deepEqual(sea.text, [""]);
    const seeds = traces.find((tr) => tr.yaxis === "y" && tr.name === "no-club seeds")!;
    assert.deepEqual(seeds.y, [0.3, 0.35, 0.31]);
    const ckaNoClub = traces.find((tr) => tr.yaxis === "y2" && tr.name === "no-club")!;
    assert.deepEqual(ckaNoClub.text, [""]);
  });
});

test("findings: verdicts come from the tests — CLUB lowers club:image, no detectable change on cka:image", () => {
  withMiRuns((runs) => {
    const club = miContrast(runs, "club:image", "sea", "no-club")!;
    assert.equal(club.verdict, "lower");
    near(club.difference, -0.21, "sea − no-club");
    assert.match(club.sentence, /sea 0\.110 \[0\.060, 0\.160\] vs no-club 0\.320/);
    assert.match(club.sentence, /paired t over 3 seeds p = 0\.0023/);
    assert.equal(miContrast(runs, "cka:image", "sea", "no-club")!.verdict, "no detectable difference");
    const text = miFindings(runs);
    assert.match(text, /On 1 of 2 estimates sea differs from no-club: CLUB \(distance space\): image generic ↔ unique \(lower\)/);
    assert.match(text, /scale: shuffled pairs 0\.020, a part with itself 50\.0/);
    assert.match(text, /Does Solosim change .*Not measured: the runs lack no-solosim/);
    const recovery = recoveryFindings(runs);
    // generic→shared: no-club − sea per seed = (0.70 − 0.90), (0.72 − 0.91), (0.74 − 0.92) = −0.20, −0.19, −0.18
    assert.match(recovery, /- image\.generic→shared: sea R² 0\.910; differs: no-club -0\.190/);
    assert.match(recovery, /- image\.unique→shared: sea R² 0\.300; no variant differs/);
    assert.match(recovery, /In sea, image\.unique→shared is 0\.300: the unique part carries little of the shared factor/);
  });
});
