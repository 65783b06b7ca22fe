import type { Dataset } from "../src/data/types";
import { buildRunConfig } from "../src/train/runSetup";
import { createTrainingParts } from "../src/train/trainingParts";
import { backboneDefinition, backboneNames } from "../src/model/backbones/registry";
import { kernelProfile, timeStepLoop } from "./stepLoop";

/** One timed model: a backbone with a separation variant. */
export interface BackboneStepTiming {
  readonly backbone: string;
  readonly variant: string;
  readonly stepSeconds: number;
  /** Mean seconds per step in each phase (forward + backward, Adam, the companion's inner loop). */
  readonly phases: Record<string, number>;
  readonly parameters: number;
  /** tfjs kernels of one step by name, with calls (when profiled). */
  readonly kernels?: Record<string, { ms: number; calls: number }>;
}

export interface BackboneStepOptions {
  /** Backbones to time ("all": every registered one). */
  readonly backbones: readonly string[];
  /** The separation variant to add to each backbone (besides the backbone alone), or null. */
  readonly separation: string | null;
  readonly warmup: number;
  readonly steps: number;
  readonly profile: boolean;
}

/**
 * `sea bench step --backbone <b> [--separation sea]`: seconds per training step of each backbone alone ("plain")
 * and with the separation, and of the `sea` backbone with SEA's separation (the kit's reference model), all in
 * one process on one dataset, so their ratios are comparable on a noisy machine. Each model is timed after its
 * own warm-up steps, one after another.
 */
export async function timeBackboneSteps(dataset: Dataset, options: BackboneStepOptions): Promise<BackboneStepTiming[]> {
  const backbones = options.backbones.includes("all") ? backboneNames() : options.backbones.map((b) => backboneDefinition(b, "--backbone").name);
  const models: { backbone: string; variant: string }[] = [{ backbone: "sea", variant: "sea" }];
  for (const b of backbones) {
    models.push({ backbone: b, variant: "plain" });
    if (options.separation && options.separation !== "plain" && backboneDefinition(b).readsContent) models.push({ backbone: b, variant: options.separation });
  }
  const unique = models.filter((m, i) => models.findIndex((o) => o.backbone === m.backbone && o.variant === m.variant) === i);
  const timings: BackboneStepTiming[] = [];
  for (const m of unique) {
    timings.push(await timeModel(dataset, m.backbone, m.variant, options));
    process.stderr.write(`${m.backbone} + ${m.variant}: ${timings[timings.length - 1]!.stepSeconds.toFixed(3)} s/step\n`);
  }
  return timings;
}

async function timeModel(dataset: Dataset, backbone: string, variant: string, options: BackboneStepOptions): Promise<BackboneStepTiming> {
  const config = buildRunConfig({ variant, explicit: { backbone } });
  const parts = createTrainingParts(dataset, config);
  try {
    const loop = timeStepLoop(parts, dataset, options.warmup, options.steps);
    const timing: BackboneStepTiming = { backbone, variant, stepSeconds: loop.stepSeconds, phases: loop.phases, parameters: parts.model.store.count() };
    return options.profile ? { ...timing, kernels: await kernelProfile(loop.runOneMore) } : timing;
  } finally {
    parts.dispose();
  }
}

/** The side-by-side table: each model's step, its ratio to the backbone alone and to sea + SEA. */
export function renderBackboneSteps(timings: readonly BackboneStepTiming[]): string {
  const reference = timings.find((t) => t.backbone === "sea" && t.variant === "sea")!;
  const rows = timings.map((t) => {
    const alone = timings.find((o) => o.backbone === t.backbone && o.variant === "plain");
    const phases = Object.entries(t.phases).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ");
    return [
      t.backbone,
      t.variant,
      `${t.stepSeconds.toFixed(3)} s`,
      alone && t !== alone ? `${(t.stepSeconds / alone.stepSeconds).toFixed(2)}×` : "",
      `${(t.stepSeconds / reference.stepSeconds).toFixed(2)}×`,
      `${(t.parameters / 1e6).toFixed(2)} M`,
      phases,
    ];
  });
  const header = ["backbone", "separation", "step", "vs backbone alone", "vs sea + sea", "parameters", "phases (s)"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  const lines = [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)];
  for (const t of timings) {
    if (!t.kernels) continue;
    const top = Object.entries(t.kernels).sort((a, b) => b[1].ms - a[1].ms).slice(0, 8);
    lines.push(`kernels of one ${t.backbone} + ${t.variant} step (ms, calls): ${top.map(([n, k]) => `${n} ${k.ms.toFixed(0)} (${k.calls})`).join(", ")}`);
  }
  return lines.join("\n");
}
