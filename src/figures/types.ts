/**
 * The small part of the plotly.js figure schema the kit uses. Figures are plain JSON-able objects
 * (`{ data, layout }`) so they can be written to HTML, rendered headless, or shown in a notebook.
 */

export interface PlotlyFont {
  family?: string;
  size?: number;
  color?: string;
}

export interface PlotlyMarker {
  color?: string | string[];
  size?: number;
  symbol?: string | string[];
  opacity?: number;
  line?: { color?: string; width?: number };
}

export interface PlotlyLine {
  color?: string;
  width?: number;
  dash?: "solid" | "dot" | "dash" | "longdash" | "dashdot";
}

export interface PlotlyErrorBar {
  type: "data";
  array: number[];
  /** with symmetric: false, the lower lengths (array is then the upper) */
  arrayminus?: number[];
  symmetric?: boolean;
  visible: boolean;
  color?: string;
  thickness?: number;
  width?: number;
}

/** Common fields of every trace kind the kit draws. */
interface PlotlyTraceBase {
  name?: string;
  showlegend?: boolean;
  legendgroup?: string;
  hoverinfo?: string;
  hovertemplate?: string;
  xaxis?: string;
  yaxis?: string;
}

export interface PlotlyScatterTrace extends PlotlyTraceBase {
  type: "scatter" | "scattergl";
  mode?: "lines" | "markers" | "lines+markers" | "text" | "markers+text" | "none";
  textposition?: "top center" | "bottom center" | "middle right";
  textfont?: PlotlyFont;
  x: number[];
  y: number[];
  text?: string[];
  line?: PlotlyLine;
  marker?: PlotlyMarker;
  error_y?: PlotlyErrorBar;
  fill?: "none" | "toself" | "tonexty";
  fillcolor?: string;
}

export interface PlotlyBarTrace extends PlotlyTraceBase {
  type: "bar";
  x: string[];
  y: number[];
  text?: string[];
  textposition?: "outside" | "inside" | "auto" | "none";
  textfont?: PlotlyFont;
  marker?: PlotlyMarker;
  error_y?: PlotlyErrorBar;
  cliponaxis?: boolean;
}

export interface PlotlyTableTrace extends PlotlyTraceBase {
  type: "table";
  columnwidth?: number[];
  header: { values: string[]; align?: string; font?: PlotlyFont; fill?: { color: string }; line?: { color: string }; height?: number };
  /** cells.values is column-major: one array per column. */
  cells: { values: string[][]; align?: string | string[]; font?: PlotlyFont; fill?: { color: string }; line?: { color: string }; height?: number };
}

export type PlotlyTrace = PlotlyScatterTrace | PlotlyBarTrace | PlotlyTableTrace;

export interface PlotlyAxis {
  title?: { text: string; font?: PlotlyFont; standoff?: number };
  domain?: [number, number];
  anchor?: string;
  type?: "linear" | "log" | "category";
  range?: [number, number];
  rangemode?: "normal" | "tozero" | "nonnegative";
  showgrid?: boolean;
  gridcolor?: string;
  zeroline?: boolean;
  zerolinecolor?: string;
  showline?: boolean;
  linecolor?: string;
  ticks?: "" | "outside" | "inside";
  tickfont?: PlotlyFont;
  showticklabels?: boolean;
  automargin?: boolean;
  matches?: string;
  scaleanchor?: string;
  dtick?: number;
  tickvals?: number[];
  ticktext?: string[];
  tickangle?: number;
  tickformat?: string;
}

export interface PlotlyAnnotation {
  text: string;
  x: number;
  y: number;
  xref: string;
  yref: string;
  xanchor?: "left" | "center" | "right";
  yanchor?: "top" | "middle" | "bottom";
  showarrow: boolean;
  font?: PlotlyFont;
}

export interface PlotlyLegend {
  orientation?: "h" | "v";
  x?: number;
  y?: number;
  xanchor?: "left" | "center" | "right" | "auto";
  yanchor?: "top" | "middle" | "bottom" | "auto";
  font?: PlotlyFont;
  bgcolor?: string;
  traceorder?: string;
  itemsizing?: "trace" | "constant";
}

export interface PlotlyLayout {
  title?: { text: string; font?: PlotlyFont; x?: number; xanchor?: "left" | "center" | "right" };
  width: number;
  height: number;
  font?: PlotlyFont;
  paper_bgcolor?: string;
  plot_bgcolor?: string;
  margin?: { l: number; r: number; t: number; b: number; pad?: number };
  showlegend?: boolean;
  legend?: PlotlyLegend;
  annotations?: PlotlyAnnotation[];
  barmode?: "group" | "overlay" | "stack";
  hovermode?: "closest" | "x" | "x unified" | false;
  /** xaxis, xaxis2 … and yaxis, yaxis2 … (plotly's subplot axes). */
  [axis: `xaxis${string}`]: PlotlyAxis | undefined;
  [axis: `yaxis${string}`]: PlotlyAxis | undefined;
}

export interface Figure {
  data: PlotlyTrace[];
  layout: PlotlyLayout;
}
