import type { EpochRecord } from "../train/runRecord";
import { pairedTTest, significanceMark } from "../analysis/significance";
import { groupByVariant, meanStd, type RunResult } from "./runs";

/**
 * The MI estimates of a set of runs, compared between variants: the numbers behind the MI summary figure and
 * the sentences the notebooks print (findings.ts). Each run contributes its LAST epoch with MI estimates (runs
 * stop at different epochs; MI is measured every miEvery epochs, so the best epoch may have none).
 */

/** The last epoch of a run that carries MI estimates, or undefined. */
export function lastMiEpoch(run: RunResult): EpochRecord | undefined {
  for (let i = run.metrics.epochs.length - 1; i >= 0; i--) if (run.metrics.epochs[i]!.mi) return run.metrics.epochs[i];
  return undefined;
}

export interface MiComparisonRow {
  variant: string;
  /** seeds with a finite estimate, and their estimates (same order) */
  seeds: number[];
  values: number[];
  /** mean over those seeds */
  mean: number;
  /** sample std over seeds (NaN for one seed) */
  std: number;
  /** 95% bootstrap interval over items, each bound averaged over seeds (NaN when the runs logged none) */
  lo: number;
  hi: number;
  /** Paired t-test over seeds against the reference variant (seeds both ran), when ≥ 2 pairs. */
  comparison?: { reference: string; pairs: number; meanDiff: number; t: number; p: number; mark: "" | "*" | "**" };
  /** Why there is no comparison (the reference itself, too few paired seeds …). */
  noComparison?: string;
}

/** Per variant (kit order): the last-MI-epoch estimate of `key`, its intervals, and a paired test vs `reference`. */
export function miComparison(runs: readonly RunResult[], key: string, reference = "sea"): MiComparisonRow[] {
  const groups = groupByVariant(runs);
  const bySeed = (vruns: readonly RunResult[]): Map<number, { value: number; interval?: [number, number] }> => {
    const out = new Map<number, { value: number; interval?: [number, number] }>();
    for (const r of vruns) {
      const epoch = lastMiEpoch(r);
      const value = epoch?.mi?.[key];
      if (value === undefined || !Number.isFinite(value)) continue;
      const interval = epoch!.miInterval?.[key];
      out.set(r.metrics.seed, interval ? { value, interval } : { value });
    }
    return out;
  };
  const refValues = groups.has(reference) ? bySeed(groups.get(reference)!) : undefined;
  const rows: MiComparisonRow[] = [];
  for (const [variant, vruns] of groups) {
    const values = bySeed(vruns);
    if (values.size === 0) continue;
    const seeds = [...values.keys()].sort((a, b) => a - b);
    const v = seeds.map((s) => values.get(s)!.value);
    const s = meanStd(v);
    const intervals = seeds.map((seed) => values.get(seed)!.interval).filter((i): i is [number, number] => i !== undefined);
    const row: MiComparisonRow = {
      variant,
      seeds,
      values: v,
      mean: s.mean,
      std: s.std,
      lo: intervals.length === seeds.length ? meanStd(intervals.map((i) => i[0])).mean : NaN,
      hi: intervals.length === seeds.length ? meanStd(intervals.map((i) => i[1])).mean : NaN,
    };
    if (variant === reference) row.noComparison = "the reference variant";
    else if (!refValues) row.noComparison = `no runs of "${reference}" with this estimate`;
    else {
      const paired = seeds.filter((seed) => refValues.has(seed));
      if (paired.length < 2) row.noComparison = `${paired.length} seed(s) shared with "${reference}": a paired test needs 2`;
      else {
        const a = paired.map((seed) => values.get(seed)!.value);
        const b = paired.map((seed) => refValues.get(seed)!.value);
        const t = pairedTTest(a, b);
        row.comparison = { reference, pairs: paired.length, meanDiff: t.meanDiff, t: t.t, p: t.p, mark: significanceMark(t.p) };
      }
    }
    rows.push(row);
  }
  return rows;
}

/** The sanity references of `key` (MiReferences), averaged over the runs that measured them, or undefined. */
export function miReferenceLevels(runs: readonly RunResult[], key: string): { shuffled: number; self: number; runs: number } | undefined {
  const refs = runs.map((r) => r.metrics.miReference?.[key]).filter((x) => x !== undefined && Number.isFinite(x.shuffled) && Number.isFinite(x.self));
  if (refs.length === 0) return undefined;
  return {
    shuffled: meanStd(refs.map((r) => r!.shuffled)).mean,
    self: meanStd(refs.map((r) => r!.self)).mean,
    runs: refs.length,
  };
}

/** Whether two [lo, hi] intervals overlap (false when either is missing). */
export function intervalsOverlap(a: { lo: number; hi: number }, b: { lo: number; hi: number }): boolean | undefined {
  if (![a.lo, a.hi, b.lo, b.hi].every(Number.isFinite)) return undefined;
  return a.lo <= b.hi && b.lo <= a.hi;
}
