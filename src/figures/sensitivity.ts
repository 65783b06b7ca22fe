import type { Figure, PlotlyScatterTrace } from "./types";
import { baseLayout, legendBelow, emptyFigure, escapeHtml, PAPER_SIZES, styledAxis, variantColour } from "./style";
import { bestMetric, configNumber, DEFAULT_METRIC, groupByVariant, meanStd, metricLabel, type MetricRef, type RunResult } from "./runs";

export interface SensitivityOptions {
  metric?: MetricRef;
  /** x-axis title; default from the key ("alpha" → "α (Solosim weight)") */
  xTitle?: string;
  /** log-scale x; default: when all values are > 0 and span ≥ 20× */
  logX?: boolean;
  title?: string;
}

const HYPER_TITLES: Readonly<Record<string, string>> = {
  alpha: "α (Solosim weight)",
  tau: "τ (Solosim temperature)",
  clubWeight: "CLUB weight",
};

export function hyperParameterTitle(key: string): string {
  return HYPER_TITLES[key] ?? key;
}

export interface SensitivityPoint {
  x: number;
  mean: number;
  std: number;
  n: number;
}

/** Per variant, per distinct value of config[key]: mean ± std over seeds of the metric. Runs without the key are left out. */
export function sensitivitySeries(runs: readonly RunResult[], key: string, metric: MetricRef = DEFAULT_METRIC): Map<string, SensitivityPoint[]> {
  const out = new Map<string, SensitivityPoint[]>();
  for (const [variant, vruns] of groupByVariant(runs)) {
    const byX = new Map<number, number[]>();
    for (const r of vruns) {
      const x = configNumber(r, key);
      if (x === undefined) continue;
      const list = byX.get(x) ?? [];
      list.push(bestMetric(r, metric));
      byX.set(x, list);
    }
    const points = [...byX.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([x, vs]) => ({ x, ...meanStd(vs) }))
      .filter((p) => p.n > 0);
    if (points.length > 0) out.set(variant, points);
  }
  return out;
}

/** Metric against a hyper-parameter read from config.json `config[key]`: one line per variant, error bars = std over seeds. */
export function sensitivityFigure(runs: readonly RunResult[], key: string, options: SensitivityOptions = {}): Figure {
  const metric = options.metric ?? DEFAULT_METRIC;
  const series = sensitivitySeries(runs, key, metric);
  if (series.size === 0) return emptyFigure(`No run has a numeric config "${key}"`);
  const xs = [...series.values()].flat().map((p) => p.x);
  const minX = Math.min(...xs);
  const maxX = Math.max(...xs);
  const logX = options.logX ?? (minX > 0 && maxX / minX >= 20);

  const layout = baseLayout(PAPER_SIZES.single.width, PAPER_SIZES.single.height, options.title);
  layout.xaxis = styledAxis(options.xTitle ?? hyperParameterTitle(key), { type: logX ? "log" : "linear" });
  layout.yaxis = styledAxis(`${metricLabel(metric.name)} (${metric.split})`);
  layout.height += 40; // room for the legend below
  layout.margin = { l: 72, r: 16, t: options.title ? 56 : 24, b: 120 };
  legendBelow(layout);

  const data: PlotlyScatterTrace[] = [];
  for (const [variant, points] of series) {
    const colour = variantColour(variant);
    data.push({
      type: "scatter",
      mode: "lines+markers",
      name: variant,
      x: points.map((p) => p.x),
      y: points.map((p) => p.mean),
      error_y: { type: "data", array: points.map((p) => p.std), visible: true, color: colour, thickness: 1.5, width: 4 },
      text: points.map((p) => `${p.n} seed(s), sd ${p.std.toFixed(4)}`),
      line: { color: colour, width: 2 },
      marker: { color: colour, size: 7 },
      hovertemplate: `${escapeHtml(variant)}<br>${escapeHtml(key)} = %{x}: %{y:.4f}<br>%{text}<extra></extra>`,
    });
  }
  return { data, layout };
}
