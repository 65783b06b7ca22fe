import type { Command } from "commander";
import type { Dataset } from "../../data/types";
import { evaluateScoreMatrix, type EvalResult } from "../../eval/fullRanking";
import { METRIC_NAMES, metricKey } from "../../eval/metrics";
import { SeaError } from "../../util/errors";
import { loadMmrecDataset } from "../../data/mmrec";
import { readNpy } from "../../data/npy";

interface EvalCommandOptions {
  dataset: string;
  scores: string;
  split: string;
  k: string;
  json?: boolean;
}

/** `sea eval`: full-ranking metrics (docs/method.md §9) of a saved users × items score matrix. */
export function registerEvalCommand(program: Command): void {
  program
    .command("eval")
    .description("full-ranking evaluation of a users × items score matrix (.npy) on a dataset's valid or test split")
    .requiredOption("--dataset <dir>", "MMRec-format dataset folder")
    .requiredOption("--scores <file.npy>", "float32 (or float64) scores, shape [users, items]")
    .option("--split <name>", "held-out split: valid or test", "test")
    .option("--k <list>", "comma-separated cut-offs", "10,20")
    .option("--json", "print one JSON object: metric → value, plus \"users\"")
    .action(async (opts: EvalCommandOptions) => {
      const split = parseSplit(opts.split);
      const ks = parseKList(opts.k);
      // All feature files are read too: they fix nItems (items without interactions still get a score column).
      const dataset = await loadMmrecDataset(opts.dataset);
      for (const w of dataset.warnings) process.stderr.write(`sea: warning: ${w}\n`);
      const scores = await readScoreMatrix(opts.scores, dataset);
      const result = evaluateScoreMatrix(scores, dataset.nUsers, dataset.nItems, dataset.train, dataset[split], ks);
      process.stdout.write(opts.json ? formatJson(result) : formatTable(result, ks, dataset.name, split));
    });
}

/** "10,20" → [10, 20]; anything but positive integers is a SeaError naming --k. */
export function parseKList(text: string): number[] {
  const parts = text.split(",").map((s) => s.trim());
  const ks: number[] = [];
  for (const p of parts) {
    const k = Number(p);
    if (!/^\d+$/.test(p) || !Number.isSafeInteger(k) || k < 1) {
      throw new SeaError(`cut-offs must be positive integers separated by commas, got "${text}"`, { where: "--k" });
    }
    if (!ks.includes(k)) ks.push(k);
  }
  return ks.sort((a, b) => a - b);
}

function parseSplit(text: string): "valid" | "test" {
  if (text === "valid" || text === "test") return text;
  throw new SeaError(`must be "valid" or "test", got "${text}"`, { where: "--split" });
}

/** Reads the score matrix and checks it against the dataset: shape [nUsers, nItems], float32 or float64. */
async function readScoreMatrix(file: string, dataset: Dataset): Promise<Float32Array> {
  const array = readNpy(file);
  const expected = `[${dataset.nUsers}, ${dataset.nItems}]`;
  const shapeOk = array.shape.length === 2 && array.shape[0] === dataset.nUsers && array.shape[1] === dataset.nItems;
  if (!shapeOk) {
    throw new SeaError(
      `scores have shape [${array.shape.join(", ")}], expected ${expected} (users × items of ${dataset.dir})`,
      { where: file },
    );
  }
  if (array.data instanceof Float32Array) return array.data;
  if (array.data instanceof Float64Array) return Float32Array.from(array.data);
  throw new SeaError(`scores have dtype ${array.dtype}, expected float32 (or float64)`, { where: file });
}

function formatJson(result: EvalResult): string {
  return JSON.stringify({ ...result.metrics, users: result.nUsers }) + "\n";
}

function formatTable(result: EvalResult, ks: readonly number[], name: string, split: string): string {
  const width = 10;
  const lines = [
    `${name}, ${split} split: ${result.nUsers} users evaluated (full ranking, train items masked)`,
    "metric".padEnd(width) + ks.map((k) => `@${k}`.padStart(width)).join(""),
  ];
  for (const m of METRIC_NAMES) {
    lines.push(m.padEnd(width) + ks.map((k) => result.metrics[metricKey(m, k)]!.toFixed(4).padStart(width)).join(""));
  }
  return lines.join("\n") + "\n";
}
