/**
 * Where an experiment keeps things inside its output folder:
 *
 *   <output>/<cell id>/                      each cell's run folder (config.json, metrics.json, …, checkpoint.bin)
 *   <output>/<cell id>/train.log             the cell's log (every attempt appended)
 *   <output>/<cell id>/failed.json           why the cell's last attempt failed (removed when it starts again)
 *   <output>/<cell id>/.lock                 the run lock (src/train/runLock.ts)
 *   <output>/.experiment/<fingerprint>/experiment.json   the frozen definition: cells, run folders, datasets
 *   <output>/.experiment/<fingerprint>/cells/<index>.json each cell's resolved config (what `sea train --config` reads)
 *   <output>/.experiment/<fingerprint>/slurm/            job script, submissions, SLURM's own output per task
 *   <output>/results.csv, <output>/tables.txt            written by collect
 *
 * The frozen files sit under the definition's fingerprint, so editing the experiment file and running it again
 * never changes what already queued SLURM tasks read.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { writeJsonAtomic } from "../util/atomicWrite";
import { SeaError } from "../util/errors";
import type { Cell } from "./cells";

export const EXPERIMENT_META_DIR = ".experiment";

export class ExperimentLayout {
  constructor(
    /** Absolute. */
    readonly outputDir: string,
    readonly fingerprint: string,
  ) {}

  runDir(cell: Pick<Cell, "id">): string {
    return path.join(this.outputDir, ...cell.id.split("/"));
  }

  logFile(cell: Pick<Cell, "id">): string {
    return path.join(this.runDir(cell), "train.log");
  }

  failureFile(cell: Pick<Cell, "id">): string {
    return path.join(this.runDir(cell), FAILURE_FILE);
  }

  get metaDir(): string {
    return path.join(this.outputDir, EXPERIMENT_META_DIR, this.fingerprint);
  }

  get definitionFile(): string {
    return path.join(this.metaDir, "experiment.json");
  }

  cellConfigFile(cell: Pick<Cell, "index">): string {
    return path.join(this.metaDir, "cells", `${cell.index}.json`);
  }

  get slurmDir(): string {
    return path.join(this.metaDir, "slurm");
  }
}

export const FAILURE_FILE = "failed.json";

/** One cell as the frozen definition lists it: what `sea train --experiment … --cell <index>` checks itself against. */
export interface FrozenCell {
  readonly index: number;
  readonly id: string;
  readonly runDir: string;
  readonly datasetDir: string;
  readonly variant: string;
  readonly seed: number;
  readonly configFile: string;
}

/** experiment.json: the definition as it was run. */
export interface FrozenExperiment {
  readonly name: string;
  readonly file: string;
  readonly fingerprint: string;
  readonly threadsPerCell: number;
  readonly outputDir: string;
  readonly cells: readonly FrozenCell[];
}

export function readFrozenExperiment(file: string): FrozenExperiment {
  let value: Partial<FrozenExperiment>;
  try {
    value = JSON.parse(fs.readFileSync(file, "utf8")) as Partial<FrozenExperiment>;
  } catch (e) {
    throw new SeaError(`cannot read the frozen experiment definition (${(e as Error).message})`, { where: file, cause: e });
  }
  if (typeof value.fingerprint !== "string" || !Array.isArray(value.cells) || typeof value.threadsPerCell !== "number") {
    throw new SeaError("not an experiment definition written by `sea experiment run` (fingerprint, threadsPerCell, cells)", { where: file });
  }
  return value as FrozenExperiment;
}

export function writeFrozenExperiment(layout: ExperimentLayout, frozen: FrozenExperiment): void {
  writeJsonAtomic(layout.definitionFile, frozen);
}

/** failed.json: written by a cell's `sea train` when it fails, read by `sea experiment status`. */
export interface CellFailure {
  readonly message: string;
  readonly exitCode: number;
  readonly at: string;
  readonly host: string;
  readonly slurmJob: string | null;
}
