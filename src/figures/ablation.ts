import type { Figure, PlotlyAnnotation } from "./types";
import { baseLayout, BASE_FONT_SIZE, emptyFigure, PAPER_SIZES, styledAxis, variantColour } from "./style";
import { bestMetric, DEFAULT_METRIC, groupByVariant, meanStd, metricLabel, type MetricRef, type RunResult } from "./runs";
import { compareVariantsPerUser, type PairedTestKind, type VariantComparison } from "../analysis/significance";
import type { PerUserMetrics } from "../eval/metricRecords";
import { SeaError } from "../util/errors";

export interface AblationOptions {
  /** metric at the best epoch; default test recall@20 */
  metric?: MetricRef;
  /** variant the others are tested against; default "sea" */
  reference?: string;
  /** paired test on per-user values; default "t" */
  test?: PairedTestKind;
  title?: string;
}

export interface AblationRow {
  variant: string;
  /** mean and sample std over seeds of the metric at the best epoch */
  mean: number;
  std: number;
  /** seeds with a finite value */
  n: number;
  /** paired test against the reference on per-user values (test split); absent for the reference itself */
  comparison?: VariantComparison;
  /** why there is no comparison (no per_user.json, valid-split metric …) */
  noComparison?: string;
}

/**
 * Per variant: mean ± std over seeds of a best-epoch metric, and a paired significance test against
 * the reference variant on per-user values (per_user.json, test split at the best epoch), each user's
 * value averaged over that variant's seeds.
 */
export function ablationSummary(runs: readonly RunResult[], options: AblationOptions = {}): AblationRow[] {
  const metric = options.metric ?? DEFAULT_METRIC;
  const reference = options.reference ?? "sea";
  const groups = groupByVariant(runs);
  const perUserOf = (rs: readonly RunResult[]): PerUserMetrics[] | undefined =>
    rs.every((r) => r.perUser?.values[metric.name] !== undefined) ? rs.map((r) => r.perUser!) : undefined;
  const refRuns = groups.get(reference);
  const refPerUser = refRuns ? perUserOf(refRuns) : undefined;

  const rows: AblationRow[] = [];
  for (const [variant, vruns] of groups) {
    const s = meanStd(vruns.map((r) => bestMetric(r, metric)));
    const row: AblationRow = { variant, mean: s.mean, std: s.std, n: s.n };
    if (variant !== reference) {
      const candidate = perUserOf(vruns);
      if (metric.split !== "test") row.noComparison = "per-user values exist for the test split only";
      else if (!refRuns) row.noComparison = `no runs of the reference variant "${reference}"`;
      else if (!refPerUser) row.noComparison = `reference "${reference}" lacks per-user "${metric.name}" (per_user.json)`;
      else if (!candidate) row.noComparison = `lacks per-user "${metric.name}" (per_user.json)`;
      else {
        try {
          row.comparison = compareVariantsPerUser(candidate, refPerUser, metric.name, options.test ?? "t");
        } catch (e) {
          // e.g. fewer than two users evaluated by both: report it instead of failing the whole figure
          if (!(e instanceof SeaError)) throw e;
          row.noComparison = e.message;
        }
      }
    }
    rows.push(row);
  }
  return rows;
}

/**
 * Ablation bar chart: one bar per variant (mean over seeds, error bar = sample std), with `*` (p < 0.05)
 * or `**` (p < 0.01) above variants that differ significantly from the reference.
 */
export function ablationBarFigure(runs: readonly RunResult[], options: AblationOptions = {}): Figure {
  const metric = options.metric ?? DEFAULT_METRIC;
  const rows = ablationSummary(runs, options).filter((r) => r.n > 0);
  if (rows.length === 0) return emptyFigure(`No run has ${metric.split} ${metric.name}`);
  const reference = options.reference ?? "sea";
  const testName = (options.test ?? "t") === "t" ? "paired t-test" : "Wilcoxon signed-rank";
  const layout = baseLayout(PAPER_SIZES.single.width + 40 * Math.max(0, rows.length - 5), PAPER_SIZES.single.height + 40, options.title);
  layout.showlegend = false;
  layout.xaxis = styledAxis(undefined, { type: "category", showgrid: false, tickfont: { size: BASE_FONT_SIZE } });
  layout.yaxis = styledAxis(`${metricLabel(metric.name)} (${metric.split}, best epoch)`, { rangemode: "tozero" });
  layout.margin = { l: 72, r: 16, t: options.title ? 56 : 24, b: 130 };

  const annotations: PlotlyAnnotation[] = [];
  rows.forEach((r, i) => {
    // annotations on a category axis are placed by the category's index
    if (r.comparison?.mark) annotations.push(significanceMarkAnnotation(r.comparison.mark, i, r.mean + r.std));
  });
  annotations.push({
    text: `* p<0.05, ** p<0.01 vs ${reference} (${testName}, per user)`,
    x: 0,
    y: -0.36, // below the rotated variant names
    xref: "paper",
    yref: "paper",
    xanchor: "left",
    yanchor: "top",
    showarrow: false,
    font: { size: BASE_FONT_SIZE },
  });
  layout.annotations = annotations;

  return {
    data: [
      {
        type: "bar",
        name: metricLabel(metric.name),
        x: rows.map((r) => r.variant),
        y: rows.map((r) => r.mean),
        error_y: { type: "data", array: rows.map((r) => r.std), visible: true, color: "#333333", thickness: 1.5, width: 6 },
        marker: { color: rows.map((r) => variantColour(r.variant)), line: { color: "#333333", width: 0.5 } },
        text: rows.map((r) => hoverLine(r)),
        hovertemplate: "%{x}: %{y:.4f}<br>%{text}<extra></extra>",
        textposition: "none",
      },
    ],
    layout,
  };
}

/** A `*` / `**` above a bar: at x (a category's index, or an offset within its group) and the bar's top y. */
export function significanceMarkAnnotation(mark: string, x: number, y: number): PlotlyAnnotation {
  return { text: mark, x, y, xref: "x", yref: "y", xanchor: "center", yanchor: "bottom", showarrow: false, font: { size: BASE_FONT_SIZE + 2 } };
}

function hoverLine(r: AblationRow): string {
  const base = `sd ${r.std.toFixed(4)} over ${r.n} seed(s)`;
  if (r.comparison) return `${base}; Δ ${r.comparison.meanDiff.toFixed(4)}, p = ${r.comparison.p.toPrecision(3)} (${r.comparison.n} users)`;
  return r.noComparison ? `${base}; no test: ${r.noComparison}` : base;
}
