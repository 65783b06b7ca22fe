import type { Figure, PlotlyScatterTrace } from "./types";
import { addSubplotGrid, baseLayout, legendBelow, emptyFigure, escapeHtml, PAPER_SIZES, round4, subplotAxisIds, variantColour, withAlpha } from "./style";
import { groupByVariant, meanStd, type RunResult } from "./runs";

export interface MiCurvesOptions {
  /** MI keys to draw (EpochRecord.mi keys); default: all logged, CLUB first, then generic, then unique InfoNCE */
  quantities?: string[];
  cols?: number;
  title?: string;
}

/** A readable panel title for an MI key ("club:image" → "CLUB: image generic ↔ unique"). */
export function miQuantityTitle(key: string): string {
  const parts = key.split(":");
  if (parts[0] === "club" && parts.length === 2) return `CLUB: ${parts[1]} generic ↔ unique`;
  if (parts[0] === "infonce" && parts.length === 3) {
    const [m1, m2] = (parts[2] ?? "").split("|");
    return `InfoNCE: ${parts[1]} ${m1} ↔ ${m2}`;
  }
  return key;
}

function miKeyRank(key: string): number {
  if (key.startsWith("club:")) return 0;
  if (key.startsWith("infonce:generic:")) return 1;
  if (key.startsWith("infonce:unique:")) return 2;
  return 3;
}

/** MI keys logged by any run, sorted: CLUB per modality, generic InfoNCE, unique InfoNCE, others. */
export function miQuantitiesOf(runs: readonly RunResult[]): string[] {
  const seen = new Set<string>();
  for (const r of runs) for (const e of r.metrics.epochs) for (const k of Object.keys(e.mi ?? {})) seen.add(k);
  return [...seen].sort((a, b) => miKeyRank(a) - miKeyRank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

export interface SeedAggregate {
  epochs: number[];
  mean: number[];
  std: number[];
  /** number of seeds with a finite value at each epoch */
  count: number[];
}

/** Per epoch: mean and sample std over the runs (seeds) that logged `value` at that epoch. */
export function aggregateOverSeeds(runs: readonly RunResult[], value: (mi: Record<string, number>) => number | undefined): SeedAggregate {
  const byEpoch = new Map<number, number[]>();
  for (const r of runs) {
    for (const e of r.metrics.epochs) {
      const v = e.mi ? value(e.mi) : undefined;
      if (v === undefined || !Number.isFinite(v)) continue;
      const list = byEpoch.get(e.epoch) ?? [];
      list.push(v);
      byEpoch.set(e.epoch, list);
    }
  }
  const epochs = [...byEpoch.keys()].sort((a, b) => a - b);
  const stats = epochs.map((ep) => meanStd(byEpoch.get(ep)!));
  return { epochs, mean: stats.map((s) => s.mean), std: stats.map((s) => s.std), count: stats.map((s) => s.n) };
}

/**
 * MI estimates per epoch: one panel per quantity, one line per variant (mean over seeds) with a
 * ±1 std band when the variant has more than one seed.
 */
export function miCurvesFigure(runs: readonly RunResult[], options: MiCurvesOptions = {}): Figure {
  const quantities = options.quantities ?? miQuantitiesOf(runs);
  if (quantities.length === 0) return emptyFigure("No MI estimates in these runs (EpochRecord.mi)");
  const cols = options.cols ?? Math.min(3, quantities.length);
  const rows = Math.ceil(quantities.length / cols);
  const layout = baseLayout(PAPER_SIZES.double.width, 150 + 230 * rows + 96 * (rows - 1), options.title);
  layout.margin = { l: 72, r: 16, t: options.title ? 80 : 40, b: 110 };
  addSubplotGrid(
    layout,
    quantities.map((q) => ({ title: miQuantityTitle(q), xTitle: "Epoch", yTitle: "MI estimate (nats)" })),
    cols,
  );
  legendBelow(layout);

  const data: PlotlyScatterTrace[] = [];
  const legendShown = new Set<string>();
  const groups = groupByVariant(runs);
  quantities.forEach((q, qi) => {
    const ids = subplotAxisIds(qi);
    for (const [variant, vruns] of groups) {
      const agg = aggregateOverSeeds(vruns, (mi) => mi[q]);
      if (agg.epochs.length === 0) continue;
      const colour = variantColour(variant);
      if (agg.count.some((c) => c >= 2)) {
        // The band is one closed polygon (upper edge forward, lower edge back) so it is a single trace.
        data.push({
          type: "scatter",
          mode: "lines",
          name: `${variant} ±1 sd`,
          legendgroup: variant,
          showlegend: false,
          hoverinfo: "skip",
          x: [...agg.epochs, ...[...agg.epochs].reverse()],
          y: [...agg.mean.map((m, i) => m + agg.std[i]!), ...agg.mean.map((m, i) => m - agg.std[i]!).reverse()],
          fill: "toself",
          fillcolor: withAlpha(colour, 0.2),
          line: { color: withAlpha(colour, 0), width: 0 },
          xaxis: ids.x,
          yaxis: ids.y,
        });
      }
      data.push({
        type: "scatter",
        mode: agg.epochs.length === 1 ? "markers" : "lines",
        name: variant,
        legendgroup: variant,
        showlegend: !legendShown.has(variant),
        x: agg.epochs,
        y: agg.mean,
        text: agg.count.map((c, i) => `${c} seed(s), sd ${round4(agg.std[i]!)}`),
        line: { color: colour, width: 2 },
        marker: { color: colour, size: 6 },
        hovertemplate: `${escapeHtml(variant)}<br>epoch %{x}: %{y:.4g} nats<br>%{text}<extra></extra>`,
        xaxis: ids.x,
        yaxis: ids.y,
      });
      legendShown.add(variant);
    }
  });
  return { data, layout };
}
