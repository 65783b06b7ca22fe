import * as dfd from "danfojs-node";
import type { VariantSummary } from "./ablation";

/**
 * The ablation summary as a danfojs table: mean ± std over seeds per variant (and backbone, when there are
 * several: the plug-in table), and the paired t-test and Wilcoxon signed-rank p-values on per-user test
 * Recall@20 against `sea` on the same backbone.
 */
export function ablationFrame(summaries: readonly VariantSummary[]): dfd.DataFrame {
  const metrics = Object.keys(summaries[0]?.stats ?? {});
  const severalBackbones = new Set(summaries.map((s) => s.backbone)).size > 1;
  const rows = summaries.map((s) => {
    const row: Record<string, string | number> = { ...(severalBackbones ? { backbone: s.backbone } : {}), variant: s.variant, seeds: s.runs };
    for (const m of metrics) {
      const [mean, std] = s.stats[m]!;
      row[m] = `${mean.toFixed(4)} ± ${std.toFixed(4)}`;
    }
    row["Δ recall@20 vs sea"] = s.tTest ? s.tTest.meanDiff.toFixed(4) : "";
    row["p (paired t)"] = s.tTest ? formatP(s.tTest.p) + s.tTest.mark : "";
    row["p (Wilcoxon)"] = s.wilcoxon ? formatP(s.wilcoxon.p) + s.wilcoxon.mark : "";
    return row;
  });
  return new dfd.DataFrame(rows);
}

export function renderAblationTable(summaries: readonly VariantSummary[]): string {
  if (summaries.length === 0) return "(no runs)";
  return ablationFrame(summaries).toString();
}

function formatP(p: number): string {
  return p < 1e-4 ? p.toExponential(1) : p.toFixed(4);
}
