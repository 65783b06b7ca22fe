import type { Command } from "commander";
import { loadDatasetArg } from "../../data/resolveDataset";
import type { Dataset } from "../../data/types";

interface DataCheckOptions {
  json?: boolean;
}

/** `sea data check <dir> [--json]`: loads and validates a dataset folder and prints its summary. */
export function registerDataCheckCommand(data: Command): void {
  data
    .command("check")
    .description("validate an MMRec-format dataset folder and print its statistics")
    .argument("<dir>", "dataset folder <name>/ with <name>.inter and <modality>_feat.npy files, or a preset: tiny | small | baby-shape")
    .option("--json", "print one JSON object instead of the table")
    .action(async (dir: string, opts: DataCheckOptions) => {
      const dataset = await loadDatasetArg(dir);
      process.stdout.write(opts.json ? JSON.stringify(dataCheckSummary(dataset), null, 2) + "\n" : formatDataCheck(dataset));
    });
}

export interface DataCheckSummary {
  name: string;
  dir: string;
  users: number;
  items: number;
  interactions: { train: number; valid: number; test: number; total: number };
  sparsity: number;
  duplicatesDropped: number;
  usersWithoutTrain: number;
  modalities: { name: string; rows: number; dim: number }[];
  fingerprint: string;
  warnings: string[];
}

export function dataCheckSummary(d: Dataset): DataCheckSummary {
  const { train, valid, test } = d.stats.interactions;
  return {
    name: d.name,
    dir: d.dir,
    users: d.nUsers,
    items: d.nItems,
    interactions: { train, valid, test, total: train + valid + test },
    sparsity: d.stats.sparsity,
    duplicatesDropped: d.stats.duplicatesDropped,
    usersWithoutTrain: d.stats.usersWithoutTrain,
    modalities: d.modalities.map((m) => ({ name: m.name, rows: m.rows, dim: m.cols })),
    fingerprint: d.fingerprint,
    warnings: [...d.warnings],
  };
}

export function formatDataCheck(d: Dataset): string {
  const s = dataCheckSummary(d);
  const i = s.interactions;
  const rows: [string, string][] = [
    ["dataset", `${s.name} (${s.dir})`],
    ["users", String(s.users)],
    ["items", String(s.items)],
    ["interactions", `${i.total} (train ${i.train}, valid ${i.valid}, test ${i.test})`],
    ["sparsity", `${(s.sparsity * 100).toFixed(4)}%`],
    ["modalities", s.modalities.map((m) => `${m.name} ${m.dim}-d`).join(", ") || "none"],
    ["fingerprint", s.fingerprint],
  ];
  const width = Math.max(...rows.map(([k]) => k.length)) + 2;
  const lines = rows.map(([k, v]) => k.padEnd(width) + v);
  lines.push(s.warnings.length === 0 ? "warnings".padEnd(width) + "none" : `warnings (${s.warnings.length}):`);
  for (const w of s.warnings) lines.push(`  - ${w}`);
  return lines.join("\n") + "\n";
}
