import { groupByBackbone, plugInSummary } from "./plugIn";
import type { RunResult } from "./runs";
import { groupByVariant, meanStd, metricLabel, DEFAULT_METRIC, type MetricRef } from "./runs";
import { ablationSummary } from "./ablation";
import { intervalsOverlap, miComparison, miReferenceLevels, type MiComparisonRow } from "./miComparison";
import { miQuantitiesOf, miQuantityTitle, parseMiKey } from "./miCurves";
import { recoverySummary } from "./recovery";
import { pairedTTest, significanceMark } from "../analysis/significance";

/**
 * Sentences computed from run results, printed by the notebooks after each figure (and written by `sea figures`
 * as findings.md): which variants differ, by how much, with which p-value. Nothing here is written in advance:
 * every number and every verdict comes from the runs passed in.
 */

const SIGNIFICANCE = 0.05;

function fmt(x: number): string {
  if (!Number.isFinite(x)) return "n/a";
  const a = Math.abs(x);
  return a >= 100 ? x.toFixed(0) : a >= 1 ? x.toFixed(2) : a >= 0.01 ? x.toFixed(3) : x.toPrecision(2);
}

function fmtP(p: number): string {
  return p < 0.001 ? "p < 0.001" : `p = ${p.toPrecision(2)}`;
}

function withInterval(row: MiComparisonRow): string {
  return Number.isFinite(row.lo) ? `${fmt(row.mean)} [${fmt(row.lo)}, ${fmt(row.hi)}]` : fmt(row.mean);
}

/** The verdict on one contrast of one MI quantity: candidate vs reference, with the evidence behind it. */
export interface MiContrast {
  key: string;
  candidate: string;
  reference: string;
  /** candidate − reference, means over seeds */
  difference: number;
  p?: number;
  pairs: number;
  overlap?: boolean;
  verdict: "higher" | "lower" | "no detectable difference";
  sentence: string;
}

/**
 * `candidate` vs `reference` on MI quantity `key` at the last MI epoch. "higher"/"lower" needs a paired t-test over
 * seeds with p < 0.05; with fewer than two paired seeds a difference is reported only when the bootstrap intervals
 * over items do not overlap, and the sentence says which evidence was used.
 */
export function miContrast(runs: readonly RunResult[], key: string, candidate: string, reference: string): MiContrast | undefined {
  const rows = miComparison(runs, key, reference);
  const ref = rows.find((r) => r.variant === reference);
  const cand = rows.find((r) => r.variant === candidate);
  if (!ref || !cand) return undefined;
  const difference = cand.mean - ref.mean;
  const overlap = intervalsOverlap(cand, ref);
  const test = cand.comparison;
  const direction = difference > 0 ? "higher" : "lower";
  let verdict: MiContrast["verdict"] = "no detectable difference";
  let evidence: string;
  if (test) {
    evidence = `paired t over ${test.pairs} seeds ${fmtP(test.p)}`;
    if (test.p < SIGNIFICANCE) verdict = direction;
  } else {
    evidence = `${cand.noComparison ?? "no paired test"}; bootstrap intervals ${overlap === undefined ? "not logged" : overlap ? "overlap" : "do not overlap"}`;
    if (overlap === false) verdict = direction;
  }
  if (test && overlap !== undefined) evidence += `; bootstrap intervals over items ${overlap ? "overlap" : "do not overlap"}`;
  const title = miQuantityTitle(key);
  const sentence =
    `${title}: ${candidate} ${withInterval(cand)} vs ${reference} ${withInterval(ref)}, difference ${fmt(difference)} (${evidence}) — ` +
    (verdict === "no detectable difference" ? `no detectable difference between ${candidate} and ${reference}.` : `${candidate} is ${verdict} than ${reference}.`);
  return { key, candidate, reference, difference, ...(test ? { p: test.p } : {}), pairs: test?.pairs ?? 0, ...(overlap !== undefined ? { overlap } : {}), verdict, sentence };
}

/** How far a quantity sits between its shuffled level and its ceiling, as words (or "" without references). */
function scaleNote(runs: readonly RunResult[], key: string): string {
  const levels = miReferenceLevels(runs, key);
  if (!levels) return "";
  return ` (scale: shuffled pairs ${fmt(levels.shuffled)}, a part with itself ${fmt(levels.self)})`;
}

/**
 * The MI paragraph of notebook 03: does CLUB change the generic–unique dependence relative to no-club (every
 * generic ↔ unique quantity), does Solosim change the cross-modal generic dependence relative to no-solosim, and
 * which other variants differ from sea anywhere. Markdown, one bullet per contrast.
 */
export function miFindings(runs: readonly RunResult[], reference = "sea"): string {
  const keys = miQuantitiesOf(runs);
  if (keys.length === 0) return "No run logged MI estimates.";
  const variants = new Set(runs.map((r) => r.metrics.variant));
  const lines: string[] = [];
  const contrastBlock = (candidate: string, kinds: readonly string[], question: string): void => {
    if (!variants.has(candidate) || !variants.has(reference)) {
      lines.push(`**${question}** Not measured: the runs lack ${variants.has(reference) ? candidate : reference}.`);
      return;
    }
    const contrasts = keys.filter((k) => kinds.includes(parseMiKey(k)?.kind ?? "")).map((k) => miContrast(runs, k, reference, candidate)).filter((c): c is MiContrast => c !== undefined);
    const moved = contrasts.filter((c) => c.verdict !== "no detectable difference");
    lines.push(
      `**${question}** ` +
        (moved.length === 0
          ? `No: on none of ${contrasts.length} estimates does ${reference} differ detectably from ${candidate}.`
          : `On ${moved.length} of ${contrasts.length} estimates ${reference} differs from ${candidate}: ${moved.map((c) => `${miQuantityTitle(c.key)} (${c.verdict})`).join("; ")}.`),
    );
    for (const c of contrasts) lines.push(`- ${c.sentence}${scaleNote(runs, c.key)}`);
  };
  contrastBlock("no-club", ["gu"], `Does CLUB change the generic–unique dependence (${reference} vs no-club)?`);
  contrastBlock("no-solosim", ["generic"], `Does Solosim change the dependence between the modalities' generic parts (${reference} vs no-solosim)?`);
  const others: string[] = [];
  for (const v of [...variants].filter((v) => v !== reference && v !== "no-club" && v !== "no-solosim")) {
    for (const k of keys) {
      const c = miContrast(runs, k, v, reference);
      if (c && c.verdict !== "no detectable difference") others.push(`${v} ${c.verdict} on ${miQuantityTitle(k)} (${fmt(c.difference)}${c.p !== undefined ? `, ${fmtP(c.p)}` : ""})`);
    }
  }
  if (variants.size > 1) {
    lines.push(`**Other variants vs ${reference}:** ` + (others.length === 0 ? "no detectable difference on any estimate." : others.join("; ") + "."));
  }
  return lines.join("\n");
}

/**
 * The ablation paragraph of notebook 02: per variant, its mean test metric, its difference from the reference and
 * the paired per-user tests (t and Wilcoxon), then which variants differ at p < 0.05.
 */
export function ablationFindings(runs: readonly RunResult[], metric: MetricRef = DEFAULT_METRIC, reference = "sea"): string {
  const t = ablationSummary(runs, { metric, reference, test: "t" });
  const w = new Map(ablationSummary(runs, { metric, reference, test: "wilcoxon" }).map((r) => [r.variant, r]));
  const ref = t.find((r) => r.variant === reference);
  if (!ref) return `No runs of "${reference}" to compare with.`;
  const label = `${metric.split} ${metricLabel(metric.name)}`;
  const lines = [`${reference}: ${label} ${fmt(ref.mean)} ± ${fmt(ref.std)} over ${ref.n} seed(s).`];
  const differing: string[] = [];
  for (const r of t) {
    if (r.variant === reference) continue;
    const wc = w.get(r.variant)?.comparison;
    if (!r.comparison) {
      lines.push(`- ${r.variant}: ${fmt(r.mean)} ± ${fmt(r.std)}; no test (${r.noComparison ?? "no per-user values"}).`);
      continue;
    }
    const pct = ref.mean !== 0 ? ` (${r.comparison.meanDiff >= 0 ? "+" : ""}${fmt((100 * r.comparison.meanDiff) / ref.mean)}%)` : "";
    lines.push(
      `- ${r.variant}: ${fmt(r.mean)} ± ${fmt(r.std)}, Δ ${fmt(r.comparison.meanDiff)}${pct} per user over ${r.comparison.n} users; ` +
        `paired t ${fmtP(r.comparison.p)}` + (wc ? `, Wilcoxon ${fmtP(wc.p)}` : "") + ".",
    );
    if (r.comparison.p < SIGNIFICANCE && (!wc || wc.p < SIGNIFICANCE)) differing.push(`${r.variant} (${r.comparison.meanDiff > 0 ? "better" : "worse"})`);
  }
  lines.push(differing.length === 0 ? `No variant differs from ${reference} at p < 0.05 on both tests.` : `Different from ${reference} at p < 0.05 on both tests: ${differing.join(", ")}.`);
  return lines.join("\n");
}

/**
 * The recovery paragraph of notebook 06 (synthetic data): per planted-factor score, the variants that differ from
 * the reference (paired t over seeds), and the leak of shared information into the unique parts.
 */
export function recoveryFindings(runs: readonly RunResult[], reference = "sea"): string {
  const { keys, rows } = recoverySummary(runs);
  if (keys.length === 0) return "No run measured planted-factor recovery (synthetic data only).";
  const groups = groupByVariant(runs);
  const refRuns = groups.get(reference);
  if (!refRuns) return `No runs of "${reference}" to compare with.`;
  const lines: string[] = [];
  for (const key of keys) {
    const refBySeed = new Map(refRuns.map((r) => [r.metrics.seed, r.metrics.recovery?.[key]]));
    const refMean = meanStd(refRuns.map((r) => r.metrics.recovery?.[key] ?? NaN)).mean;
    const diffs: string[] = [];
    for (const row of rows) {
      if (row.variant === reference) continue;
      const vruns = groups.get(row.variant)!;
      const pairs = vruns.map((r) => [r.metrics.recovery?.[key], refBySeed.get(r.metrics.seed)] as const).filter((p): p is readonly [number, number] => Number.isFinite(p[0]) && Number.isFinite(p[1]));
      if (pairs.length < 2) continue;
      const test = pairedTTest(pairs.map((p) => p[0]), pairs.map((p) => p[1]));
      if (test.p < SIGNIFICANCE) diffs.push(`${row.variant} ${fmt(test.meanDiff)} (${fmtP(test.p)}${significanceMark(test.p)})`);
    }
    lines.push(`- ${key}: ${reference} R² ${fmt(refMean)}; ` + (diffs.length === 0 ? "no variant differs at p < 0.05 (paired t over seeds)." : `differs: ${diffs.join(", ")}.`));
  }
  const leak = keys.filter((k) => k.endsWith(".unique→shared"));
  for (const k of leak) {
    const r = rows.find((x) => x.variant === reference)?.stats[keys.indexOf(k)];
    if (r && r.n > 0) lines.push(`In ${reference}, ${k} is ${fmt(r.mean)}: ${r.mean > 0.5 ? "the unique part still carries most of the shared factor" : "the unique part carries little of the shared factor"}.`);
  }
  return lines.join("\n");
}

/** findings.md of `sea figures`: the ablation, MI and recovery paragraphs of these runs, one dataset at a time. */
export function findingsReport(runs: readonly RunResult[], metric: MetricRef = DEFAULT_METRIC, reference = "sea"): string {
  const byDataset = new Map<string, RunResult[]>();
  for (const r of runs) byDataset.set(r.metrics.dataset.name, [...(byDataset.get(r.metrics.dataset.name) ?? []), r]);
  const out: string[] = ["# Findings", "", "Computed from the runs by `sea figures`; every number below comes from the run folders.", ""];
  for (const [dataset, dsRuns] of [...byDataset].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    out.push(`## ${dataset} (${dsRuns.length} runs)`, "");
    const byBackbone = groupByBackbone(dsRuns);
    if (byBackbone.size > 1) out.push("### Plug-in: each backbone alone and with SEA's separation", "", plugInFindings(dsRuns, metric), "");
    for (const [backbone, bRuns] of byBackbone) {
      const level = byBackbone.size > 1 ? "####" : "###";
      if (byBackbone.size > 1) out.push(`### Backbone ${backbone}`, "");
      out.push(`${level} Ablation`, "", ablationFindings(bRuns, metric, reference), "");
      out.push(`${level} Mutual information (last MI epoch of each run)`, "", miFindings(bRuns, reference), "");
      if (bRuns.some((r) => r.metrics.recovery)) out.push(`${level} Planted-factor recovery`, "", recoveryFindings(bRuns, reference), "");
    }
  }
  return out.join("\n");
}

/**
 * The plug-in paragraph (notebook 07, findings.md): per backbone, the backbone alone ("plain") against the backbone
 * with SEA's separation ("sea"), with the paired tests on per-user values; then how many backbones SEA improved.
 */
export function plugInFindings(runs: readonly RunResult[], metric: MetricRef = DEFAULT_METRIC): string {
  const label = `${metric.split} ${metricLabel(metric.name)}`;
  const lines: string[] = [];
  const better: string[] = [];
  const worse: string[] = [];
  for (const [backbone, rows] of plugInSummary(runs, { metric })) {
    const sea = rows.find((r) => r.variant === "sea");
    const plain = rows.find((r) => r.variant === "plain");
    if (!plain && !sea) continue;
    if (!sea) {
      lines.push(`- ${backbone}: plain ${fmt(plain!.mean)} ± ${fmt(plain!.std)} (no SEA run${backbone === "lightgcn" ? ": it reads no item content" : ""}).`);
      continue;
    }
    if (!plain) {
      lines.push(`- ${backbone}: + SEA ${fmt(sea.mean)} ± ${fmt(sea.std)} (no plain run to compare with).`);
      continue;
    }
    const c = plain.comparison;
    // The test is plain − sea per user; the sentence speaks of what SEA adds (sea − plain).
    const gain = c ? -c.meanDiff : sea.mean - plain.mean;
    const pct = plain.mean !== 0 ? ` (${gain >= 0 ? "+" : ""}${fmt((100 * gain) / plain.mean)}%)` : "";
    lines.push(
      `- ${backbone}: plain ${fmt(plain.mean)} ± ${fmt(plain.std)} → + SEA ${fmt(sea.mean)} ± ${fmt(sea.std)}, Δ ${fmt(gain)}${pct}` +
        (c ? ` per user over ${c.n} users, paired t ${fmtP(c.p)}.` : `; no test (${plain.noComparison ?? "no per-user values"}).`),
    );
    if (c && c.p < SIGNIFICANCE) (gain > 0 ? better : worse).push(backbone);
  }
  if (lines.length === 0) return "No backbone has runs of plain and sea.";
  const verdict =
    better.length + worse.length === 0
      ? "On no backbone does SEA's separation change the metric detectably (p < 0.05)."
      : [better.length > 0 ? `SEA's separation improves ${better.join(", ")} (p < 0.05)` : "", worse.length > 0 ? `it hurts ${worse.join(", ")} (p < 0.05)` : ""].filter(Boolean).join("; ") + ".";
  return [`${label}, mean ± std over seeds:`, ...lines, verdict].join("\n");
}
