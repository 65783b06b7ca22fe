/**
 * Cell expansion: an experiment is the product of its axes (dataset × config set × grid point × backbone × variant
 * × seed), one training run per cell. Each cell has a resolved config and a run folder named by the axes that vary:
 *
 *   <output>/[<dataset>/][<config set>/][<grid point>/][<backbone>/]<variant>/seed-<n>
 *
 * so a one-dataset ablation keeps `sea ablate`'s layout (`<output>/<variant>/seed-<n>`). A grid point names its
 * folder `key-value` (keys joined by `_`: `alpha-0.05_tau-0.1`), the layout `sea ablate` gave sensitivity
 * runs in the notebooks. Cells whose dataset, variant and resolved config (seed included) coincide are one cell
 * (e.g. the base value shared by one-key grids over alpha and tau), kept under the first name.
 */
import type { SeaConfig } from "../model/config";
import { resolveVariantConfig } from "../model/variants";
import { unsupportedCombination } from "../model/createModel";
import { SeaError } from "../util/errors";
import { datasetLabel, type ConfigLayer, type DatasetEntry, type ExperimentSpec, type GridValue, type NamedConfigSet } from "./spec";

/** One grid point: config keys and values, in the order the grid lists its keys. */
export type GridPoint = readonly (readonly [string, GridValue])[];

/** What the axes set on a cell. */
interface CellDraft {
  dataset: DatasetEntry | null;
  configSet: NamedConfigSet | null;
  gridPoint: GridPoint | null;
  /** The backbone axis's value, or null (the config's backbone). */
  backbone: string | null;
  variant: string;
  seed: number;
  /** Config layers above the variant's, lowest first. */
  layers: ConfigLayer[];
  /** Folder segments of the axes shown in the path, outermost first. */
  segments: string[];
  /** results.csv columns of the axes shown in the path. */
  labels: Record<string, string>;
}

export interface Cell {
  /** Position in the expansion; the SLURM array index of the cell. */
  readonly index: number;
  /** The run folder relative to the experiment's output folder, e.g. "alpha-0.05/sea/seed-1". */
  readonly id: string;
  readonly dataset: DatasetEntry;
  readonly configSet: NamedConfigSet | null;
  readonly gridPoint: GridPoint | null;
  /** The backbone the cell trains (its config's). */
  readonly backbone: string;
  readonly variant: string;
  readonly seed: number;
  /** Column → value for every axis that varies (dataset, config_set, each grid key, backbone, variant, seed). */
  readonly labels: Readonly<Record<string, string>>;
  /** The full resolved training config (seed and epochs included). */
  readonly config: SeaConfig;
}

export interface CellExpansion {
  readonly cells: readonly Cell[];
  /** Cells dropped because an earlier cell has the same dataset, variant and config. */
  readonly merged: number;
  /**
   * Combinations no model allows, left out with the reason: SEA's separation over a backbone that reads no item
   * content (lightgcn × sea), by id.
   */
  readonly skipped: readonly { readonly id: string; readonly reason: string }[];
  /** results.csv's axis columns, in order (the keys of every cell's labels). */
  readonly columns: readonly string[];
  /** The columns that are swept values (the grid's keys); the other axes are settings (dataset, config set, backbone). */
  readonly gridColumns: readonly string[];
}

/** One value of an axis: its folder segment, its results.csv columns and what it sets on the cell. */
interface AxisValue {
  readonly segment: string;
  readonly labels: Readonly<Record<string, string>>;
  apply(cell: CellDraft): void;
}

interface Axis {
  readonly name: string;
  /** Whether the axis names a folder level (and results.csv columns) in this experiment. */
  shown(spec: ExperimentSpec): boolean;
  values(spec: ExperimentSpec): readonly AxisValue[];
  /** The axis's results.csv columns, in order. */
  columns(spec: ExperimentSpec): readonly string[];
}

/** The axes, outermost first. Adding an axis is one entry here (plus the spec field it reads and the cell field it sets). */
const AXES: readonly Axis[] = [
  {
    name: "dataset",
    shown: (s) => s.datasets.length > 1,
    columns: () => ["dataset"],
    values: (s) =>
      s.datasets.map((d) =>
        axisValue(datasetLabel(d), { dataset: datasetLabel(d) }, (c) => {
          c.dataset = d;
          c.layers.push(d.set);
        }),
      ),
  },
  {
    name: "configSet",
    shown: (s) => s.configSets.length > 0,
    columns: () => ["config_set"],
    values: (s) =>
      s.configSets.map((cs) =>
        axisValue(cs.name, { config_set: cs.name }, (c) => {
          c.configSet = cs;
          c.layers.push(cs.set);
        }),
      ),
  },
  {
    name: "grid",
    shown: (s) => s.grids.length > 0,
    columns: (s) => [...new Set(s.grids.flatMap((g) => g.map((k) => k.key)))],
    values: (s) =>
      gridPoints(s).map((point) =>
        axisValue(gridSegment(point), Object.fromEntries(point.map(([k, v]) => [k, String(v)])), (c) => {
          c.gridPoint = point;
          c.layers.push(Object.fromEntries(point));
        }),
      ),
  },
  {
    name: "backbone",
    shown: (s) => s.backbones.length > 1,
    columns: () => ["backbone"],
    values: (s) =>
      s.backbones.map((b) =>
        axisValue(b, { backbone: b }, (c) => {
          c.backbone = b;
          c.layers.push({ backbone: b });
        }),
      ),
  },
  {
    name: "variant",
    shown: () => true,
    columns: () => ["variant"],
    values: (s) => s.variants.map((v) => axisValue(v, { variant: v }, (c) => void (c.variant = v))),
  },
  {
    name: "seed",
    shown: () => true,
    columns: () => ["seed"],
    values: (s) =>
      s.seeds.map((n) =>
        axisValue(`seed-${n}`, { seed: String(n) }, (c) => {
          c.seed = n;
          c.layers.push({ seed: n });
        }),
      ),
  },
];

function axisValue(segment: string, labels: Record<string, string>, apply: (cell: CellDraft) => void): AxisValue {
  return { segment, labels, apply };
}

/** Every point of every grid, in order (grids one after another, each a cartesian product, last key fastest). */
export function gridPoints(spec: ExperimentSpec): GridPoint[] {
  const points: GridPoint[] = [];
  for (const grid of spec.grids) {
    let partial: (readonly [string, GridValue])[][] = [[]];
    for (const { key, values } of grid) partial = partial.flatMap((p) => values.map((v) => [...p, [key, v] as const]));
    points.push(...partial);
  }
  return points;
}

export function gridSegment(point: GridPoint): string {
  return point.map(([k, v]) => `${k}-${String(v)}`).join("_");
}

/**
 * All cells of the experiment, in axis order (dataset outermost, seed innermost), each with its resolved config.
 * `file` names the experiment file in errors (a combination of values that no config allows, e.g. a stopMetric
 * whose K is not in ks).
 */
export function expandCells(spec: ExperimentSpec, file: string): CellExpansion {
  const axes = AXES.filter((a) => a.values(spec).length > 0);
  let drafts: CellDraft[] = [{ dataset: null, configSet: null, gridPoint: null, backbone: null, variant: "", seed: 0, layers: [spec.set], segments: [], labels: {} }];
  for (const axis of axes) {
    const shown = axis.shown(spec);
    drafts = drafts.flatMap((d) =>
      axis.values(spec).map((value) => {
        const next: CellDraft = { ...d, layers: [...d.layers], segments: [...d.segments], labels: { ...d.labels } };
        value.apply(next);
        if (shown) {
          next.segments.push(value.segment);
          Object.assign(next.labels, value.labels);
        }
        return next;
      }),
    );
  }
  const columns = axes.filter((a) => a.shown(spec)).flatMap((a) => a.columns(spec));
  const cells: Cell[] = [];
  const skipped: { id: string; reason: string }[] = [];
  const seen = new Set<string>();
  for (const d of drafts) {
    const id = d.segments.join("/");
    const config = resolveCellConfig(d, id, file);
    const incompatible = unsupportedCombination(config, d.variant);
    if (incompatible) {
      skipped.push({ id, reason: incompatible });
      continue;
    }
    const identity = JSON.stringify([d.dataset!.path, d.variant, config]);
    if (seen.has(identity)) continue;
    seen.add(identity);
    const labels = Object.fromEntries(columns.map((c) => [c, d.labels[c] ?? ""]));
    cells.push({ index: cells.length, id, dataset: d.dataset!, configSet: d.configSet, gridPoint: d.gridPoint, backbone: config.backbone, variant: d.variant, seed: d.seed, labels, config });
  }
  const gridColumns = axes.filter((a) => a.name === "grid" && a.shown(spec)).flatMap((a) => a.columns(spec));
  return { cells, merged: drafts.length - cells.length - skipped.length, skipped, columns, gridColumns };
}

function resolveCellConfig(d: CellDraft, id: string, file: string): SeaConfig {
  try {
    return resolveVariantConfig(d.variant, d.layers);
  } catch (e) {
    if (e instanceof SeaError) throw new SeaError(`cell ${id}: ${e.message}`, { where: file, cause: e });
    throw e;
  }
}
