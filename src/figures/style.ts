import type { Figure, PlotlyAnnotation, PlotlyAxis, PlotlyLayout } from "./types";

/**
 * House style of the kit's figures: Okabe–Ito colours (distinguishable under the common colour-vision
 * deficiencies), one fixed colour per variant so a variant looks the same in every figure, white
 * background, fonts ≥ 14 px, sizes that fit a two-column paper when exported at 1 px = 0.6 pt.
 */

export const OKABE_ITO = {
  black: "#000000",
  orange: "#E69F00",
  skyBlue: "#56B4E9",
  bluishGreen: "#009E73",
  yellow: "#F0E442",
  blue: "#0072B2",
  vermillion: "#D55E00",
  reddishPurple: "#CC79A7",
} as const;

/** The backbones in the order figures list them: the no-content baseline, the MMRec backbones, SEA's own (docs/method.md §13). */
export const BACKBONE_ORDER: readonly string[] = ["lightgcn", "vbpr", "freedom", "sea"];

/** Sorts backbone names: the known ones in BACKBONE_ORDER, then the rest alphabetically. */
export function sortBackbones(names: Iterable<string>): string[] {
  const rank = (b: string): number => (BACKBONE_ORDER.indexOf(b) < 0 ? BACKBONE_ORDER.length : BACKBONE_ORDER.indexOf(b));
  return [...new Set(names)].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/** The kit's variants in the order figures list them (docs/method.md §6). */
export const VARIANT_ORDER: readonly string[] = ["plain", "sea", "no-club", "no-solosim", "no-both", "orthogonal", "neg-l2", "subtraction"];

const VARIANT_COLOURS: Readonly<Record<string, string>> = {
  sea: OKABE_ITO.vermillion,
  "no-club": OKABE_ITO.blue,
  "no-solosim": OKABE_ITO.bluishGreen,
  "no-both": OKABE_ITO.black,
  orthogonal: OKABE_ITO.orange,
  "neg-l2": OKABE_ITO.reddishPurple,
  subtraction: OKABE_ITO.skyBlue,
  // The plug-in study's baseline (the backbone alone): neutral grey beside sea's vermillion.
  plain: "#999999",
};

/** Colours for variants the kit does not know, picked by a hash of the name (stable across figures). */
const SPARE_COLOURS = [OKABE_ITO.yellow, OKABE_ITO.skyBlue, OKABE_ITO.bluishGreen, OKABE_ITO.reddishPurple, OKABE_ITO.orange, OKABE_ITO.blue];

/** The fixed colour of a variant. Unknown names get a stable colour from their hash (FNV-1a). */
export function variantColour(variant: string): string {
  const known = VARIANT_COLOURS[variant];
  if (known) return known;
  let h = 0x811c9dc5;
  for (let i = 0; i < variant.length; i++) h = Math.imul(h ^ variant.charCodeAt(i), 0x01000193) >>> 0;
  return SPARE_COLOURS[h % SPARE_COLOURS.length]!;
}

/** Sorts variant names: the known ones in VARIANT_ORDER, then the rest alphabetically. */
export function sortVariants(names: Iterable<string>): string[] {
  const rank = (v: string): number => {
    const i = VARIANT_ORDER.indexOf(v);
    return i < 0 ? VARIANT_ORDER.length : i;
  };
  return [...new Set(names)].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/** "#RRGGBB" + alpha → "rgba(r,g,b,a)" (bands and markers drawn see-through). */
export function withAlpha(hex: string, alpha: number): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${alpha})`;
}

/** Liberation Sans is metric-compatible with Arial and ships with Debian's chromium fonts. */
export const FONT_FAMILY = "Arial, 'Liberation Sans', Helvetica, sans-serif";
export const BASE_FONT_SIZE = 14;
export const TITLE_FONT_SIZE = 16;

/**
 * Figure sizes in CSS px. Exported at 1 px = 0.6 pt, "single" fills one column of a two-column paper
 * (≈ 3.3 in) with 14 px text ≈ 8.4 pt; "double" spans both columns (≈ 7 in).
 */
export const PAPER_SIZES = {
  single: { width: 400, height: 320 },
  double: { width: 840, height: 360 },
} as const;

export type PaperSize = keyof typeof PAPER_SIZES;

export function styledAxis(title: string | undefined, extra: PlotlyAxis = {}): PlotlyAxis {
  return {
    ...(title !== undefined ? { title: { text: title, font: { size: BASE_FONT_SIZE } } } : {}),
    showgrid: true,
    gridcolor: "#E5E8EE",
    zeroline: false,
    showline: true,
    linecolor: "#444444",
    ticks: "outside",
    tickfont: { size: BASE_FONT_SIZE },
    automargin: true,
    ...extra,
  };
}

/** A layout with the house style; axes and traces are added by each figure builder. */
export function baseLayout(width: number, height: number, title?: string): PlotlyLayout {
  return {
    ...(title ? { title: { text: title, font: { size: TITLE_FONT_SIZE }, x: 0.5, xanchor: "center" as const } } : {}),
    width,
    height,
    font: { family: FONT_FAMILY, size: BASE_FONT_SIZE, color: "#222222" },
    paper_bgcolor: "#FFFFFF",
    plot_bgcolor: "#FFFFFF",
    margin: { l: 64, r: 16, t: title ? 56 : 32, b: 56 },
    showlegend: true,
    legend: { font: { size: BASE_FONT_SIZE }, bgcolor: "rgba(255,255,255,0.8)" },
    hovermode: "closest",
  };
}

/** Axis ids of subplot i (0-based): trace refs ("x", "x2" …) and layout keys ("xaxis", "xaxis2" …). */
export function subplotAxisIds(i: number): { x: string; y: string; xKey: `xaxis${string}`; yKey: `yaxis${string}` } {
  const suffix = i === 0 ? "" : String(i + 1);
  return { x: `x${suffix}`, y: `y${suffix}`, xKey: `xaxis${suffix}`, yKey: `yaxis${suffix}` };
}

export interface SubplotSpec {
  title: string;
  /** a second, smaller line under the title (e.g. a reference value that is off the panel's scale) */
  note?: string;
  xTitle?: string;
  yTitle?: string;
  x?: PlotlyAxis;
  y?: PlotlyAxis;
}

/** Height and width of the plotting area (figure minus margins), in px. */
function plotArea(layout: PlotlyLayout): { w: number; h: number } {
  const m = layout.margin ?? { l: 80, r: 80, t: 100, b: 80 };
  return { w: layout.width - m.l - m.r, h: layout.height - m.t - m.b };
}

/**
 * Lays out `specs.length` subplots on a grid of `cols` columns, row by row from the top, writing the
 * axes and one title annotation per subplot into `layout` (set its size and margins first). Explicit
 * domains with gaps in px (not layout.grid) so tick labels, axis titles and the next row's subplot
 * title fit between panels whatever the figure size.
 */
export function addSubplotGrid(layout: PlotlyLayout, specs: SubplotSpec[], cols: number, gapsPx = { x: 84, y: 96 }): void {
  const rows = Math.max(1, Math.ceil(specs.length / cols));
  const area = plotArea(layout);
  const gx = cols > 1 ? Math.min(0.3, gapsPx.x / area.w) : 0;
  const gy = rows > 1 ? Math.min(0.4, gapsPx.y / area.h) : 0;
  const w = (1 - gx * (cols - 1)) / cols;
  const h = (1 - gy * (rows - 1)) / rows;
  const annotations: PlotlyAnnotation[] = layout.annotations ? [...layout.annotations] : [];
  specs.forEach((spec, i) => {
    const r = Math.floor(i / cols);
    const c = i % cols;
    const x0 = c * (w + gx);
    const y1 = 1 - r * (h + gy);
    const ids = subplotAxisIds(i);
    layout[ids.xKey] = styledAxis(spec.xTitle, { domain: [round4(x0), round4(x0 + w)], anchor: ids.y, ...spec.x });
    layout[ids.yKey] = styledAxis(spec.yTitle, { domain: [round4(y1 - h), round4(y1)], anchor: ids.x, ...spec.y });
    annotations.push({
      text: `<b>${escapeHtml(spec.title)}</b>` + (spec.note ? `<br><span style="font-size:11px">${escapeHtml(spec.note)}</span>` : ""),
      x: round4(x0 + w / 2),
      y: round4(y1),
      xref: "paper",
      yref: "paper",
      xanchor: "center",
      yanchor: "bottom",
      showarrow: false,
      font: { size: BASE_FONT_SIZE },
    });
  });
  layout.annotations = annotations;
}

/** A horizontal legend centred below the plotting area, `belowPx` under its bottom edge (room for tick labels and the axis title). */
export function legendBelow(layout: PlotlyLayout, belowPx = 62): void {
  layout.legend = { ...layout.legend, orientation: "h", x: 0.5, xanchor: "center", y: round4(-belowPx / plotArea(layout).h), yanchor: "top" };
}

/** Rounds layout fractions so specs (and the files written from them) do not carry float noise. */
export function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

/** Plotly renders a subset of HTML in text; names coming from files are escaped. */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** An empty figure with a centred note, returned when there is nothing to draw. */
export function emptyFigure(message: string, size: PaperSize = "single"): Figure {
  const { width, height } = PAPER_SIZES[size];
  const layout = baseLayout(width, height);
  layout.showlegend = false;
  layout.xaxis = { showgrid: false, showticklabels: false, zeroline: false };
  layout.yaxis = { showgrid: false, showticklabels: false, zeroline: false };
  layout.annotations = [{ text: escapeHtml(message), x: 0.5, y: 0.5, xref: "paper", yref: "paper", showarrow: false, font: { size: BASE_FONT_SIZE } }];
  return { data: [], layout };
}
