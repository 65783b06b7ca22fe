import { configNumber, type RunResult } from "./runs";

/** Config keys the kit sweeps in sensitivity studies (config.json `config`). */
export const SWEEP_KEYS: readonly string[] = ["alpha", "tau", "clubWeight"];

/** The keys (of `keys`) that take more than one numeric value across the runs. */
export function sweptKeys(runs: readonly RunResult[], keys: readonly string[] = SWEEP_KEYS): string[] {
  return keys.filter((k) => new Set(runs.map((r) => configNumber(r, k)).filter((v) => v !== undefined)).size > 1);
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
      const v = configNumber(r, k);
      if (v !== undefined) counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    const best = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0];
    if (best) out.set(k, best[0]);
  }
  return out;
}

/**
 * Runs whose swept keys (other than `except`) sit at their base values: what ablation figures pool
 * as seeds, so a hyper-parameter sweep is not mixed into a variant's mean. Runs without the key count as base.
 */
export function runsAtBase(runs: readonly RunResult[], base: ReadonlyMap<string, number>, except?: string): RunResult[] {
  return runs.filter((r) =>
    [...base].every(([k, v]) => {
      if (k === except) return true;
      const x = configNumber(r, k);
      return x === undefined || x === v;
    }),
  );
}
