/**
 * Experiment files: a declarative sweep (datasets × config sets × grid points × variants × seeds) in YAML or
 * JSON, read and validated up front. Every error is one SeaError naming the file and the field
 * (`experiments/x.yaml: grids[0].alpha[1]: …`), raised before anything is trained or written.
 *
 *   name: small-ablation              # required; names the SLURM job and the experiment's records
 *   description: …                    # optional
 *   output: runs/small/ablation       # required; relative paths are relative to where `sea` runs
 *   dataRoot: /data/mmrec             # optional folder holding the datasets named below (--data-root wins)
 *   datasets: [small, {path: clothing, set: {patience: 30}}]   # preset names, folders, or {path, set}
 *   backbones: [vbpr, freedom]        # optional: an axis over backbones (default: the config's backbone, sea)
 *   variants: [sea, no-club]          # required
 *   seeds: [1, 2]                     # required
 *   epochs: 8                         # optional, shorthand for set.epochs
 *   patience: 10                      # optional, shorthand for set.patience
 *   set: {batchSize: 1024}            # config values for every cell
 *   configSets: {base: {}, fast: {lr: 0.002}}   # optional named alternatives: one more axis
 *   grids: [{alpha: [0.003, 0.012]}, {tau: [0.1, 0.5]}]      # optional: cartesian within a grid, union across
 *   threadsPerCell: 1                 # BLAS/addon threads of every cell, whatever the executor
 *   slurm: {partition: cpu, time: "02:00:00", cpusPerTask: 2, mem: 4G, maxParallel: 20,
 *           extra: ["--account=abc"], setup: ["module load nodejs"]}
 *
 * Config values are layered, lowest first: the variant's, `set` (with epochs/patience), the dataset's `set`,
 * the config set's, the grid point's, then the seed.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parseDocument } from "yaml";
import { parseConfigEntry } from "../model/config";
import { VARIANTS, VARIANT_NAMES } from "../model/variants";
import { backboneNames } from "../model/backbones/registry";
import { SeaError } from "../util/errors";

/** Config key → value, each already checked and converted to its key's type. */
export type ConfigLayer = Readonly<Record<string, unknown>>;

/** A value a grid sweeps over (grid values name run folders, so no lists or maps). */
export type GridValue = number | string | boolean | null;

export interface DatasetEntry {
  /** As written: a preset name (tiny, small, baby-shape), a folder under the data root, or a path. */
  readonly path: string;
  /** Config values for this dataset's cells (e.g. Clothing's patience of 30). */
  readonly set: ConfigLayer;
}

export interface NamedConfigSet {
  readonly name: string;
  readonly set: ConfigLayer;
}

/** One grid: config keys in the order written, each with its values; its points are their cartesian product. */
export type Grid = readonly { readonly key: string; readonly values: readonly GridValue[] }[];

export interface SlurmSettings {
  readonly partition: string | null;
  /** SLURM time limit per array task, e.g. "02:00:00" or "1-00:00:00". */
  readonly time: string | null;
  /** CPUs per array task; null = threadsPerCell. */
  readonly cpusPerTask: number | null;
  /** Memory per task, e.g. "4G". */
  readonly mem: string | null;
  /** At most this many array tasks at once (sbatch's --array=…%N); null = no limit. */
  readonly maxParallel: number | null;
  /** Further sbatch options, one per #SBATCH line, e.g. "--account=abc". */
  readonly extra: readonly string[];
  /** Shell lines the job script runs before training, e.g. "module load nodejs". */
  readonly setup: readonly string[];
}

export interface ExperimentSpec {
  readonly name: string;
  readonly description: string;
  /** As written (resolved against the working directory when run). */
  readonly output: string;
  readonly dataRoot: string | null;
  readonly datasets: readonly DatasetEntry[];
  /** Backbones crossed with the variants ([]: no backbone axis, the config's backbone). */
  readonly backbones: readonly string[];
  readonly variants: readonly string[];
  readonly seeds: readonly number[];
  /** Config values for every cell (epochs and patience included). */
  readonly set: ConfigLayer;
  readonly configSets: readonly NamedConfigSet[];
  readonly grids: readonly Grid[];
  /**
   * BLAS and addon threads of every cell. Part of the definition: OpenBLAS's sgemm and the addon's CLUB and
   * Solosim reductions give different last bits at different thread counts, so a cell's result is the same
   * under every executor only when its thread count is fixed.
   */
  readonly threadsPerCell: number;
  readonly slurm: SlurmSettings;
}

const TOP_LEVEL_FIELDS = [
  "name",
  "description",
  "output",
  "dataRoot",
  "datasets",
  "backbones",
  "variants",
  "seeds",
  "epochs",
  "patience",
  "set",
  "configSets",
  "grids",
  "threadsPerCell",
  "slurm",
] as const;
const SLURM_FIELDS = ["partition", "time", "cpusPerTask", "mem", "maxParallel", "extra", "setup"] as const;

/** Names that become folder names, job names or file names. */
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** SLURM's time formats: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S. */
const SLURM_TIME = /^(\d+-)?\d+(:\d+){0,2}$/;
const SLURM_MEM = /^\d+[KMGT]?$/;

/** Reads and validates an experiment file (.yaml, .yml or .json). */
export function readExperimentFile(file: string): ExperimentSpec {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new SeaError(`cannot read experiment file (${(e as Error).message})`, { where: file, cause: e });
  }
  return validateExperiment(parseExperimentText(text, file), file);
}

/** YAML or JSON text → plain data; syntax errors name the file, line and column. */
export function parseExperimentText(text: string, file: string): unknown {
  const ext = path.extname(file).toLowerCase();
  if (ext === ".json") {
    try {
      return JSON.parse(text) as unknown;
    } catch (e) {
      throw new SeaError(`not valid JSON (${(e as Error).message})`, { where: file, cause: e });
    }
  }
  if (ext !== ".yaml" && ext !== ".yml") throw new SeaError("expected an experiment file ending in .yaml, .yml or .json", { where: file });
  const doc = parseDocument(text);
  const error = doc.errors[0];
  if (error) {
    const at = error.linePos?.[0];
    const where = at ? `${file}:${at.line}:${at.col}` : file;
    // The parser's message repeats the position and quotes the line after it: the location goes in `where`.
    throw new SeaError(`not valid YAML (${error.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "")})`, { where });
  }
  return doc.toJS() as unknown;
}

/** Checks plain data (parsed YAML/JSON) against the experiment schema; `file` names the source in errors. */
export function validateExperiment(raw: unknown, file: string): ExperimentSpec {
  const v = new FieldReader(file);
  const top = v.object(raw, "");
  v.onlyKnown(top, TOP_LEVEL_FIELDS, "");
  const name = v.safeName(v.required(top, "name", ""), "name");
  const description = top.description === undefined ? "" : v.string(top.description, "description");
  const output = v.nonEmptyString(v.required(top, "output", ""), "output");
  const dataRoot = top.dataRoot === undefined || top.dataRoot === null ? null : v.nonEmptyString(top.dataRoot, "dataRoot");
  const datasets = v.nonEmptyList(v.required(top, "datasets", ""), "datasets").map((d, i) => v.datasetEntry(d, `datasets[${i}]`));
  const variants = v.nonEmptyList(v.required(top, "variants", ""), "variants").map((x, i) => v.variant(x, `variants[${i}]`));
  const seeds = v.nonEmptyList(v.required(top, "seeds", ""), "seeds").map((x, i) => v.integer(x, `seeds[${i}]`, 0));
  const backbones = top.backbones === undefined ? [] : v.nonEmptyList(top.backbones, "backbones").map((x, i) => v.backbone(x, `backbones[${i}]`));
  v.noDuplicates(backbones, "backbones");
  v.noDuplicates(variants, "variants");
  v.noDuplicates(seeds.map(String), "seeds");
  v.noDuplicates(datasets.map((d) => datasetLabel(d)), "datasets", "two datasets with the same folder name");

  const set: Record<string, unknown> = { ...v.configLayer(top.set, "set") };
  for (const key of ["epochs", "patience"] as const) {
    if (top[key] === undefined) continue;
    if (key in set) throw new SeaError(`given twice: as ${key} and as set.${key}; keep one`, { where: `${file}: ${key}` });
    set[key] = v.configValue(key, top[key], key);
  }
  const configSets = top.configSets === undefined ? [] : v.configSets(top.configSets, "configSets");
  const grids = top.grids === undefined ? [] : v.nonEmptyList(top.grids, "grids").map((g, i) => v.grid(g, `grids[${i}]`));
  const threadsPerCell = top.threadsPerCell === undefined ? 1 : v.integer(top.threadsPerCell, "threadsPerCell", 1);
  const slurm = v.slurm(top.slurm, "slurm");
  return { name, description, output, dataRoot, datasets, backbones, variants, seeds, set, configSets, grids, threadsPerCell, slurm };
}

/** The name a dataset goes by in folders and tables: the preset name or the folder's base name. */
export function datasetLabel(entry: DatasetEntry): string {
  return path.basename(path.resolve(entry.path));
}

/** Reads fields of parsed data, each error naming `file: field.path`. */
class FieldReader {
  constructor(private readonly file: string) {}

  fail(field: string, message: string): never {
    throw new SeaError(message, { where: field === "" ? this.file : `${this.file}: ${field}` });
  }

  object(value: unknown, field: string): Record<string, unknown> {
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      this.fail(field, field === "" ? "expected a mapping of experiment fields (name, output, datasets, variants, seeds, …)" : `expected a mapping, got ${describe(value)}`);
    }
    return value as Record<string, unknown>;
  }

  onlyKnown(obj: Record<string, unknown>, known: readonly string[], field: string): void {
    for (const key of Object.keys(obj)) {
      if (!known.includes(key)) this.fail(join(field, key), `unknown field (known: ${known.join(", ")})`);
    }
  }

  required(obj: Record<string, unknown>, key: string, field: string): unknown {
    if (obj[key] === undefined || obj[key] === null) this.fail(join(field, key), "required field is missing");
    return obj[key];
  }

  string(value: unknown, field: string): string {
    if (typeof value !== "string") this.fail(field, `expected text, got ${describe(value)}`);
    return value as string;
  }

  nonEmptyString(value: unknown, field: string): string {
    const s = this.string(value, field);
    if (s.trim() === "") this.fail(field, "must not be empty");
    return s;
  }

  safeName(value: unknown, field: string): string {
    const s = this.string(value, field);
    if (!SAFE_NAME.test(s)) this.fail(field, `"${s}" must be letters, digits, '.', '_' or '-' (it names folders and jobs)`);
    return s;
  }

  oneLine(value: unknown, field: string): string {
    const s = this.nonEmptyString(value, field);
    if (/[\r\n]/.test(s)) this.fail(field, "must be a single line");
    return s;
  }

  integer(value: unknown, field: string, min: number): number {
    if (typeof value !== "number" || !Number.isInteger(value) || value < min) this.fail(field, `expected an integer ≥ ${min}, got ${describe(value)}`);
    return value as number;
  }

  nonEmptyList(value: unknown, field: string): unknown[] {
    if (!Array.isArray(value)) this.fail(field, `expected a list, got ${describe(value)}`);
    if ((value as unknown[]).length === 0) this.fail(field, "must list at least one value");
    return value as unknown[];
  }

  noDuplicates(values: readonly string[], field: string, what = "duplicate value"): void {
    const seen = new Set<string>();
    for (const [i, x] of values.entries()) {
      if (seen.has(x)) this.fail(`${field}[${i}]`, `${what} "${x}"`);
      seen.add(x);
    }
  }

  backbone(value: unknown, field: string): string {
    const s = this.string(value, field);
    if (!backboneNames().includes(s)) this.fail(field, `unknown backbone "${s}" (known: ${backboneNames().join(", ")})`);
    return s;
  }

  variant(value: unknown, field: string): string {
    const s = this.string(value, field);
    if (!VARIANTS[s]) this.fail(field, `unknown variant "${s}" (known: ${VARIANT_NAMES.join(", ")})`);
    return s;
  }

  configValue(key: string, value: unknown, field: string): unknown {
    if (key === "seed") this.fail(field, "the seed is an axis of the experiment: list seeds under `seeds`");
    return parseConfigEntry(key, value, `${this.file}: ${field}`);
  }

  configLayer(value: unknown, field: string): ConfigLayer {
    if (value === undefined || value === null) return {};
    const obj = this.object(value, field);
    return Object.fromEntries(Object.entries(obj).map(([k, x]) => [k, this.configValue(k, x, join(field, k))]));
  }

  datasetEntry(value: unknown, field: string): DatasetEntry {
    if (typeof value === "string") return { path: this.nonEmptyString(value, field), set: {} };
    const obj = this.object(value, field);
    this.onlyKnown(obj, ["path", "set"], field);
    return { path: this.nonEmptyString(this.required(obj, "path", field), join(field, "path")), set: this.configLayer(obj.set, join(field, "set")) };
  }

  configSets(value: unknown, field: string): NamedConfigSet[] {
    const obj = this.object(value, field);
    const names = Object.keys(obj);
    if (names.length === 0) this.fail(field, "must name at least one config set");
    return names.map((name) => ({ name: this.safeName(name, join(field, name)), set: this.configLayer(obj[name], join(field, name)) }));
  }

  grid(value: unknown, field: string): Grid {
    const obj = this.object(value, field);
    const keys = Object.keys(obj);
    if (keys.length === 0) this.fail(field, "a grid needs at least one config key with a list of values");
    return keys.map((key) => {
      const values = this.nonEmptyList(obj[key], join(field, key)).map((x, i) => {
        const at = `${join(field, key)}[${i}]`;
        if (x !== null && typeof x === "object") this.fail(at, "grid values are single numbers, words or true/false");
        const parsed = this.configValue(key, x, at);
        if (typeof parsed === "string" && !SAFE_NAME.test(parsed)) this.fail(at, `"${parsed}" must be letters, digits, '.', '_' or '-' (it names folders)`);
        return parsed as GridValue;
      });
      this.noDuplicates(values.map(String), join(field, key));
      return { key, values };
    });
  }

  slurm(value: unknown, field: string): SlurmSettings {
    const obj = value === undefined || value === null ? {} : this.object(value, field);
    this.onlyKnown(obj, SLURM_FIELDS, field);
    const text = (key: string, pattern: RegExp, hint: string): string | null => {
      if (obj[key] === undefined || obj[key] === null) return null;
      const s = typeof obj[key] === "number" ? String(obj[key]) : this.string(obj[key], join(field, key));
      if (!pattern.test(s)) this.fail(join(field, key), `"${s}" ${hint}`);
      return s;
    };
    const lines = (key: string): string[] =>
      obj[key] === undefined || obj[key] === null ? [] : this.nonEmptyList(obj[key], join(field, key)).map((x, i) => this.oneLine(x, `${join(field, key)}[${i}]`));
    return {
      partition: text("partition", /^[A-Za-z0-9_.,-]+$/, "is not a partition name"),
      time: text("time", SLURM_TIME, "is not a SLURM time limit (minutes, H:MM:SS or D-HH:MM:SS)"),
      cpusPerTask: obj.cpusPerTask === undefined || obj.cpusPerTask === null ? null : this.integer(obj.cpusPerTask, join(field, "cpusPerTask"), 1),
      mem: text("mem", SLURM_MEM, "is not a SLURM memory size (e.g. 4G, 8000M)"),
      maxParallel: obj.maxParallel === undefined || obj.maxParallel === null ? null : this.integer(obj.maxParallel, join(field, "maxParallel"), 1),
      extra: lines("extra").map((l, i) => normaliseSbatchLine(l, (m) => this.fail(`${join(field, "extra")}[${i}]`, m))),
      setup: lines("setup"),
    };
  }
}

/** "#SBATCH --account=x", "--account=x" → "--account=x"; anything that is not an option is refused. */
export function normaliseSbatchLine(line: string, fail: (message: string) => never): string {
  const option = line.replace(/^#SBATCH\s+/, "").trim();
  if (!option.startsWith("-")) fail(`"${line}" is not an sbatch option (e.g. --account=abc)`);
  return option;
}

function join(field: string, key: string): string {
  return field === "" ? key : `${field}.${key}`;
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return "nothing";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return `${typeof value === "string" ? "text " : ""}${JSON.stringify(value)}`;
}
