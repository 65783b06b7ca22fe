import type { Figure, PlotlyAnnotation, PlotlyTrace } from "./types";
import { baseLayout, BASE_FONT_SIZE, emptyFigure, legendBelow, PAPER_SIZES, sortBackbones, sortVariants, styledAxis, variantColour } from "./style";
import { DEFAULT_METRIC, metricLabel, type MetricRef, type RunResult } from "./runs";
import { ablationSummary, significanceMarkAnnotation, type AblationRow } from "./ablation";
import type { PairedTestKind } from "../analysis/significance";
import { recordedBackbone } from "../train/runRecord";

/** Runs grouped by backbone, backbones in the figures' order (BACKBONE_ORDER). */
export function groupByBackbone(runs: readonly RunResult[]): Map<string, RunResult[]> {
  const groups = new Map<string, RunResult[]>(sortBackbones(runs.map((r) => recordedBackbone(r.metrics))).map((b) => [b, []]));
  for (const r of runs) groups.get(recordedBackbone(r.metrics))!.push(r);
  return groups;
}

export interface PlugInOptions {
  metric?: MetricRef;
  test?: PairedTestKind;
  title?: string;
}

/** Per backbone, the ablation summary of its variants (tests against sea on the same backbone). */
export function plugInSummary(runs: readonly RunResult[], options: PlugInOptions = {}): Map<string, AblationRow[]> {
  const out = new Map<string, AblationRow[]>();
  for (const [backbone, group] of groupByBackbone(runs)) {
    out.set(backbone, ablationSummary(group, { metric: options.metric ?? DEFAULT_METRIC, reference: "sea", test: options.test ?? "t" }).filter((r) => r.n > 0));
  }
  return out;
}

/**
 * The plug-in study (paper §"generalization"): per backbone, its variants side by side — the backbone alone
 * ("plain") and with SEA's separation ("sea") — mean over seeds with the sample std, and `*`/`**` above a
 * variant whose per-user values differ from sea's on the same backbone (paired test, as the ablation figure).
 */
export function plugInFigure(runs: readonly RunResult[], options: PlugInOptions = {}): Figure {
  const metric = options.metric ?? DEFAULT_METRIC;
  const summary = plugInSummary(runs, options);
  const backbones = [...summary.keys()].filter((b) => summary.get(b)!.length > 0);
  if (backbones.length === 0) return emptyFigure(`No run has ${metric.split} ${metric.name}`);
  const variants = sortVariants(new Set([...summary.values()].flatMap((rows) => rows.map((r) => r.variant))));
  const layout = baseLayout(PAPER_SIZES.single.width + 70 * Math.max(0, backbones.length - 3), PAPER_SIZES.single.height + 40, options.title);
  layout.barmode = "group";
  layout.xaxis = styledAxis(undefined, { type: "category", showgrid: false, tickfont: { size: BASE_FONT_SIZE } }); // the ticks name the backbones
  layout.yaxis = styledAxis(`${metricLabel(metric.name)} (${metric.split}, best epoch)`, { rangemode: "tozero" });
  layout.margin = { l: 72, r: 16, t: options.title ? 56 : 32, b: 90 };
  legendBelow(layout, 40);

  const data: PlotlyTrace[] = variants.map((variant) => {
    const rows = backbones.map((b) => summary.get(b)!.find((r) => r.variant === variant));
    return {
      type: "bar",
      name: variant,
      x: backbones,
      y: rows.map((r) => (r ? r.mean : NaN)), // a variant not run on a backbone: no bar (NaN is written as null)
      error_y: { type: "data", array: rows.map((r) => (r ? r.std : 0)), visible: true, color: "#333333", thickness: 1.5, width: 4 },
      marker: { color: variantColour(variant), line: { color: "#333333", width: 0.5 } },
      text: rows.map((r) => (r ? hover(r) : "not run")),
      hovertemplate: `%{x} + ${variant}: %{y:.4f}<br>%{text}<extra></extra>`,
      textposition: "none",
    };
  });

  // Significance marks above the bar they belong to: grouped bars share a category, so each is offset by its
  // slot within the group (plotly centres the group on the category's index; bargap 0.2, no groupgap).
  const annotations: PlotlyAnnotation[] = [];
  const slot = 0.8 / variants.length;
  backbones.forEach((b, i) => {
    for (const r of summary.get(b)!) {
      if (!r.comparison?.mark) continue;
      annotations.push(significanceMarkAnnotation(r.comparison.mark, i - 0.4 + slot * (variants.indexOf(r.variant) + 0.5), r.mean + r.std));
    }
  });
  annotations.push({
    text: `* p<0.05, ** p<0.01 vs sea, same backbone (${(options.test ?? "t") === "t" ? "paired t" : "Wilcoxon"}, per user)`,
    x: 0,
    y: 1.02,
    xref: "paper",
    yref: "paper",
    xanchor: "left",
    yanchor: "bottom",
    showarrow: false,
    font: { size: BASE_FONT_SIZE - 1 },
  });
  layout.annotations = annotations;
  return { data, layout };
}

function hover(r: AblationRow): string {
  const base = `sd ${r.std.toFixed(4)} over ${r.n} seed(s)`;
  if (r.comparison) return `${base}; Δ vs sea ${r.comparison.meanDiff.toFixed(4)}, p = ${r.comparison.p.toPrecision(3)} (${r.comparison.n} users)`;
  return r.noComparison ? `${base}; no test: ${r.noComparison}` : base;
}
