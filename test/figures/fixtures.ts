import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { PerUserMetrics } from "../../src/eval/metricRecords";
import type { EpochRecord, RunConfigRecord, RunMetrics } from "../../src/train/runRecord";

/** A temp folder removed by the returned cleanup. */
export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Minimal .npy v1 writer for fixtures (little-endian, C order). */
export function writeTestNpy(file: string, data: Float32Array | Int32Array, shape: number[]): void {
  const descr = data instanceof Float32Array ? "<f4" : "<i4";
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(", ")}${shape.length === 1 ? "," : ""}), }`;
  const total = 10 + header.length + 1;
  header += " ".repeat((64 - (total % 64)) % 64) + "\n";
  const pre = Buffer.alloc(10);
  pre.write("\x93NUMPY", 0, "latin1");
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(header, "latin1"), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
}

export interface FakeRunSpec {
  /** metrics.json's backbone (absent: a record from before backbones existed) */
  backbone?: string;
  variant: string;
  seed: number;
  /** best-epoch test metrics */
  test: Record<string, number>;
  /** per-epoch loss parts */
  loss?: Record<string, number[]>;
  /** per-epoch valid recall@20 */
  validRecall?: number[];
  /** per-epoch MI values */
  mi?: Record<string, number[]>;
  /** per-epoch MI bootstrap intervals */
  miInterval?: Record<string, [number, number][]>;
  /** MI sanity references */
  miReference?: Record<string, { shuffled: number; self: number }>;
  /** planted-factor recovery */
  recovery?: Record<string, number>;
  perUser?: PerUserMetrics;
  config?: Record<string, unknown>;
  dataset?: string;
}

/** Writes metrics.json / config.json (/ per_user.json) shaped like src/train/runRecord.ts. */
export function writeFakeRun(dir: string, spec: FakeRunSpec): void {
  const nEpochs = spec.validRecall?.length ?? Object.values(spec.loss ?? {})[0]?.length ?? 1;
  const epochs: EpochRecord[] = [];
  for (let i = 0; i < nEpochs; i++) {
    const loss: Record<string, number> = {};
    for (const [k, v] of Object.entries(spec.loss ?? {})) loss[k] = v[i]!;
    const rec: EpochRecord = { epoch: i + 1, seconds: 1.5, loss, valid: { "recall@20": spec.validRecall?.[i] ?? 0.01 }, test: { "recall@20": 0.01 } };
    if (spec.mi) {
      rec.mi = {};
      for (const [k, v] of Object.entries(spec.mi)) if (v[i] !== undefined) rec.mi[k] = v[i]!;
    }
    if (spec.miInterval) {
      rec.miInterval = {};
      for (const [k, v] of Object.entries(spec.miInterval)) if (v[i] !== undefined) rec.miInterval[k] = v[i]!;
    }
    epochs.push(rec);
  }
  const dataset = spec.dataset ?? "tiny";
  const metrics: RunMetrics = {
    ...(spec.backbone ? { backbone: spec.backbone } : {}),
    variant: spec.variant,
    seed: spec.seed,
    dataset: { name: dataset, fingerprint: "fp" },
    epochs,
    bestEpoch: nEpochs,
    best: { valid: { "recall@20": 0.02 }, test: spec.test },
    stopReason: "epochs",
    ...(spec.miReference ? { miReference: spec.miReference } : {}),
    ...(spec.recovery ? { recovery: spec.recovery } : {}),
  };
  const config: RunConfigRecord = {
    config: { alpha: 0.012, tau: 0.2, clubWeight: 0.006, ...spec.config },
    variant: spec.variant,
    seed: spec.seed,
    dataset: { name: dataset, dir: "", fingerprint: "fp", users: 10, items: 20 },
    backend: { name: "cpu", threads: 1, blas: "none" },
    packageVersion: "0.1.0",
    node: process.version,
    startedAt: "2025-01-01T00:00:00Z",
  };
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "metrics.json"), JSON.stringify(metrics));
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(config));
  if (spec.perUser) fs.writeFileSync(path.join(dir, "per_user.json"), JSON.stringify(spec.perUser));
}

/** Best test recall@20 of the fixture ablation, per variant and seed (hand-chosen). */
export const ABLATION_RECALL: Record<string, number[]> = {
  sea: [0.1, 0.12, 0.11],
  "no-club": [0.09, 0.1, 0.08],
  orthogonal: [0.07, 0.09],
};

/**
 * Per-user recall@20 of the fixture, 40 users. Pooled over seeds (mean of a user's values):
 *   sea        = base(u) + 0.05 + 0.002·seed → base(u) + 0.054 over seeds 1..3
 *   no-club    = sea ± 0.01, alternating by user → paired differences ±0.01, mean 0: t = 0, p = 1
 *   orthogonal = base(u) + small wobble → ≈ 0.05 below sea for every user: p ≪ 0.01
 */
export function fixturePerUser(variant: string, seed: number): PerUserMetrics {
  const users = Array.from({ length: 40 }, (_, i) => i);
  const values = users.map((u) => {
    const base = ((u * 37) % 11) / 20;
    if (variant === "sea") return base + 0.05 + 0.002 * seed;
    if (variant === "no-club") return base + 0.054 + (u % 2 === 0 ? 0.01 : -0.01);
    return base + ((u * 13 + seed) % 7) / 1000;
  });
  return { users, values: { "recall@20": values } };
}

/** Builds the fixture ablation under root/<variant>/seed<k>/ (nested, as `sea ablate` might). */
export function writeFixtureAblation(root: string): void {
  for (const [variant, recalls] of Object.entries(ABLATION_RECALL)) {
    recalls.forEach((r, s) => {
      const seed = s + 1;
      const lossParts: Record<string, number[]> = { total: [3 - seed * 0.1, 2, 1.5], bpr: [0.7, 0.6, 0.5], solosim: [2, 1.5, 1] };
      if (variant !== "no-club") lossParts.club = [0.2, 0.1, 0.05];
      writeFakeRun(path.join(root, variant, `seed${seed}`), {
        variant,
        seed,
        test: { "recall@10": r / 2, "recall@20": r, "ndcg@10": r / 4, "ndcg@20": r / 3 },
        loss: lossParts,
        validRecall: [0.05, 0.07 + seed / 100, r],
        mi: {
          "club:image": [0.5 + seed / 10, 0.3 + seed / 10, 0.2],
          "club:text": [0.4, 0.3, 0.2],
          "infonce:generic:image|text": [1, 1.5, 2 + seed / 10],
          "infonce:unique:image|text": [0.9, 0.6, 0.4],
        },
        perUser: fixturePerUser(variant, seed),
      });
    });
  }
}
