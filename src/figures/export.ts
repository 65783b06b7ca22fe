import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Browser, Page } from "playwright-core";
import { SeaError } from "../util/errors";
import { writeFileAtomic } from "../util/atomicWrite";
import type { Figure } from "./types";

/**
 * Writing figures: self-contained HTML (the plotly bundle inlined, so it opens offline), and static
 * PNG/SVG/PDF rendered by plotly itself inside headless Chromium (driven by playwright-core). Output
 * bytes depend only on the figure: no timestamps, fixed plotly config, and plotly's random element
 * ids come from a Math.random that is re-seeded before every figure.
 */

export type FigureFormat = "html" | "png" | "svg" | "pdf";
export const FIGURE_FORMATS: readonly FigureFormat[] = ["html", "png", "svg", "pdf"];

export interface WriteFigureOptions {
  /** default ["html"] */
  formats?: readonly FigureFormat[];
  /** PNG pixel ratio; default 3 (≈ 300 dpi at the paper sizes in style.ts) */
  pngScale?: number;
  /**
   * "inline" (default): the plotly bundle inside the HTML (one file, ~4.8 MB); "sibling": write
   * plotly.min.js once next to the HTML and load it by relative path (still offline, smaller files).
   */
  plotlyJs?: "inline" | "sibling";
}

export interface WriteFigureResult {
  /** files written, in format order */
  written: string[];
  /** formats not written and why (Chromium missing) */
  skipped: { format: FigureFormat; reason: string }[];
}

const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

export const CHROMIUM_MISSING_MESSAGE =
  "PNG/SVG/PDF export needs Chromium: install it with `apt-get install chromium` (or set SEA_CHROMIUM to its path); HTML figures are written anyway.";

/**
 * The Chromium binary to use: the explicit path, else $SEA_CHROMIUM, else /usr/bin/chromium (or
 * chromium-browser). A path the user named is never silently replaced by another: undefined when it is missing.
 */
export function findChromium(explicit?: string): string | undefined {
  const named = explicit ?? process.env.SEA_CHROMIUM;
  if (named) return fs.existsSync(named) ? named : undefined;
  return ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((c) => fs.existsSync(c));
}

/** Path of the plotly bundle shipped in node_modules (plotly.js-dist-min). */
export function plotlyBundlePath(): string {
  return require.resolve("plotly.js-dist-min/plotly.min.js");
}

let bundleCache: string | undefined;
/** The plotly bundle's source, made safe to inline in a <script> element. */
export function plotlyBundle(): string {
  if (bundleCache === undefined) bundleCache = fs.readFileSync(plotlyBundlePath(), "utf8").replace(/<\/script/gi, "<\\/script");
  return bundleCache;
}

/** Fixed plotly config: the same figure always renders the same way (no responsive resizing, no logo link). */
function plotlyConfig(name: string, fig: Figure): Record<string, unknown> {
  return {
    displaylogo: false,
    responsive: false,
    toImageButtonOptions: { format: "svg", filename: name, width: fig.layout.width, height: fig.layout.height, scale: 1 },
  };
}

/** JSON that is safe inside a <script> element ("<" escaped, so no "</script>" can end it early). */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

function escapeAttr(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** A complete HTML page showing the figure. `plotlyJs` as in WriteFigureOptions ("sibling" → <script src="plotly.min.js">). */
export function figureHtml(fig: Figure, name: string, plotlyJs: "inline" | "sibling" = "inline"): string {
  const script = plotlyJs === "inline" ? `<script>${plotlyBundle()}</script>` : `<script src="plotly.min.js"></script>`;
  return [
    "<!DOCTYPE html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    `<title>${escapeAttr(name)}</title>`,
    "<style>body{margin:0;background:#ffffff}</style>",
    script,
    "</head>",
    "<body>",
    `<div id="sea-figure" style="width:${fig.layout.width}px;height:${fig.layout.height}px"></div>`,
    "<script>",
    `(function(){var fig=${scriptJson(fig)};Plotly.newPlot("sea-figure",fig.data,fig.layout,${scriptJson(plotlyConfig(name, fig))});})();`,
    "</script>",
    "</body>",
    "</html>",
    "",
  ].join("\n");
}

let notebookBundleSent = false;
let notebookCounter = 0;

export interface NotebookHtmlOptions {
  /**
   * "auto" (default): embed the plotly bundle in the first snippet of this process (kernel session)
   * only; "always": embed it every time (each output self-contained, ~4.8 MB); "never": rely on an earlier one.
   */
  bundle?: "auto" | "always" | "never";
}

/**
 * An HTML snippet that draws the figure inline in Jupyter (tslab: `display.html(figureHtmlForNotebook(fig))`).
 * Works offline: plotly comes from node_modules, never a CDN. If a saved notebook is reopened with
 * the bundle-carrying output cleared, the div says how to fix it instead of staying blank.
 */
export function figureHtmlForNotebook(fig: Figure, options: NotebookHtmlOptions = {}): string {
  const mode = options.bundle ?? "auto";
  const embed = mode === "always" || (mode === "auto" && !notebookBundleSent);
  if (embed) notebookBundleSent = true;
  const hash = crypto.createHash("sha256").update(JSON.stringify(fig)).digest("hex").slice(0, 10);
  const id = `sea-fig-${hash}-${++notebookCounter}`;
  const missing =
    "Plotly is not loaded in this page: re-run the cell with figureHtmlForNotebook(fig, { bundle: &quot;always&quot; }).";
  return [
    `<div id="${id}" style="width:${fig.layout.width}px;height:${fig.layout.height}px"></div>`,
    embed ? `<script>if(!window.Plotly){${plotlyBundle()}\n}</script>` : "",
    "<script>",
    `(function(){var el=document.getElementById("${id}");`,
    `if(!window.Plotly){el.innerHTML="${missing}";return;}`,
    `var fig=${scriptJson(fig)};Plotly.newPlot(el,fig.data,fig.layout,${scriptJson(plotlyConfig(id, fig))});})();`,
    "</script>",
  ].join("\n");
}

/** For tests and long-lived kernels: forget that the bundle was sent (the next "auto" snippet embeds it again). */
export function resetNotebookBundle(): void {
  notebookBundleSent = false;
}

function checkName(name: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
    throw new SeaError(`figure name "${name}" must be a plain file stem (letters, digits, ".", "_", "-")`);
  }
}

// In-page helpers, installed once per page. Two things keep SVG bytes the same on every run: the
// seeded Math.random (splitmix32 increments) fixes plotly's random clip-path ids, and sorting each
// element's attributes by name removes the order plotly happens to set them in, which varies with
// timing (CI saw `style` before and after `viewBox` on the same root). __seaRender returns PNG as
// base64 and SVG as text. Exported for tests only.
export const EXPORT_PAGE_SCRIPT = `
window.__seaSeed = function (seed) {
  var x = seed >>> 0;
  Math.random = function () {
    x = (x + 0x9e3779b9) >>> 0;
    var z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
  };
};
window.__seaSortAttributes = function (svgText) {
  var doc = new DOMParser().parseFromString(svgText, "image/svg+xml");
  var all = doc.getElementsByTagName("*");
  for (var i = 0; i < all.length; i++) {
    var el = all[i];
    var attrs = Array.prototype.slice.call(el.attributes).map(function (a) {
      return { ns: a.namespaceURI, name: a.name, local: a.localName, value: a.value };
    });
    attrs.sort(function (a, b) { return a.name < b.name ? -1 : a.name > b.name ? 1 : 0; });
    attrs.forEach(function (a) { el.removeAttributeNS(a.ns, a.local); });
    attrs.forEach(function (a) { el.setAttributeNS(a.ns, a.name, a.value); });
  }
  return new XMLSerializer().serializeToString(doc.documentElement);
};
window.__seaRender = async function (fig, config, format, scale) {
  window.__seaSeed(12345);
  var url = await Plotly.toImage({ data: fig.data, layout: fig.layout, config: config },
    { format: format, width: fig.layout.width, height: fig.layout.height, scale: scale });
  if (format === "png") return url.slice(url.indexOf(",") + 1);
  return window.__seaSortAttributes(decodeURIComponent(url.slice(url.indexOf(",") + 1)));
};
`;

interface PageGlobals {
  /** PNG: base64 bytes; SVG: the document's text */
  __seaRender(fig: Figure, config: Record<string, unknown>, format: "svg" | "png", scale: number): Promise<string>;
}

export interface FigureExporterOptions {
  /** Chromium binary; default findChromium() */
  chromiumPath?: string;
  /** where the one-time "Chromium missing" message goes; default process.stderr */
  log?: (message: string) => void;
}

/**
 * Writes figures, reusing one headless Chromium (started on the first static format) for a batch.
 * Call close() when done.
 */
export class FigureExporter {
  private readonly chromiumPath: string | undefined;
  private readonly log: (message: string) => void;
  private browser: Browser | undefined;
  private plotPage: Page | undefined;
  private unavailable: string | undefined;
  private warned = false;

  constructor(options: FigureExporterOptions = {}) {
    this.chromiumPath = findChromium(options.chromiumPath);
    this.log = options.log ?? ((m) => process.stderr.write(m + "\n"));
    if (!this.chromiumPath) this.unavailable = CHROMIUM_MISSING_MESSAGE;
  }

  /** Writes `<outDir>/<name>.<format>` for each format; returns what was written and what was skipped. */
  async write(fig: Figure, outDir: string, name: string, options: WriteFigureOptions = {}): Promise<WriteFigureResult> {
    checkName(name);
    const formats = options.formats ?? ["html"];
    for (const f of formats) if (!FIGURE_FORMATS.includes(f)) throw new SeaError(`unknown figure format "${String(f)}" (use ${FIGURE_FORMATS.join(", ")})`);
    const result: WriteFigureResult = { written: [], skipped: [] };
    fs.mkdirSync(outDir, { recursive: true });
    for (const format of FIGURE_FORMATS.filter((f) => formats.includes(f))) {
      const file = path.join(outDir, `${name}.${format}`);
      if (format === "html") {
        const plotlyJs = options.plotlyJs ?? "inline";
        if (plotlyJs === "sibling") {
          const sibling = path.join(outDir, "plotly.min.js");
          if (!fs.existsSync(sibling)) writeFileAtomic(sibling, fs.readFileSync(plotlyBundlePath()));
        }
        writeFileAtomic(file, figureHtml(fig, name, plotlyJs));
        result.written.push(file);
        continue;
      }
      const page = await this.page();
      if (!page) {
        result.skipped.push({ format, reason: this.unavailable! });
        continue;
      }
      writeFileAtomic(file, await this.renderOn(page, fig, name, format, options.pngScale ?? 3));
      result.written.push(file);
    }
    return result;
  }

  /** Renders one static format to bytes (UTF-8 text for SVG). Throws a SeaError when Chromium is unavailable. */
  async render(fig: Figure, format: "png" | "svg" | "pdf", pngScale = 3): Promise<Uint8Array> {
    const page = await this.page();
    if (!page) throw new SeaError(this.unavailable!);
    return this.renderOn(page, fig, "figure", format, pngScale);
  }

  /** Whether static formats can be written (starts Chromium if needed). */
  async staticAvailable(): Promise<boolean> {
    return (await this.page()) !== undefined;
  }

  async close(): Promise<void> {
    const b = this.browser;
    this.browser = undefined;
    this.plotPage = undefined;
    if (b) await b.close();
  }

  private async renderOn(page: Page, fig: Figure, name: string, format: "png" | "svg" | "pdf", pngScale: number): Promise<Uint8Array> {
    const config = plotlyConfig(name, fig);
    const imageFormat = format === "png" ? "png" : "svg";
    const rendered = await page.evaluate(
      ([f, c, fmt, s]) => (globalThis as unknown as PageGlobals).__seaRender(f, c, fmt, s),
      [fig, config, imageFormat, format === "png" ? pngScale : 1] as const,
    );
    if (format === "png") return Buffer.from(rendered, "base64");
    if (format === "svg") return Buffer.from(rendered, "utf8");
    return this.svgToPdf(rendered, fig.layout.width, fig.layout.height);
  }

  /** PDF keeps the figure vector: print a page holding only the SVG, sized to the figure. */
  private async svgToPdf(svg: string, width: number, height: number): Promise<Uint8Array> {
    const page = await this.browser!.newPage();
    try {
      await page.setContent(
        `<!DOCTYPE html><html><head><style>@page{size:${width}px ${height}px;margin:0}html,body{margin:0;padding:0}svg{display:block}</style></head><body>${svg}</body></html>`,
      );
      const pdf = await page.pdf({ width: `${width}px`, height: `${height}px`, printBackground: true, pageRanges: "1" });
      return stripPdfDates(pdf);
    } finally {
      await page.close();
    }
  }

  private async page(): Promise<Page | undefined> {
    if (this.plotPage) return this.plotPage;
    if (this.unavailable) {
      if (!this.warned) {
        this.warned = true;
        this.log(this.unavailable);
      }
      return undefined;
    }
    try {
      const { chromium } = await import("playwright-core");
      this.browser = await chromium.launch({ executablePath: this.chromiumPath!, args: CHROMIUM_ARGS });
      const page = await this.browser.newPage();
      await page.setContent("<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body></body></html>");
      await page.addScriptTag({ content: plotlyBundle() });
      await page.addScriptTag({ content: EXPORT_PAGE_SCRIPT });
      this.plotPage = page;
      return page;
    } catch (e) {
      await this.close().catch(() => undefined);
      this.unavailable = `${CHROMIUM_MISSING_MESSAGE} (starting ${this.chromiumPath} failed: ${(e as Error).message.split("\n")[0]})`;
      return this.page();
    }
  }
}

/**
 * Chromium's PDFs carry creation/modification dates; overwrite their digits with a fixed date of the
 * same length, so xref offsets stay valid and the same figure gives the same bytes.
 */
function stripPdfDates(pdf: Uint8Array): Uint8Array {
  const text = Buffer.from(pdf).toString("latin1");
  const fixed = text.replace(/\/(CreationDate|ModDate) \(D:(\d+)/g, (_m, key: string, digits: string) => `/${key} (D:${"20000101000000".padEnd(digits.length, "0").slice(0, digits.length)}`);
  return Buffer.from(fixed, "latin1");
}

/** One-off: writes one figure with a temporary exporter (use FigureExporter for batches). */
export async function writeFigure(fig: Figure, outDir: string, name: string, options: WriteFigureOptions = {}): Promise<WriteFigureResult> {
  const exporter = new FigureExporter();
  try {
    return await exporter.write(fig, outDir, name, options);
  } finally {
    await exporter.close();
  }
}
