import type { Figure, PlotlyScatterTrace } from "./types";
import { addSubplotGrid, baseLayout, legendBelow, emptyFigure, escapeHtml, PAPER_SIZES, subplotAxisIds, variantColour, type SubplotSpec } from "./style";
import { metricLabel, type RunResult } from "./runs";
import { sortVariants } from "./style";

export interface TrainingCurvesOptions {
  /** loss parts to draw (EpochRecord.loss keys); default: every part any run logged, "total" first */
  lossParts?: string[];
  /** validation metric drawn in the last panel; default "recall@20" */
  validMetric?: string;
  /** subplot columns; default min(3, panels) */
  cols?: number;
  title?: string;
}

const LOSS_TITLES: Readonly<Record<string, string>> = {
  total: "Total loss",
  bpr: "BPR loss",
  club: "CLUB bound (nats)",
  solosim: "Solosim loss",
  orthogonal: "Orthogonality penalty",
  negL2: "Negative L2 term",
  clubNll: "CLUB network NLL",
};

export function lossPartTitle(part: string): string {
  return LOSS_TITLES[part] ?? `${part} loss`;
}

/** Loss parts logged by any run, "total" first, then in order of first appearance. */
export function lossPartsOf(runs: readonly RunResult[]): string[] {
  const seen = new Set<string>();
  for (const r of runs) for (const e of r.metrics.epochs) for (const k of Object.keys(e.loss)) seen.add(k);
  const parts = [...seen];
  return parts.includes("total") ? ["total", ...parts.filter((p) => p !== "total")] : parts;
}

/**
 * Training curves: one panel per loss part (per-batch mean per epoch) and one for the validation
 * metric per epoch. One line per run, coloured by variant (seeds of a variant share colour and legend entry).
 */
export function trainingCurvesFigure(runs: readonly RunResult[], options: TrainingCurvesOptions = {}): Figure {
  if (runs.length === 0) return emptyFigure("No runs to draw");
  const parts = options.lossParts ?? lossPartsOf(runs);
  const validMetric = options.validMetric ?? "recall@20";
  const panels: { spec: SubplotSpec; value: (r: RunResult, epochIndex: number) => number | undefined }[] = parts.map((p) => ({
    spec: { title: lossPartTitle(p), xTitle: "Epoch", yTitle: "Loss" },
    value: (r, i) => r.metrics.epochs[i]!.loss[p],
  }));
  panels.push({
    spec: { title: `Validation ${metricLabel(validMetric)}`, xTitle: "Epoch", yTitle: metricLabel(validMetric) },
    value: (r, i) => r.metrics.epochs[i]!.valid[validMetric],
  });

  const cols = options.cols ?? Math.min(3, panels.length);
  const rows = Math.ceil(panels.length / cols);
  const layout = baseLayout(PAPER_SIZES.double.width, 150 + 230 * rows + 96 * (rows - 1), options.title);
  layout.margin = { l: 72, r: 16, t: options.title ? 80 : 40, b: 110 };
  addSubplotGrid(layout, panels.map((p) => p.spec), cols);
  legendBelow(layout);
  const maxEpoch = Math.max(...runs.map((r) => r.metrics.epochs.length));
  if (maxEpoch <= 10) panels.forEach((_, i) => (layout[subplotAxisIds(i).xKey]!.dtick = 1)); // whole epochs only

  const data: PlotlyScatterTrace[] = [];
  const legendShown = new Set<string>();
  const ordered = sortVariants(runs.map((r) => r.metrics.variant)).flatMap((v) => runs.filter((r) => r.metrics.variant === v));
  panels.forEach((panel, pi) => {
    const ids = subplotAxisIds(pi);
    for (const run of ordered) {
      const x: number[] = [];
      const y: number[] = [];
      run.metrics.epochs.forEach((e, i) => {
        const v = panel.value(run, i);
        if (v !== undefined) {
          x.push(e.epoch);
          y.push(v);
        }
      });
      if (x.length === 0) continue; // e.g. no CLUB term in the no-club variant
      const variant = run.metrics.variant;
      data.push({
        type: "scatter",
        mode: x.length === 1 ? "markers" : "lines",
        name: variant,
        legendgroup: variant,
        showlegend: !legendShown.has(variant),
        x,
        y,
        line: { color: variantColour(variant), width: 2 },
        marker: { color: variantColour(variant), size: 6 },
        hovertemplate: `${escapeHtml(variant)} (seed ${run.metrics.seed})<br>epoch %{x}: %{y:.4g}<extra></extra>`,
        xaxis: ids.x,
        yaxis: ids.y,
      });
      legendShown.add(variant);
    }
  });
  return { data, layout };
}
