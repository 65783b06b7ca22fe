import { test } from "node:test";
import assert from "node:assert/strict";
import * as path from "node:path";
import { tempDir, writeFakeRun } from "./fixtures";
import { loadRuns } from "../../src/figures/runs";
import { plugInFigure } from "../../src/figures/plugIn";
import { plugInFindings } from "../../src/figures/findings";
import { planFigures } from "../../src/figures/batch";
import type { PlotlyBarTrace } from "../../src/figures/types";

/**
 * Two backbones × {plain, sea} × seeds 1, 2; 20 users. Per-user recall@20:
 *   vbpr:    plain = 0.10 + 0.001·u, sea = plain + 0.05 for every user → paired differences all −0.05: p = 0
 *   freedom: plain = 0.20 + 0.001·u, sea = plain ± 0.01 alternating by user → mean difference 0, p = 1
 * Best test recall@20 per run: vbpr plain 0.10 / 0.12, vbpr sea 0.15 / 0.17, freedom plain 0.20 / 0.22, sea 0.21 / 0.21.
 */
function writePlugInFixture(dir: string): void {
  const users = Array.from({ length: 20 }, (_, u) => u);
  const perUser = (backbone: string, variant: string): number[] =>
    users.map((u) => {
      const plain = (backbone === "vbpr" ? 0.1 : 0.2) + 0.001 * u;
      if (variant === "plain") return plain;
      return backbone === "vbpr" ? plain + 0.05 : plain + (u % 2 === 0 ? 0.01 : -0.01);
    });
  const best: Record<string, number[]> = { "vbpr/plain": [0.1, 0.12], "vbpr/sea": [0.15, 0.17], "freedom/plain": [0.2, 0.22], "freedom/sea": [0.21, 0.21] };
  for (const [key, values] of Object.entries(best)) {
    const [backbone, variant] = key.split("/") as [string, string];
    values.forEach((r, i) =>
      writeFakeRun(path.join(dir, backbone, variant, `seed-${i + 1}`), {
        backbone,
        variant,
        seed: i + 1,
        test: { "recall@20": r },
        perUser: { users, values: { "recall@20": perUser(backbone, variant) } },
      }),
    );
  }
}

test("the plug-in figure: per backbone plain and sea side by side, mean ± std, ** over a backbone where they differ", () => {
  const t = tempDir("sea-plugin-");
  try {
    writePlugInFixture(t.dir);
    const fig = plugInFigure(loadRuns(t.dir));
    const bars = fig.data as PlotlyBarTrace[];
    assert.deepEqual(bars.map((b) => b.name), ["plain", "sea"]);
    for (const b of bars) assert.deepEqual(b.x, ["vbpr", "freedom"]);
    const close = (a: readonly number[], b: readonly number[]) => a.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) < 1e-12, `${v} vs ${b[i]}`));
    close(bars[0]!.y as number[], [0.11, 0.21]);
    close(bars[1]!.y as number[], [0.16, 0.21]);
    close(bars[0]!.error_y!.array as number[], [Math.SQRT2 * 0.01, Math.SQRT2 * 0.01]); // sample std of {a, a + 0.02}
    assert.equal(fig.layout.barmode, "group");
    const marks = (fig.layout.annotations ?? []).filter((a) => a.xref === "x");
    // Only vbpr differs; the mark sits over vbpr's plain bar: group centred on 0, two slots of 0.4 → x = −0.2.
    assert.equal(marks.length, 1);
    assert.equal(marks[0]!.text, "**");
    assert.ok(Math.abs((marks[0]!.x as number) + 0.2) < 1e-12);
    assert.ok(Math.abs((marks[0]!.y as number) - (0.11 + Math.SQRT2 * 0.01)) < 1e-12);
  } finally {
    t.cleanup();
  }
});

test("plug-in findings say, per backbone, what SEA's separation changes and where the paired test calls it", () => {
  const t = tempDir("sea-plugin-");
  try {
    writePlugInFixture(t.dir);
    const text = plugInFindings(loadRuns(t.dir));
    assert.match(text, /- vbpr: plain 0\.110 ± 0\.014 → \+ SEA 0\.160 ± 0\.014, Δ 0\.050 \(\+45\.45%\) per user over 20 users, paired t p < 0\.001\./);
    assert.match(text, /- freedom: plain 0\.210 ± 0\.014 → \+ SEA 0\.210 ± 0\.0, Δ 0\.0 \(\+0\.0%\) per user over 20 users, paired t p = 1\.0\./);
    assert.ok(text.indexOf("- vbpr") < text.indexOf("- freedom"), "backbones in the figures' order");
    assert.match(text, /SEA's separation improves vbpr \(p < 0\.05\)\.$/);
  } finally {
    t.cleanup();
  }
});

test("sea figures plans the plug-in figure and one set of figures per backbone", () => {
  const t = tempDir("sea-plugin-");
  try {
    writePlugInFixture(t.dir);
    const names = planFigures(loadRuns(t.dir)).map((p) => p.name);
    assert.ok(names.includes("plug-in"));
    for (const b of ["vbpr", "freedom"]) assert.ok(names.includes(`${b}-ablation`) && names.includes(`${b}-results-table`), `${b}: ${names.join(", ")}`);
    assert.ok(!names.includes("ablation"), "no figure mixes backbones");
  } finally {
    t.cleanup();
  }
});
