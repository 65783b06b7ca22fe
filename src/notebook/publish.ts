import type { Figure } from "../figures/types";
import { writeFigure, figureHtmlForNotebook } from "../figures/export";

/**
 * Saves a figure under `dir` as HTML, PNG and SVG (the formats a paper and a web page need) and returns
 * the HTML snippet that shows it inline in Jupyter (pass it to tslab's `display.html`).
 */
export async function publishFigure(fig: Figure, dir: string, name: string): Promise<string> {
  const result = await writeFigure(fig, dir, name, { formats: ["html", "png", "svg"] });
  for (const s of result.skipped) console.warn(`${name}.${s.format} not written: ${s.reason}`);
  return figureHtmlForNotebook(fig);
}
