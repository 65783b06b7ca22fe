import * as fs from "node:fs";
import * as path from "node:path";
import type { Dataset } from "../data/types";
import { parseOverride, upgradeRecordedConfig, type SeaConfig } from "../model/config";
import { resolveVariantConfig } from "../model/variants";
import { SeaError } from "../util/errors";
import { writeJsonAtomic } from "../util/atomicWrite";
import { stableJson } from "../util/stableJson";
import type { RunConfigRecord, RunProvenance } from "./runRecord";
import type { BackendInfo } from "../backend/select";

/**
 * Where a config comes from, lowest precedence first: the backbone's defaults (src/model/backbones/), the
 * separation variant, JSON file, --set pairs, explicit flags.
 */
export interface ConfigSources {
  readonly variant: string;
  readonly configFile?: string;
  readonly sets?: readonly string[];
  readonly explicit?: Partial<SeaConfig>;
}

export function buildRunConfig(sources: ConfigSources): SeaConfig {
  const layers: Partial<Record<string, unknown>>[] = [];
  if (sources.configFile) layers.push(readConfigFile(sources.configFile));
  for (const s of sources.sets ?? []) layers.push(parseOverride(s));
  if (sources.explicit) layers.push(Object.fromEntries(Object.entries(sources.explicit).filter(([, v]) => v !== undefined)));
  return resolveVariantConfig(sources.variant, layers);
}

/** A JSON file of config values (`--config`): an object, read and parsed; errors name the file. */
export function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new SeaError(`cannot read config file (${(e as Error).message})`, { where: file });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new SeaError(`not valid JSON (${(e as Error).message})`, { where: file });
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new SeaError("expected a JSON object of config keys", { where: file });
  return parsed as Record<string, unknown>;
}

export function packageVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8")) as { version: string };
  return pkg.version;
}

/**
 * Records config, seed, backend, package version and data fingerprint next to the run's results (and, for a cell
 * of an experiment, which experiment definition and cell it is).
 */
export function writeRunConfig(
  outDir: string,
  config: SeaConfig,
  variant: string,
  dataset: Dataset,
  backend: BackendInfo,
  experiment?: RunProvenance,
): RunConfigRecord {
  const record: RunConfigRecord = {
    config: { ...config },
    variant,
    seed: config.seed,
    dataset: { name: dataset.name, dir: path.resolve(dataset.dir), fingerprint: dataset.fingerprint, users: dataset.nUsers, items: dataset.nItems },
    backend: { name: backend.name, threads: backend.threads, blas: backend.blas },
    packageVersion: packageVersion(),
    node: process.version,
    startedAt: new Date().toISOString(),
    ...(experiment ? { experiment } : {}),
  };
  writeJsonAtomic(path.join(outDir, "config.json"), record);
  return record;
}

/** The resolved config of an existing run folder must match before it is resumed or reused. */
export function assertSameConfig(outDir: string, config: SeaConfig, fingerprint: string): void {
  const file = path.join(outDir, "config.json");
  if (!fs.existsSync(file)) return;
  const previous = JSON.parse(fs.readFileSync(file, "utf8")) as RunConfigRecord;
  // `epochs` may grow between calls (extending a run); everything else must be identical. Keys are compared
  // by name, so the order they were written in does not matter; records of older versions are upgraded first.
  const a = stableJson({ ...upgradeRecordedConfig(previous.config), epochs: 0 });
  const b = stableJson({ ...config, epochs: 0 });
  if (a !== b || previous.dataset.fingerprint !== fingerprint) {
    throw new SeaError(
      "this run folder holds a run with a different config or dataset; choose another --out or delete it",
      { where: file },
    );
  }
}

