import { SeaError } from "../util/errors";

/**
 * Every constant of the SEA reference (docs/method.md §1) as a config value. Defaults are the reference's
 * (Baby log); `sea train --set key=value` overrides any of them, and unknown keys are rejected.
 */
export interface SeaConfig {
  /** The backbone, by registry name (src/model/backbones/registry.ts): sea, lightgcn, vbpr, freedom. */
  backbone: string;
  /** Width of user/item embeddings per modality in the graph encoder. */
  embeddingDim: number;
  /** Hidden width of the graph encoder's item MLP (item embedding → hidden → embeddingDim). */
  encoderHidden: number;
  /** Negative slope of the encoder's LeakyReLU (PyTorch's default). */
  leakySlope: number;
  /** Propagation layers over the user–item graph (output = x + h1 + … + hL). */
  graphLayers: number;
  /** Fraction of each modality embedding that is "generic" (the rest is "unique"); 0.5 = halves. */
  genericFraction: number;
  /** Solosim projection head widths (Linear-BN-ReLU-Linear-BN-ReLU-Linear). */
  projHidden: number;
  projOut: number;
  /** Solosim temperature (the logged runs used 0.2). */
  tau: number;
  /** Weight of the Solosim alignment loss. */
  alpha: number;
  /** Width of the four linear maps that feed CLUB (generic/unique × modality). */
  clubDim: number;
  /** Hidden width of the shared CLUB network q(y|x). */
  clubHidden: number;
  /** Weight of the distance term (CLUB bound, or its replacement in a variant). */
  clubWeight: number;
  /** Adam steps of the CLUB network per training batch. */
  clubSteps: number;
  /** Learning rate of the CLUB network; null = the model's lr. */
  clubLr: number | null;
  /** Which distance term separates generic from unique: CLUB, an orthogonality penalty, −L2, or none. */
  distance: "club" | "orthogonal" | "negL2" | "none";
  /** Orthogonality penalty form (the `orthogonal` variant). */
  orthogonalMode: "frobenius" | "cosine";
  /** How parts are formed: split each representation (SEA) or MGCN-style subtraction of a shared part. */
  partConstruction: "split" | "subtraction";
  /** k of the item–item cosine kNN graph. */
  knnK: number;
  /** Mixing weights of the per-modality item–item graphs, by modality name (missing → equal share of the rest). */
  itemGraphWeights: Record<string, number>;
  /** Adam learning rate. */
  lr: number;
  batchSize: number;
  epochs: number;
  /** Epochs without improving the stopping metric before early stop (30 for Clothing). */
  patience: number;
  stopMetric: string;
  /** Cut-offs for evaluation. */
  ks: number[];
  /** Users per evaluation batch. */
  evalBatchSize: number;
  /** Estimate MI on frozen embeddings every this many epochs (0 = never). */
  miEvery: number;
  /** Training steps of each fresh MI estimator. */
  miSteps: number;
  /** Parts wider than this are mapped by a fixed seeded random projection to this width before MI estimation. */
  miDim: number;
  /** Bootstrap resamples (over items) behind each MI estimate's 95% interval. */
  miBootstrap: number;
  /** Neighbour order k of the KSG estimator. */
  miKsgK: number;
  /** KSG reads this many top canonical directions of each distance-space part (fitted on other items). */
  miKsgDim: number;
  /** Steps fitting the distance maps on frozen parts for variants that have none (the per-epoch CLUB bound). */
  miMapSteps: number;
  /** Adam learning rate of that fit (and of its q network). */
  miMapLr: number;
  /** Compute the square item layer's consumers by reassociation (same function, far fewer FLOPs). */
  reassociate: boolean;
  /** "fast": fused/native kernels where they apply; "reference": only the readable tfjs compositions. */
  implementation: "reference" | "fast";
  seed: number;

  // ---- Backbones of the plug-in study (src/model/backbones/, docs/method.md §13.5). MMRec's model yamls give
  // search grids; the default is one point of the grid, named in each comment. Embedding widths reuse
  // `embeddingDim` (MMRec's embedding_size 64; FREEDOM's feat_embed_dim must equal it, its modality BPR
  // terms score users against the projected features). MMRec's learning rate (1e-3) is each definition's.
  /** LightGCN: propagation layers over the user–item graph (MMRec n_layers, grid 1–4; 3 as the LightGCN paper). */
  lightgcnLayers: number;
  /** LightGCN: weight of EmbLoss on the batch's layer-0 embeddings (MMRec reg_weight, grid 1e-2…1e-6; 1e-4). */
  lightgcnRegWeight: number;
  /** VBPR: weight of EmbLoss on the batch's scoring rows (MMRec reg_weight, grid 2.0…1e-5; 1e-4). */
  vbprRegWeight: number;
  /** FREEDOM: propagation layers over the (pruned) user–item graph, layer mean (MMRec n_ui_layers 2). */
  freedomUiLayers: number;
  /** FREEDOM: propagations of the item ID embeddings over the frozen item–item graph (MMRec n_mm_layers 1). */
  freedomMmLayers: number;
  /** FREEDOM: fraction of training edges pruned each epoch by degree-sensitive sampling (MMRec dropout, grid 0.8/0.9; 0.8). */
  freedomDropout: number;
  /** FREEDOM: weight of the per-modality BPR terms on projected features (MMRec reg_weight, grid 0…1e-3; 1e-4). */
  freedomRegWeight: number;
}

export const DEFAULT_CONFIG: Readonly<SeaConfig> = Object.freeze({
  backbone: "sea",
  embeddingDim: 64,
  encoderHidden: 256,
  leakySlope: 0.01,
  graphLayers: 2,
  genericFraction: 0.5,
  projHidden: 64,
  projOut: 32,
  tau: 0.2,
  alpha: 0.012,
  clubDim: 32,
  clubHidden: 16,
  clubWeight: 0.006,
  clubSteps: 50,
  clubLr: null,
  distance: "club",
  orthogonalMode: "frobenius",
  partConstruction: "split",
  knnK: 10,
  itemGraphWeights: { image: 0.1, text: 0.9 },
  lr: 1e-4,
  batchSize: 2048,
  epochs: 1000,
  patience: 20,
  stopMetric: "recall@20",
  ks: [10, 20],
  evalBatchSize: 1024,
  miEvery: 1,
  miSteps: 300,
  miDim: 32,
  miBootstrap: 200,
  miKsgK: 3,
  miKsgDim: 4,
  miMapSteps: 200,
  miMapLr: 1e-2,
  reassociate: true,
  implementation: "fast",
  seed: 999,
  // Backbones of the plug-in study (see the interface).
  lightgcnLayers: 3,
  lightgcnRegWeight: 1e-4,
  vbprRegWeight: 1e-4,
  freedomUiLayers: 2,
  freedomMmLayers: 1,
  freedomDropout: 0.8,
  freedomRegWeight: 1e-4,
}) as SeaConfig;

type Kind = "number" | "integer" | "boolean" | "string" | "numberList" | "weights" | "nullableNumber";

const KINDS: Record<keyof SeaConfig, Kind> = {
  backbone: "string",
  embeddingDim: "integer",
  encoderHidden: "integer",
  leakySlope: "number",
  graphLayers: "integer",
  genericFraction: "number",
  projHidden: "integer",
  projOut: "integer",
  tau: "number",
  alpha: "number",
  clubDim: "integer",
  clubHidden: "integer",
  clubWeight: "number",
  clubSteps: "integer",
  clubLr: "nullableNumber",
  distance: "string",
  orthogonalMode: "string",
  partConstruction: "string",
  knnK: "integer",
  itemGraphWeights: "weights",
  lr: "number",
  batchSize: "integer",
  epochs: "integer",
  patience: "integer",
  stopMetric: "string",
  ks: "numberList",
  evalBatchSize: "integer",
  miEvery: "integer",
  miSteps: "integer",
  miDim: "integer",
  miBootstrap: "integer",
  miKsgK: "integer",
  miKsgDim: "integer",
  miMapSteps: "integer",
  miMapLr: "number",
  reassociate: "boolean",
  implementation: "string",
  seed: "integer",
  // Backbones of the plug-in study.
  lightgcnLayers: "integer",
  lightgcnRegWeight: "number",
  vbprRegWeight: "number",
  freedomUiLayers: "integer",
  freedomMmLayers: "integer",
  freedomDropout: "number",
  freedomRegWeight: "number",
};

const CHOICES: Partial<Record<keyof SeaConfig, readonly string[]>> = {
  distance: ["club", "orthogonal", "negL2", "none"],
  orthogonalMode: ["frobenius", "cosine"],
  partConstruction: ["split", "subtraction"],
  implementation: ["reference", "fast"],
};

/**
 * The config's sections (docs/method.md §13): what the backbone is, what separation is plugged over it, how it
 * trains, and what is measured. Keys stay unique across sections, so `--set key=value` needs no section; a
 * config file may group keys by section (`{ "separation": { "alpha": 0.01 } }`) or list them flat.
 */
export const CONFIG_SECTIONS = {
  backbone: [
    "backbone",
    "embeddingDim",
    "encoderHidden",
    "leakySlope",
    "graphLayers",
    "knnK",
    "itemGraphWeights",
    "lightgcnLayers",
    "lightgcnRegWeight",
    "vbprRegWeight",
    "freedomUiLayers",
    "freedomMmLayers",
    "freedomDropout",
    "freedomRegWeight",
  ],
  separation: ["partConstruction", "genericFraction", "projHidden", "projOut", "tau", "alpha", "distance", "orthogonalMode", "clubDim", "clubHidden", "clubWeight", "clubSteps", "clubLr"],
  training: ["lr", "batchSize", "epochs", "patience", "stopMetric", "ks", "evalBatchSize", "reassociate", "implementation", "seed"],
  analysis: ["miEvery", "miSteps", "miDim", "miBootstrap", "miKsgK", "miKsgDim", "miMapSteps", "miMapLr"],
} as const satisfies Record<string, readonly (keyof SeaConfig)[]>;

export type ConfigSection = keyof typeof CONFIG_SECTIONS;

/** The section a key belongs to. */
export function configSection(key: keyof SeaConfig): ConfigSection {
  for (const [section, keys] of Object.entries(CONFIG_SECTIONS)) if ((keys as readonly string[]).includes(key)) return section as ConfigSection;
  throw new Error(`config key ${key} is in no section`);
}

function isSection(name: string): name is ConfigSection {
  return Object.prototype.hasOwnProperty.call(CONFIG_SECTIONS, name);
}

export function isConfigKey(key: string): key is keyof SeaConfig {
  return Object.prototype.hasOwnProperty.call(KINDS, key);
}

/** One message for an unknown key: the closest known key and its section, and every section's keys. */
function unknownKeyError(key: string, where: string): SeaError {
  const known = Object.keys(KINDS) as (keyof SeaConfig)[];
  const scored = known.map((k) => ({ k, d: editDistance(key.toLowerCase(), k.toLowerCase()) })).sort((a, b) => a.d - b.d);
  const best = scored[0]!;
  const hint = best.d <= Math.max(2, Math.floor(key.length / 3)) ? ` — did you mean "${best.k}" (section ${configSection(best.k)})?` : "";
  const lists = Object.entries(CONFIG_SECTIONS).map(([section, keys]) => `${section}: ${keys.join(", ")}`).join("; ");
  return new SeaError(`unknown config key "${key}"${hint} (known keys by section — ${lists})`, { where });
}

/** Levenshtein distance (short strings: config keys). */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = row;
  }
  return previous[b.length]!;
}

/** Parses one `key=value` override (from `--set`); `where` names its origin in errors. */
export function parseOverride(text: string, where = "--set"): Partial<SeaConfig> {
  const eq = text.indexOf("=");
  if (eq <= 0) throw new SeaError(`expected key=value, got "${text}"`, { where });
  const key = text.slice(0, eq).trim();
  const raw = text.slice(eq + 1).trim();
  if (!isConfigKey(key)) throw unknownKeyError(key, where);
  return { [key]: parseValue(key, raw, where) } as Partial<SeaConfig>;
}
function parseValue(key: keyof SeaConfig, raw: string, where: string): unknown {
  const bad = (what: string): never => {
    throw new SeaError(`${key} must be ${what}, got "${raw}"`, { where });
  };
  switch (KINDS[key]) {
    case "integer": {
      const v = Number(raw);
      return Number.isInteger(v) ? v : bad("an integer");
    }
    case "number": {
      const v = Number(raw);
      return raw !== "" && Number.isFinite(v) ? v : bad("a finite number");
    }
    case "nullableNumber": {
      if (raw === "null") return null;
      const v = Number(raw);
      return raw !== "" && Number.isFinite(v) ? v : bad("a finite number or null");
    }
    case "boolean":
      return raw === "true" ? true : raw === "false" ? false : bad("true or false");
    case "string": {
      const choices = CHOICES[key];
      if (choices && !choices.includes(raw)) bad(`one of ${choices.join(", ")}`);
      return raw;
    }
    case "numberList": {
      const parts = raw.split(",").map((s) => Number(s.trim()));
      return parts.length > 0 && parts.every((v) => Number.isInteger(v) && v > 0) ? parts : bad("a comma-separated list of positive integers");
    }
    case "weights": {
      // image:0.1,text:0.9
      const out: Record<string, number> = {};
      for (const part of raw.split(",")) {
        const [name, value] = part.split(":");
        const v = Number(value);
        if (!name || !Number.isFinite(v) || v < 0) bad("name:weight pairs, e.g. image:0.1,text:0.9");
        out[name!.trim()] = v;
      }
      return out;
    }
  }
}

/**
 * One config value as it arrives from a JSON/YAML file (a number, string, list or name → weight map), checked
 * and converted to its key's type, as `resolveConfig` would store it; `where` names the field in errors.
 * Unknown keys are an error too.
 */
export function parseConfigEntry(key: string, value: unknown, where: string): unknown {
  if (!isConfigKey(key)) throw unknownKeyError(key, where);
  return parseValue(key, configValueText(value), where);
}

/**
 * A config object as read from a file, with keys grouped by section or flat, as flat key → value. A key inside
 * a section it does not belong to is an error naming its section; `where` names the file.
 */
export function flattenConfigSections(raw: Record<string, unknown>, where = "config"): Record<string, unknown> {
  const flat: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (isSection(name) && value !== null && typeof value === "object" && !Array.isArray(value)) {
      for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
        if (!isConfigKey(key)) throw unknownKeyError(key, `${where}: section ${name}`);
        const home = configSection(key);
        if (home !== name) throw new SeaError(`config key "${key}" belongs to section ${home}, not ${name}`, { where: `${where}: section ${name}` });
        flat[key] = inner;
      }
    } else {
      flat[name] = value;
    }
  }
  return flat;
}

/** The `--set` text form of a value read from JSON: lists joined by commas, maps as name:weight pairs. */
function configValueText(value: unknown): string {
  return Array.isArray(value)
    ? value.join(",")
    : value !== null && typeof value === "object"
      ? Object.entries(value as Record<string, number>).map(([k, v]) => `${k}:${v}`).join(",")
      : String(value);
}

/** Merges overrides (from a JSON file or --set) into the defaults, checking every key and value. */
export function resolveConfig(...overrides: Partial<Record<string, unknown>>[]): SeaConfig {
  const config: SeaConfig = { ...DEFAULT_CONFIG, itemGraphWeights: { ...DEFAULT_CONFIG.itemGraphWeights }, ks: [...DEFAULT_CONFIG.ks] };
  for (const o of overrides) {
    for (const [key, value] of Object.entries(flattenConfigSections(o as Record<string, unknown>))) {
      if (!isConfigKey(key)) throw unknownKeyError(key, "config");
      Object.assign(config, { [key]: parseValue(key, configValueText(value), `config.${key}`) });
    }
  }
  validateConfig(config);
  return config;
}

function validateConfig(c: SeaConfig): void {
  const positive: (keyof SeaConfig)[] = ["embeddingDim", "encoderHidden", "projHidden", "projOut", "clubDim", "clubHidden", "knnK", "batchSize", "evalBatchSize", "tau", "lr", "miDim", "miBootstrap", "miKsgK", "miKsgDim", "miMapLr"];
  for (const key of positive) {
    if (!((c[key] as number) > 0)) throw new SeaError(`${key} must be > 0 (got ${String(c[key])})`, { where: `config.${key}` });
  }
  if (!(c.genericFraction > 0 && c.genericFraction < 1)) throw new SeaError("genericFraction must be in (0, 1)", { where: "config.genericFraction" });
  if (c.clubHidden < 2) throw new SeaError("clubHidden must be ≥ 2 (the nets use clubHidden/2 units)", { where: "config.clubHidden" });
  if (c.graphLayers < 0 || c.epochs < 0 || c.patience < 0 || c.clubSteps < 0 || c.miEvery < 0 || c.miSteps < 0 || c.miMapSteps < 0) {
    throw new SeaError("graphLayers, epochs, patience, clubSteps, miEvery, miSteps and miMapSteps must be ≥ 0", { where: "config" });
  }
  if (!/^(recall|ndcg|precision|map)@\d+$/.test(c.stopMetric) || !c.ks.includes(Number(c.stopMetric.split("@")[1]))) {
    throw new SeaError(`stopMetric "${c.stopMetric}" must be recall|ndcg|precision|map@K with K in ks (${c.ks.join(",")})`, { where: "config.stopMetric" });
  }
  validateBackboneConfig(c);
}

/** The backbone keys: layer counts and weights ≥ 0, the pruned fraction in [0, 1). */
function validateBackboneConfig(c: SeaConfig): void {
  const nonNegative: (keyof SeaConfig)[] = ["lightgcnLayers", "lightgcnRegWeight", "vbprRegWeight", "freedomUiLayers", "freedomMmLayers", "freedomRegWeight"];
  for (const key of nonNegative) {
    if (!((c[key] as number) >= 0)) throw new SeaError(`${key} must be ≥ 0 (got ${String(c[key])})`, { where: `config.${key}` });
  }
  if (!(c.freedomDropout >= 0 && c.freedomDropout < 1)) {
    throw new SeaError(`freedomDropout must be in [0, 1) (got ${c.freedomDropout})`, { where: "config.freedomDropout" });
  }
}

/**
 * A config as recorded by an earlier version of the kit, in today's keys: `separation` (split|subtraction) is now
 * `partConstruction`, and a key added since takes its default, which is what those runs had (the backbone "sea",
 * the fast implementation, other backbones' constants they never read). Lets a run folder written before them be
 * resumed, reused and read by figures.
 */
export function upgradeRecordedConfig(recorded: Record<string, unknown>): Record<string, unknown> {
  const { separation, ...rest } = recorded;
  return {
    ...DEFAULT_CONFIG,
    ...(separation === "split" || separation === "subtraction" ? { partConstruction: separation } : {}),
    ...rest,
  };
}
