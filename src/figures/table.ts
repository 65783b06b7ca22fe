import type { Figure } from "./types";
import { BASE_FONT_SIZE, baseLayout, emptyFigure, escapeHtml, FONT_FAMILY, PAPER_SIZES } from "./style";
import { bestMetric, groupByVariant, meanStd, metricLabel, type MetricRef, type RunResult } from "./runs";

export const DEFAULT_TABLE_METRICS: readonly MetricRef[] = [
  { split: "test", name: "recall@10" },
  { split: "test", name: "recall@20" },
  { split: "test", name: "ndcg@10" },
  { split: "test", name: "ndcg@20" },
];

export interface VariantSummary {
  variant: string;
  /** runs (seeds) of the variant */
  runs: number;
  /** one entry per requested metric, same order */
  cells: { mean: number; std: number; n: number }[];
}

/** Mean ± std over seeds of each metric at the best epoch, one row per variant (kit order). */
export function summarizeVariants(runs: readonly RunResult[], metrics: readonly MetricRef[] = DEFAULT_TABLE_METRICS): VariantSummary[] {
  return [...groupByVariant(runs)].map(([variant, vruns]) => ({
    variant,
    runs: vruns.length,
    cells: metrics.map((m) => meanStd(vruns.map((r) => bestMetric(r, m)))),
  }));
}

export interface ResultsTableOptions {
  metrics?: readonly MetricRef[];
  /** decimals shown; default 4 */
  digits?: number;
  title?: string;
}

/** "0.1033 ± 0.0012" (or "–" when no run has the metric). */
export function formatMeanStd(mean: number, std: number, digits: number): string {
  if (!Number.isFinite(mean)) return "–";
  return `${mean.toFixed(digits)} ± ${std.toFixed(digits)}`;
}

/**
 * Results table for papers: variants × metrics, "mean ± std" over seeds; the best mean of each
 * column in bold (all kit metrics are higher-is-better; equal best means are all bold).
 */
export function resultsTableFigure(runs: readonly RunResult[], options: ResultsTableOptions = {}): Figure {
  const metrics = options.metrics ?? DEFAULT_TABLE_METRICS;
  const digits = options.digits ?? 4;
  const rows = summarizeVariants(runs, metrics);
  if (rows.length === 0) return emptyFigure("No runs to tabulate", "double");
  const header = ["Variant", ...metrics.map((m) => (m.split === "test" ? metricLabel(m.name) : `${metricLabel(m.name)} (valid)`))];
  const columns: string[][] = [rows.map((r) => `${escapeHtml(r.variant)} (n=${r.runs})`)];
  metrics.forEach((_, j) => {
    // Compare the rounded means so the bold cell is the best of what the reader sees.
    const shown = rows.map((r) => (Number.isFinite(r.cells[j]!.mean) ? Number(r.cells[j]!.mean.toFixed(digits)) : -Infinity));
    const best = Math.max(...shown);
    columns.push(rows.map((r, i) => {
      const text = formatMeanStd(r.cells[j]!.mean, r.cells[j]!.std, digits);
      return shown[i] === best && best > -Infinity ? `<b>${text}</b>` : text;
    }));
  });
  const rowHeight = 30;
  const layout = baseLayout(PAPER_SIZES.double.width, 20 + rowHeight * (rows.length + 1) + (options.title ? 50 : 8), options.title);
  layout.margin = { l: 8, r: 8, t: options.title ? 50 : 8, b: 8 };
  layout.showlegend = false;
  return {
    data: [
      {
        type: "table",
        columnwidth: [1.3, ...metrics.map(() => 1)],
        header: {
          values: header.map((h) => `<b>${escapeHtml(h)}</b>`),
          align: "center",
          font: { family: FONT_FAMILY, size: BASE_FONT_SIZE, color: "#000000" },
          fill: { color: "#EEEEEE" },
          line: { color: "#999999" },
          height: rowHeight,
        },
        cells: {
          values: columns,
          align: ["left", ...metrics.map(() => "center")],
          font: { family: FONT_FAMILY, size: BASE_FONT_SIZE, color: "#000000" },
          fill: { color: "#FFFFFF" },
          line: { color: "#999999" },
          height: rowHeight,
        },
      },
    ],
    layout,
  };
}
