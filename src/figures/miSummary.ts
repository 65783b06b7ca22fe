import type { Figure, PlotlyScatterTrace } from "./types";
import { addSubplotGrid, baseLayout, emptyFigure, escapeHtml, legendBelow, PAPER_SIZES, round4, sortVariants, subplotAxisIds, variantColour, withAlpha } from "./style";
import type { RunResult } from "./runs";
import { miComparison, miReferenceLevels } from "./miComparison";
import { addMiReferenceLines, miQuantitiesOf, miQuantityTitle, miUnit } from "./miCurves";

export interface MiSummaryOptions {
  /** MI keys to draw; default all logged (miQuantitiesOf's order) */
  quantities?: string[];
  /** variant the others are tested against; default "sea" */
  reference?: string;
  cols?: number;
  title?: string;
}

/**
 * The MI estimates that separate the variants: per quantity, one column per variant at the runs' last MI epoch —
 * each seed's estimate (small dots), their mean (large dot) with the 95% bootstrap interval over items (averaged
 * over seeds), a mark where a paired t-test over seeds against the reference gives p < 0.05 (*) or p < 0.01 (**),
 * and the panel's sanity references (shuffled pairs, a part with itself).
 */
export function miSummaryFigure(runs: readonly RunResult[], options: MiSummaryOptions = {}): Figure {
  const quantities = options.quantities ?? miQuantitiesOf(runs);
  if (quantities.length === 0) return emptyFigure("No MI estimates in these runs (EpochRecord.mi)");
  const reference = options.reference ?? "sea";
  const variants = sortVariants(runs.map((r) => r.metrics.variant));
  const position = new Map(variants.map((v, i) => [v, i]));
  const cols = options.cols ?? Math.min(4, quantities.length);
  const rows = Math.ceil(quantities.length / cols);
  const layout = baseLayout(PAPER_SIZES.double.width + (cols > 3 ? 260 : 0), 240 + 250 * rows + 130 * (rows - 1), options.title);
  layout.margin = { l: 72, r: 16, t: options.title ? 80 : 48, b: 190 };
  const xAxis = { tickvals: variants.map((_, i) => i), ticktext: variants.map(escapeHtml), tickangle: -40, range: [-0.6, variants.length - 0.4] as [number, number], showgrid: false };

  const data: PlotlyScatterTrace[] = [];
  const legendShown = new Set<string>();
  const notes = quantities.map((q, qi) => {
    const ids = subplotAxisIds(qi);
    const rowsOfQ = miComparison(runs, q, reference);
    let top = -Infinity;
    for (const row of rowsOfQ) {
      const x = position.get(row.variant)!;
      const colour = variantColour(row.variant);
      const hasInterval = Number.isFinite(row.lo) && Number.isFinite(row.hi);
      top = Math.max(top, hasInterval ? row.hi : -Infinity, ...row.values);
      data.push({
        type: "scatter",
        mode: "markers",
        name: `${row.variant} seeds`,
        legendgroup: row.variant,
        showlegend: false,
        x: row.values.map(() => x + 0.18),
        y: row.values,
        text: row.seeds.map((s) => `seed ${s}`),
        marker: { color: withAlpha(colour, 0.55), size: 5 },
        hovertemplate: `${escapeHtml(row.variant)} %{text}: %{y:.4g}<extra></extra>`,
        xaxis: ids.x,
        yaxis: ids.y,
      });
      const comparison = row.comparison ? `Δ vs ${reference} ${round4(row.comparison.meanDiff)}, paired t p = ${row.comparison.p.toPrecision(2)}` : (row.noComparison ?? "");
      data.push({
        type: "scatter",
        mode: row.comparison?.mark ? "markers+text" : "markers",
        name: row.variant,
        legendgroup: row.variant,
        showlegend: !legendShown.has(row.variant),
        x: [x],
        y: [row.mean],
        text: [row.comparison?.mark ?? ""],
        textposition: "top center",
        textfont: { size: 16, color: "#000000" },
        ...(hasInterval
          ? { error_y: { type: "data" as const, symmetric: false, array: [Math.max(0, row.hi - row.mean)], arrayminus: [Math.max(0, row.mean - row.lo)], visible: true, color: colour, thickness: 1.5, width: 5 } }
          : {}),
        marker: { color: colour, size: 10 },
        hovertemplate:
          `${escapeHtml(row.variant)}: %{y:.4g} (mean of ${row.values.length} seed(s)` +
          (hasInterval ? `, 95% [${round4(row.lo)}, ${round4(row.hi)}]` : "") +
          `)<br>${escapeHtml(comparison)}<extra></extra>`,
        xaxis: ids.x,
        yaxis: ids.y,
      });
      legendShown.add(row.variant);
    }
    const levels = miReferenceLevels(runs, q);
    return levels ? addMiReferenceLines({ data, legendShown, panel: qi, levels, top, span: [-0.5, variants.length - 0.5] }) : undefined;
  });
  addSubplotGrid(
    layout,
    quantities.map((q, qi) => ({ title: miQuantityTitle(q), yTitle: miUnit(q), x: xAxis, ...(notes[qi] ? { note: notes[qi] } : {}) })),
    cols,
    { x: 84, y: 130 },
  );
  legendBelow(layout, 96);
  // The reading key, under the legend.
  layout.annotations!.push({
    text: escapeHtml(`each run's last MI epoch; large dot: mean over seeds, bar: 95% bootstrap interval over items, small dots: seeds; * p < 0.05, ** p < 0.01: paired t over seeds vs ${reference}`),
    x: 0.5,
    y: round4(-(96 + 64) / (layout.height - layout.margin!.t - layout.margin!.b)), // below a legend of two lines
    xref: "paper",
    yref: "paper",
    xanchor: "center",
    yanchor: "top",
    showarrow: false,
    font: { size: 12, color: "#444444" },
  });
  return { data, layout };
}
