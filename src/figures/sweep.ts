import { configNumber, type RunResult } from "./runs";
import { VARIANTS } from "../model/variants";

/** Config keys the kit sweeps in sensitivity studies (config.json `config`). */
export const SWEEP_KEYS: readonly string[] = ["alpha", "tau", "clubWeight"];

/**
 * A run's value of a sweepable key, or undefined when the run has none or when its variant is defined by that key
 * (no-solosim and no-both set alpha = 0: that is what they are, not a point of an alpha sweep).
 */
function sweepValue(r: RunResult, key: string): number | undefined {
  const definedByVariant = Object.prototype.hasOwnProperty.call(VARIANTS[r.metrics.variant]?.overrides ?? {}, key);
  return definedByVariant ? undefined : configNumber(r, key);
}

/** The keys (of `keys`) that take more than one numeric value across the runs. */
export function sweptKeys(runs: readonly RunResult[], keys: readonly string[] = SWEEP_KEYS): string[] {
  return keys.filter((k) => new Set(runs.map((r) => sweepValue(r, k)).filter((v) => v !== undefined)).size > 1);
}

/**
 * The "base" value of each swept key: the value most runs use (the default the sweep departs
 * from); ties go to the smaller value so the choice does not depend on folder order.
 */
export function baseValues(runs: readonly RunResult[], keys: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const k of keys) {
    const counts = new Map<number, number>();
    for (const r of runs) {
      const v = sweepValue(r, k);
      if (v !== undefined) counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    const best = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0];
    if (best) out.set(k, best[0]);
  }
  return out;
}

/**
 * Runs whose swept keys (other than `except`) sit at their base values: what ablation figures pool
 * as seeds, so a hyper-parameter sweep is not mixed into a variant's mean. Runs without the key, or whose variant
 * is defined by it, count as base.
 */
export function runsAtBase(runs: readonly RunResult[], base: ReadonlyMap<string, number>, except?: string): RunResult[] {
  return runs.filter((r) =>
    [...base].every(([k, v]) => {
      if (k === except) return true;
      const x = sweepValue(r, k);
      return x === undefined || x === v;
    }),
  );
}
