/**
 * A small progress reporter for long work (epochs, batches, evaluation). On a terminal it redraws one
 * line with a bar, rate and ETA; elsewhere (CI, notebooks, pipes) it prints a plain line at most every
 * `minIntervalMs`, so logs stay readable.
 */
export interface ProgressOptions {
  label: string;
  total: number;
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  minIntervalMs?: number;
  silent?: boolean;
}

export class Progress {
  private readonly start = Date.now();
  private lastDraw = 0;
  private done = 0;
  private readonly stream: NodeJS.WritableStream & { isTTY?: boolean };
  private readonly minIntervalMs: number;

  constructor(private readonly options: ProgressOptions) {
    this.stream = options.stream ?? process.stderr;
    this.minIntervalMs = options.minIntervalMs ?? (this.stream.isTTY ? 100 : 5000);
  }

  /** Advances by `n` units; `detail` (e.g. loss parts) is shown after the bar. */
  tick(n = 1, detail = ""): void {
    this.done += n;
    const now = Date.now();
    if (this.done < this.options.total && now - this.lastDraw < this.minIntervalMs) return;
    this.lastDraw = now;
    this.draw(detail);
  }

  /** Ends the bar with a final line. */
  finish(detail = ""): void {
    this.done = this.options.total;
    this.draw(detail, true);
  }

  private draw(detail: string, final = false): void {
    if (this.options.silent) return;
    const { total, label } = this.options;
    const elapsed = (Date.now() - this.start) / 1000;
    const frac = total > 0 ? Math.min(1, this.done / total) : 1;
    const eta = frac > 0 ? (elapsed / frac) * (1 - frac) : NaN;
    const width = 24;
    const filled = Math.round(frac * width);
    const bar = "█".repeat(filled) + "░".repeat(width - filled);
    const text = `${label} ${bar} ${this.done}/${total} ${formatSeconds(elapsed)} elapsed, ETA ${formatSeconds(eta)}${detail ? "  " + detail : ""}`;
    if (this.stream.isTTY) {
      this.stream.write(`\r\x1b[2K${text}${final ? "\n" : ""}`);
    } else if (final || this.done < total) {
      this.stream.write(text + "\n");
    }
  }
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return "--";
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.round(s - 60 * m)).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}
