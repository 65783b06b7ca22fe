/**
 * The one command line that trains a cell, whichever executor runs it: `sea train` from this checkout (absolute
 * paths) on the cell's resolved config, resuming from its checkpoint, checked against the frozen definition.
 */
import * as path from "node:path";
import { REPO_ROOT } from "../data/resolveDataset";
import type { Cell } from "./cells";
import { datasetDirOf, type ExperimentPlan } from "./plan";

export const SEA_BIN = path.join(REPO_ROOT, "bin", "sea.js");

/** [node, bin/sea.js, "train", …] */
export function cellCommand(plan: ExperimentPlan, cell: Cell): string[] {
  const { layout } = plan;
  return [
    process.execPath,
    SEA_BIN,
    "train",
    "--dataset",
    datasetDirOf(plan, cell),
    "--variant",
    cell.variant,
    "--config",
    layout.cellConfigFile(cell),
    "--out",
    layout.runDir(cell),
    "--resume",
    "--experiment",
    layout.definitionFile,
    "--cell",
    String(cell.index),
  ];
}

/** The environment a cell runs in: the experiment's BLAS/addon thread count. */
export function cellEnvironment(plan: ExperimentPlan, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...base, OPENBLAS_NUM_THREADS: String(plan.source.spec.threadsPerCell) };
}

/** POSIX shell quoting: a word as is when it is plainly safe, else in single quotes. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'"'"'`)}'`;
}
