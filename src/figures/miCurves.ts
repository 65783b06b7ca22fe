import type { Figure, PlotlyScatterTrace } from "./types";
import { addSubplotGrid, baseLayout, legendBelow, emptyFigure, escapeHtml, PAPER_SIZES, round4, subplotAxisIds, variantColour, withAlpha } from "./style";
import { groupByVariant, meanStd, type RunResult } from "./runs";
import { miReferenceLevels } from "./miComparison";

export interface MiCurvesOptions {
  /** MI keys to draw (EpochRecord.mi keys); default: all logged, in miQuantitiesOf's order */
  quantities?: string[];
  cols?: number;
  title?: string;
}

const ESTIMATOR_NAMES: Readonly<Record<string, string>> = {
  club: "CLUB (distance space)",
  infonce: "InfoNCE",
  ksg: "KSG",
  gaussian: "Gaussian MI",
  cka: "CKA",
};
const ESTIMATOR_ORDER = ["club", "ksg", "gaussian", "infonce", "cka"];

/** What an MI key compares: "gu" (generic ↔ unique of one modality) or a cross-modal pair of generic/unique parts. */
export function parseMiKey(key: string): { estimator: string; kind: "gu" | "generic" | "unique"; modalities: string[] } | undefined {
  const parts = key.split(":");
  if (parts.length === 2 && parts[0] && parts[1]) return { estimator: parts[0], kind: "gu", modalities: [parts[1]] };
  if (parts.length === 3 && parts[0] && (parts[1] === "generic" || parts[1] === "unique")) {
    return { estimator: parts[0], kind: parts[1], modalities: (parts[2] ?? "").split("|") };
  }
  return undefined;
}

/** A readable panel title for an MI key ("club:image" → "CLUB (distance space): image generic ↔ unique"). */
export function miQuantityTitle(key: string): string {
  const k = parseMiKey(key);
  if (!k) return key;
  const name = ESTIMATOR_NAMES[k.estimator] ?? k.estimator;
  if (k.kind === "gu") return `${name}: ${k.modalities[0]} generic ↔ unique`;
  return `${name}: ${k.kind} ${k.modalities.join(" ↔ ")}`;
}

/** The y-axis title of a key's panel: CKA is a dependence measure in [0, 1], the others are in nats. */
export function miUnit(key: string): string {
  return parseMiKey(key)?.estimator === "cka" ? "linear CKA (0–1)" : "MI estimate (nats)";
}

function miKeyRank(key: string): [number, string, number] {
  const k = parseMiKey(key);
  if (!k) return [3, key, 0];
  const kind = k.kind === "gu" ? 0 : k.kind === "generic" ? 1 : 2;
  const est = ESTIMATOR_ORDER.indexOf(k.estimator);
  return [kind, k.modalities.join("|"), est < 0 ? ESTIMATOR_ORDER.length : est];
}

/** MI keys logged by any run, sorted: generic ↔ unique per modality, then generic pairs, then unique pairs; by estimator within. */
export function miQuantitiesOf(runs: readonly RunResult[]): string[] {
  const seen = new Set<string>();
  for (const r of runs) for (const e of r.metrics.epochs) for (const k of Object.keys(e.mi ?? {})) seen.add(k);
  return [...seen].sort((a, b) => {
    const [ka, ma, ea] = miKeyRank(a);
    const [kb, mb, eb] = miKeyRank(b);
    return ka - kb || (ma < mb ? -1 : ma > mb ? 1 : 0) || ea - eb || (a < b ? -1 : a > b ? 1 : 0);
  });
}

export interface SeedAggregate {
  epochs: number[];
  mean: number[];
  std: number[];
  /** number of seeds with a finite value at each epoch */
  count: number[];
  /** per epoch, the 95% bootstrap interval over items averaged over the seeds (NaN where a seed logged none) */
  lo: number[];
  hi: number[];
}

/** Per epoch: mean and sample std over the runs (seeds) that logged `key`, and their mean bootstrap interval. */
export function aggregateOverSeeds(runs: readonly RunResult[], key: string): SeedAggregate {
  const byEpoch = new Map<number, { values: number[]; intervals: ([number, number] | undefined)[] }>();
  for (const r of runs) {
    for (const e of r.metrics.epochs) {
      const v = e.mi?.[key];
      if (v === undefined || !Number.isFinite(v)) continue;
      const entry = byEpoch.get(e.epoch) ?? { values: [], intervals: [] };
      entry.values.push(v);
      entry.intervals.push(e.miInterval?.[key]);
      byEpoch.set(e.epoch, entry);
    }
  }
  const epochs = [...byEpoch.keys()].sort((a, b) => a - b);
  const entries = epochs.map((ep) => byEpoch.get(ep)!);
  const stats = entries.map((e) => meanStd(e.values));
  const bound = (e: { intervals: ([number, number] | undefined)[] }, side: 0 | 1): number =>
    e.intervals.every((i) => i !== undefined) ? meanStd(e.intervals.map((i) => i![side])).mean : NaN;
  return {
    epochs,
    mean: stats.map((s) => s.mean),
    std: stats.map((s) => s.std),
    count: stats.map((s) => s.n),
    lo: entries.map((e) => bound(e, 0)),
    hi: entries.map((e) => bound(e, 1)),
  };
}

const REFERENCE_STYLE = {
  shuffled: { name: "shuffled pairs (independent)", colour: "#7f7f7f", dash: "dash" as const },
  self: { name: "part with itself (estimator's ceiling)", colour: "#000000", dash: "dot" as const },
};
/** A ceiling more than this many times the panel's largest plotted value is written as a note, not drawn (it would flatten the curves). */
const CEILING_DRAW_FACTOR = 4;

/**
 * MI estimates per epoch: one panel per quantity, one line per variant (mean over seeds) with a band: the 95%
 * bootstrap interval over items (averaged over seeds) where the runs logged one, else ±1 sd over seeds. Each panel
 * carries its sanity references (MiReferences): the estimate for shuffled pairs (≈ 0) and for a part paired with
 * itself (the estimator's ceiling at this many items) — drawn as a line, or written as a note when off scale.
 */
export function miCurvesFigure(runs: readonly RunResult[], options: MiCurvesOptions = {}): Figure {
  const quantities = options.quantities ?? miQuantitiesOf(runs);
  if (quantities.length === 0) return emptyFigure("No MI estimates in these runs (EpochRecord.mi)");
  const cols = options.cols ?? Math.min(4, quantities.length);
  const rows = Math.ceil(quantities.length / cols);
  const layout = baseLayout(PAPER_SIZES.double.width + (cols > 3 ? 260 : 0), 150 + 230 * rows + 96 * (rows - 1), options.title);
  layout.margin = { l: 72, r: 16, t: options.title ? 80 : 40, b: 110 };

  const data: PlotlyScatterTrace[] = [];
  const legendShown = new Set<string>();
  const groups = groupByVariant(runs);
  const notes = quantities.map((q, qi) => {
    const ids = subplotAxisIds(qi);
    let top = -Infinity;
    let epochRange: [number, number] = [Infinity, -Infinity];
    for (const [variant, vruns] of groups) {
      const agg = aggregateOverSeeds(vruns, q);
      if (agg.epochs.length === 0) continue;
      const colour = variantColour(variant);
      const bootstrap = agg.lo.every(Number.isFinite) && agg.hi.every(Number.isFinite);
      const upper = bootstrap ? agg.hi : agg.mean.map((m, i) => m + (agg.count[i]! >= 2 ? agg.std[i]! : 0));
      const lower = bootstrap ? agg.lo : agg.mean.map((m, i) => m - (agg.count[i]! >= 2 ? agg.std[i]! : 0));
      top = Math.max(top, ...upper);
      epochRange = [Math.min(epochRange[0], agg.epochs[0]!), Math.max(epochRange[1], agg.epochs[agg.epochs.length - 1]!)];
      if (bootstrap || agg.count.some((c) => c >= 2)) {
        // The band is one closed polygon (upper edge forward, lower edge back) so it is a single trace.
        data.push({
          type: "scatter",
          mode: "lines",
          name: `${variant} ${bootstrap ? "95% interval" : "±1 sd"}`,
          legendgroup: variant,
          showlegend: false,
          hoverinfo: "skip",
          x: [...agg.epochs, ...[...agg.epochs].reverse()],
          y: [...upper, ...[...lower].reverse()],
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
        text: agg.count.map(
          (c, i) => `${c} seed(s), sd ${round4(agg.std[i]!)}` + (Number.isFinite(agg.lo[i]!) ? `, 95% [${round4(agg.lo[i]!)}, ${round4(agg.hi[i]!)}]` : ""),
        ),
        line: { color: colour, width: 2 },
        marker: { color: colour, size: 6 },
        hovertemplate: `${escapeHtml(variant)}<br>epoch %{x}: %{y:.4g}<br>%{text}<extra></extra>`,
        xaxis: ids.x,
        yaxis: ids.y,
      });
      legendShown.add(variant);
    }
    const levels = miReferenceLevels(runs, q);
    if (!levels || !Number.isFinite(epochRange[0])) return undefined;
    const span: [number, number] = epochRange[0] === epochRange[1] ? [epochRange[0] - 0.5, epochRange[1] + 0.5] : epochRange;
    return addMiReferenceLines({ data, legendShown, panel: qi, levels, top, span });
  });
  addSubplotGrid(
    layout,
    quantities.map((q, qi) => ({ title: miQuantityTitle(q), xTitle: "Epoch", yTitle: miUnit(q), ...(notes[qi] ? { note: notes[qi] } : {}) })),
    cols,
  );
  legendBelow(layout);
  return { data, layout };
}

/**
 * The sanity references of one panel: the shuffled-pairs level (dashed) and the part-with-itself ceiling (dotted),
 * each a horizontal line over `span` (x units). A ceiling far above the panel's data (`top`) is not drawn (it would
 * flatten the curves): the returned note, for the panel's title, gives its value instead.
 */
export function addMiReferenceLines(p: {
  data: PlotlyScatterTrace[];
  legendShown: Set<string>;
  panel: number;
  levels: { shuffled: number; self: number };
  top: number;
  span: [number, number];
}): string | undefined {
  const ids = subplotAxisIds(p.panel);
  let note: string | undefined;
  for (const which of ["shuffled", "self"] as const) {
    const value = p.levels[which];
    const style = REFERENCE_STYLE[which];
    if (which === "self" && value > CEILING_DRAW_FACTOR * Math.max(p.top, p.levels.shuffled, 1e-9)) {
      note = `ceiling (part with itself): ${formatLevel(value)}, off scale`;
      continue;
    }
    p.data.push({
      type: "scatter",
      mode: "lines",
      name: style.name,
      legendgroup: `reference:${which}`,
      showlegend: !p.legendShown.has(`reference:${which}`),
      x: [...p.span],
      y: [value, value],
      line: { color: style.colour, width: 1.5, dash: style.dash },
      hovertemplate: `${escapeHtml(style.name)}: ${formatLevel(value)}<extra></extra>`,
      xaxis: ids.x,
      yaxis: ids.y,
    });
    p.legendShown.add(`reference:${which}`);
  }
  return note;
}

function formatLevel(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3);
}
