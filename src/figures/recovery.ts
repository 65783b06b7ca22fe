import type { Figure } from "./types";
import { baseLayout, emptyFigure, legendBelow, PAPER_SIZES, styledAxis, variantColour } from "./style";
import { groupByVariant, meanStd, type RunResult } from "./runs";

/** Recovery keys in reading order: the two "right" pairings first, then the two leaks. */
function recoveryOrder(keys: readonly string[]): string[] {
  const rank = (k: string): number => (k.endsWith(".generic→shared") ? 0 : /\.unique→(?!shared)/.test(k) ? 1 : k.endsWith(".unique→shared") ? 2 : 3);
  return [...keys].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/** Mean ± std over seeds of each planted-factor recovery score (metrics.json `recovery`), per variant. */
export function recoverySummary(runs: readonly RunResult[]): { keys: string[]; rows: { variant: string; stats: { mean: number; std: number; n: number }[] }[] } {
  const keys = recoveryOrder([...new Set(runs.flatMap((r) => Object.keys(r.metrics.recovery ?? {})))]);
  const rows = [...groupByVariant(runs)].map(([variant, vruns]) => ({
    variant,
    stats: keys.map((k) => meanStd(vruns.map((r) => r.metrics.recovery?.[k] ?? NaN))),
  }));
  return { keys, rows: rows.filter((r) => r.stats.some((s) => s.n > 0)) };
}

/**
 * Grouped bars: how well each learned part predicts each planted factor (held-out linear-probe R²) on
 * synthetic data. A clean separation scores high on generic→shared and unique→own modality, and low on
 * the cross terms (unique→shared: the unique part leaks generic information).
 */
export function recoveryFigure(runs: readonly RunResult[], options: { title?: string } = {}): Figure {
  const { keys, rows } = recoverySummary(runs);
  if (keys.length === 0 || rows.length === 0) return emptyFigure("No run has planted-factor recovery (synthetic data only)");
  const layout = baseLayout(PAPER_SIZES.double.width, PAPER_SIZES.single.height + 80, options.title);
  layout.barmode = "group";
  layout.xaxis = styledAxis(undefined, { type: "category", showgrid: false });
  layout.yaxis = styledAxis("linear-probe R² (held-out items)");
  legendBelow(layout);
  return {
    data: rows.map((r) => ({
      type: "bar" as const,
      name: r.variant,
      x: keys,
      y: r.stats.map((s) => s.mean),
      error_y: { type: "data" as const, array: r.stats.map((s) => s.std), visible: true, color: "#333333", thickness: 1, width: 3 },
      marker: { color: variantColour(r.variant) },
    })),
    layout,
  };
}
