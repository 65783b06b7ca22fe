import * as fs from "node:fs";
import * as path from "node:path";
import { SeaError } from "../util/errors";
import type { PerUserMetrics } from "../eval/metricRecords";
import type { EpochRecord, RunConfigRecord, RunMetrics } from "../train/runRecord";
import { sortVariants } from "./style";

/** One run folder read from disk (figures never look at tensors). */
export interface RunResult {
  /** the run folder */
  dir: string;
  metrics: RunMetrics;
  config: RunConfigRecord;
  /** per_user.json when present */
  perUser?: PerUserMetrics;
  /** the embeddings/ folder when present */
  embeddingsDir?: string;
}

/**
 * Finds every run folder under `dir` (any folder, at any depth, holding metrics.json and config.json),
 * parses and validates it. Runs come back sorted by variant (kit order), then seed, then folder.
 * Throws a SeaError naming the file when a file is unreadable or misses a field figures need.
 */
export function loadRuns(dir: string): RunResult[] {
  if (!fs.existsSync(dir)) throw new SeaError("runs folder does not exist", { where: dir });
  if (!fs.statSync(dir).isDirectory()) throw new SeaError("not a folder", { where: dir });
  const runs = findRunDirs(dir).map(loadRun);
  const variantRank = new Map(sortVariants(runs.map((r) => r.metrics.variant)).map((v, i) => [v, i]));
  return runs.sort(
    (a, b) =>
      variantRank.get(a.metrics.variant)! - variantRank.get(b.metrics.variant)! ||
      a.metrics.seed - b.metrics.seed ||
      (a.dir < b.dir ? -1 : a.dir > b.dir ? 1 : 0),
  );
}

/** Run folders under `root`, sorted, not descending into a run's own subfolders (checkpoint/, embeddings/). */
export function findRunDirs(root: string): string[] {
  const found: string[] = [];
  const visit = (d: string): void => {
    if (fs.existsSync(path.join(d, "metrics.json")) && fs.existsSync(path.join(d, "config.json"))) {
      found.push(d);
      return;
    }
    const entries = fs.readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory() && !e.name.startsWith("."));
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) visit(path.join(d, e.name));
  };
  visit(root);
  return found;
}

/** Reads one run folder (metrics.json, config.json, optional per_user.json and embeddings/). */
export function loadRun(dir: string): RunResult {
  const metricsFile = path.join(dir, "metrics.json");
  const configFile = path.join(dir, "config.json");
  const metrics = validateMetrics(readJson(metricsFile), metricsFile);
  const config = validateConfig(readJson(configFile), configFile);
  if (metrics.variant !== config.variant) {
    throw new SeaError(`variant "${metrics.variant}" differs from config.json's "${config.variant}"`, { where: metricsFile });
  }
  const run: RunResult = { dir, metrics, config };
  const perUserFile = path.join(dir, "per_user.json");
  if (fs.existsSync(perUserFile)) run.perUser = validatePerUser(readJson(perUserFile), perUserFile);
  const embeddingsDir = path.join(dir, "embeddings");
  if (fs.existsSync(embeddingsDir) && fs.statSync(embeddingsDir).isDirectory()) run.embeddingsDir = embeddingsDir;
  return run;
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new SeaError(`cannot read: ${(e as Error).message}`, { where: file, cause: e });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new SeaError(`not valid JSON: ${(e as Error).message}`, { where: file, cause: e });
  }
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function field<T>(obj: Json, key: string, file: string, check: (v: unknown) => v is T, what: string, prefix = ""): T {
  const v = obj[key];
  if (!check(v)) throw new SeaError(`field "${prefix}${key}" must be ${what} (got ${v === undefined ? "nothing" : JSON.stringify(v)?.slice(0, 60)})`, { where: file });
  return v;
}

const isString = (v: unknown): v is string => typeof v === "string";
const isNumber = (v: unknown): v is number => typeof v === "number" && !Number.isNaN(v);
const isArray = (v: unknown): v is unknown[] => Array.isArray(v);

/** A name → number map. JSON cannot hold NaN/Infinity, so null is read as NaN (a diverged metric). */
function numberRecord(v: unknown, file: string, fieldName: string): Record<string, number> {
  if (!isObject(v)) throw new SeaError(`field "${fieldName}" must be an object of numbers`, { where: file });
  const out: Record<string, number> = {};
  for (const [k, x] of Object.entries(v)) {
    if (x === null) out[k] = NaN;
    else if (typeof x === "number") out[k] = x;
    else throw new SeaError(`field "${fieldName}.${k}" must be a number (got ${JSON.stringify(x)})`, { where: file });
  }
  return out;
}

/** A name → [lo, hi] map (null bounds read as NaN). */
function intervalRecord(v: unknown, file: string, fieldName: string): Record<string, [number, number]> {
  if (!isObject(v)) throw new SeaError(`field "${fieldName}" must be an object of [lo, hi] pairs`, { where: file });
  const out: Record<string, [number, number]> = {};
  for (const [k, x] of Object.entries(v)) {
    if (!isArray(x) || x.length !== 2 || !x.every((b) => b === null || typeof b === "number")) {
      throw new SeaError(`field "${fieldName}.${k}" must be a [lo, hi] pair of numbers (got ${JSON.stringify(x)?.slice(0, 60)})`, { where: file });
    }
    out[k] = [(x[0] as number | null) ?? NaN, (x[1] as number | null) ?? NaN];
  }
  return out;
}

function referenceRecord(v: unknown, file: string): Record<string, { shuffled: number; self: number }> {
  if (!isObject(v)) throw new SeaError(`field "miReference" must be an object`, { where: file });
  const out: Record<string, { shuffled: number; self: number }> = {};
  for (const [k, x] of Object.entries(v)) {
    const r = numberRecord(x, file, `miReference.${k}`);
    if (r.shuffled === undefined || r.self === undefined) throw new SeaError(`field "miReference.${k}" must have numbers "shuffled" and "self"`, { where: file });
    out[k] = { shuffled: r.shuffled, self: r.self };
  }
  return out;
}

function validateEpoch(v: unknown, file: string, i: number): EpochRecord {
  const where = `epochs[${i}]`;
  if (!isObject(v)) throw new SeaError(`field "${where}" must be an object`, { where: file });
  const rec: EpochRecord = {
    epoch: field(v, "epoch", file, isNumber, "a number", `${where}.`),
    seconds: v.seconds === undefined ? NaN : field(v, "seconds", file, isNumber, "a number", `${where}.`),
    loss: numberRecord(v.loss ?? {}, file, `${where}.loss`),
    valid: numberRecord(v.valid ?? {}, file, `${where}.valid`),
    test: numberRecord(v.test ?? {}, file, `${where}.test`),
  };
  if (v.mi !== undefined) rec.mi = numberRecord(v.mi, file, `${where}.mi`);
  if (v.miInterval !== undefined) rec.miInterval = intervalRecord(v.miInterval, file, `${where}.miInterval`);
  return rec;
}

function validateMetrics(v: unknown, file: string): RunMetrics {
  if (!isObject(v)) throw new SeaError("must hold a JSON object (RunMetrics)", { where: file });
  const dataset = field(v, "dataset", file, isObject, "an object {name, fingerprint}");
  const best = field(v, "best", file, isObject, "an object {valid, test}");
  const epochs = field(v, "epochs", file, isArray, "an array of epoch records").map((e, i) => validateEpoch(e, file, i));
  const out: RunMetrics = {
    // Absent in records written before backbones existed (recordedBackbone reads them as "sea").
    ...(v.backbone === undefined ? {} : { backbone: field(v, "backbone", file, isString, "a string") }),
    variant: field(v, "variant", file, isString, "a string"),
    seed: field(v, "seed", file, isNumber, "a number"),
    dataset: {
      name: field(dataset, "name", file, isString, "a string", "dataset."),
      fingerprint: typeof dataset.fingerprint === "string" ? dataset.fingerprint : "",
    },
    epochs,
    bestEpoch: field(v, "bestEpoch", file, isNumber, "a number"),
    best: { valid: numberRecord(best.valid ?? {}, file, "best.valid"), test: numberRecord(best.test ?? {}, file, "best.test") },
    stopReason: typeof v.stopReason === "string" ? v.stopReason : "",
  };
  if (v.recovery !== undefined) out.recovery = numberRecord(v.recovery, file, "recovery");
  if (v.miReference !== undefined) out.miReference = referenceRecord(v.miReference, file);
  return out;
}

function validateConfig(v: unknown, file: string): RunConfigRecord {
  if (!isObject(v)) throw new SeaError("must hold a JSON object (RunConfigRecord)", { where: file });
  const config = field(v, "config", file, isObject, "an object");
  const dataset = isObject(v.dataset) ? v.dataset : {};
  const backend = isObject(v.backend) ? v.backend : {};
  return {
    config,
    variant: field(v, "variant", file, isString, "a string"),
    seed: field(v, "seed", file, isNumber, "a number"),
    dataset: {
      name: typeof dataset.name === "string" ? dataset.name : "",
      dir: typeof dataset.dir === "string" ? dataset.dir : "",
      fingerprint: typeof dataset.fingerprint === "string" ? dataset.fingerprint : "",
      users: typeof dataset.users === "number" ? dataset.users : NaN,
      items: typeof dataset.items === "number" ? dataset.items : NaN,
    },
    backend: {
      name: typeof backend.name === "string" ? backend.name : "",
      threads: typeof backend.threads === "number" ? backend.threads : NaN,
      blas: typeof backend.blas === "string" ? backend.blas : "",
    },
    packageVersion: typeof v.packageVersion === "string" ? v.packageVersion : "",
    node: typeof v.node === "string" ? v.node : "",
    startedAt: typeof v.startedAt === "string" ? v.startedAt : "",
  };
}

function validatePerUser(v: unknown, file: string): PerUserMetrics {
  if (!isObject(v)) throw new SeaError("must hold a JSON object (PerUserMetrics)", { where: file });
  const users = field(v, "users", file, isArray, "an array of user ids");
  users.forEach((u, i) => {
    if (!Number.isInteger(u)) throw new SeaError(`field "users[${i}]" must be an integer user id (got ${JSON.stringify(u)})`, { where: file });
  });
  const valuesObj = field(v, "values", file, isObject, "an object metric → number[]");
  const values: Record<string, number[]> = {};
  for (const [k, arr] of Object.entries(valuesObj)) {
    if (!isArray(arr) || arr.length !== users.length) {
      throw new SeaError(`field "values.${k}" must be an array of ${users.length} numbers (one per user)`, { where: file });
    }
    values[k] = arr.map((x, i) => {
      if (typeof x !== "number") throw new SeaError(`field "values.${k}[${i}]" must be a number (got ${JSON.stringify(x)})`, { where: file });
      return x;
    });
  }
  return { users: users as number[], values };
}

// ---------------------------------------------------------------- helpers shared by the figure builders

/** Which metric to read from a run: a split and a name like "recall@20". */
export interface MetricRef {
  split: "valid" | "test";
  name: string;
}

export const DEFAULT_METRIC: MetricRef = { split: "test", name: "recall@20" };

/** "test.recall@20", "valid.ndcg@10" or a bare name (test split) → MetricRef. */
export function parseMetricRef(s: string): MetricRef {
  const dot = s.indexOf(".");
  if (dot < 0) return { split: "test", name: s };
  const split = s.slice(0, dot);
  if (split !== "valid" && split !== "test") throw new SeaError(`metric "${s}": split must be "valid" or "test"`);
  return { split, name: s.slice(dot + 1) };
}

/** "Recall@20", "NDCG@10", "Precision@20", "MAP@20": the metric's name as an axis title. */
export function metricLabel(name: string): string {
  const [base, k] = name.split("@");
  const pretty: Record<string, string> = { recall: "Recall", ndcg: "NDCG", precision: "Precision", map: "MAP" };
  const b = pretty[(base ?? "").toLowerCase()] ?? base ?? name;
  return k !== undefined ? `${b}@${k}` : b;
}

/** The run's metric at its best (validation) epoch; NaN when missing. */
export function bestMetric(run: RunResult, metric: MetricRef = DEFAULT_METRIC): number {
  const v = run.metrics.best[metric.split][metric.name];
  return v === undefined ? NaN : v;
}

/** Groups runs by variant, keys in kit order. */
export function groupByVariant(runs: readonly RunResult[]): Map<string, RunResult[]> {
  const groups = new Map<string, RunResult[]>();
  for (const v of sortVariants(runs.map((r) => r.metrics.variant))) groups.set(v, []);
  for (const r of runs) groups.get(r.metrics.variant)!.push(r);
  return groups;
}

export { meanStd } from "../analysis/descriptive";

/** A config value as a number (config.json `config[key]`), or undefined when absent / not numeric. */
export function configNumber(run: RunResult, key: string): number | undefined {
  const v = run.config.config[key];
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}
