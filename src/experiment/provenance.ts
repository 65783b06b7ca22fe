/**
 * Provenance: which experiment definition a run belongs to. The fingerprint covers what decides the cells and
 * their results — datasets (as written, with their config values), variants, seeds, config values, config
 * sets, grids and the threads per cell — and nothing about where or how they run (output folder, data root,
 * SLURM settings, name, description), so moving an experiment or changing its partition keeps its runs.
 * Each run's config.json records the fingerprint and its cell; `sea experiment collect` refuses to mix runs of
 * different definitions without --force.
 */
import { Fingerprint } from "../util/fingerprint";
import { stableJson } from "../util/stableJson";
export { stableJson };
import type { RunProvenance } from "../train/runRecord";
import type { ExperimentSpec } from "./spec";

/** What config.json's `experiment` field holds. */
export type CellProvenance = RunProvenance;

/** Version of what the fingerprint covers; bump it when that changes. */
const DEFINITION_FORMAT = 1;

export function experimentFingerprint(spec: ExperimentSpec): string {
  const definition = {
    format: DEFINITION_FORMAT,
    datasets: spec.datasets.map((d) => ({ path: d.path, set: d.set })),
    // Listed only when given, so definitions written before backbones existed keep their fingerprint.
    ...(spec.backbones.length > 0 ? { backbones: spec.backbones } : {}),
    variants: spec.variants,
    seeds: spec.seeds,
    set: spec.set,
    configSets: spec.configSets,
    grids: spec.grids,
    threadsPerCell: spec.threadsPerCell,
  };
  return new Fingerprint().add(stableJson(definition)).digest(16);
}

/** Reads the `experiment` field of a parsed config.json, or null when the run was made outside an experiment. */
export function provenanceOf(record: { experiment?: unknown }): CellProvenance | null {
  const e = record.experiment;
  if (e === null || typeof e !== "object") return null;
  const p = e as Partial<CellProvenance>;
  return typeof p.fingerprint === "string" && typeof p.cell === "string" ? (p as CellProvenance) : null;
}
