import type { Command } from "commander";
import * as fs from "node:fs";
import * as path from "node:path";
import { makeTempSibling, replaceFolder } from "../../data/resolveDataset";
import { generateSynthetic, GROUND_TRUTH_FILE, isSyntheticPreset, SYNTHETIC_PRESET_NAMES, writeSynthetic, type SyntheticPreset } from "../../data/synthetic";
import { SeaError } from "../../util/errors";

interface DataSynthOptions {
  preset: string;
  seed: string;
  out: string;
  force?: boolean;
}

/** `sea data synth --preset <name> --seed <n> --out <dir> [--force]`: writes a synthetic MMRec dataset with ground truth. */
export function registerDataSynthCommand(data: Command): void {
  data
    .command("synth")
    .description("generate a synthetic MMRec-format dataset with planted generic/unique factors (ground_truth.json, gt_*.npy)")
    .requiredOption("--preset <name>", `size preset: ${SYNTHETIC_PRESET_NAMES.join(" | ")}`)
    .option("--seed <n>", "random seed (same seed ⇒ byte-identical files)", "999")
    .requiredOption("--out <dir>", "output folder; the interaction file is named after it (<dir>/<name>.inter)")
    .option("--force", "replace --out even if it holds something other than a synthetic dataset")
    .action((opts: DataSynthOptions) => {
      const { preset, seed, out } = parseOptions(opts);
      checkOutFolder(out, opts.force ?? false);
      const t0 = process.hrtime.bigint();
      const generated = generateSynthetic(preset, seed);
      const tmp = makeTempSibling(out);
      let written: string[];
      try {
        written = writeSynthetic(generated, tmp, { name: path.basename(out) });
        replaceFolder(tmp, out);
      } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
      }
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const counts = [0, 0, 0];
      for (const s of generated.interactions.splits) counts[s]!++;
      const lines = [
        `wrote synthetic dataset "${preset}" (seed ${seed}) to ${out} in ${seconds.toFixed(1)}s`,
        `  users ${generated.nUsers}, items ${generated.nItems}, interactions ${counts[0]! + counts[1]! + counts[2]!} (train ${counts[0]}, valid ${counts[1]}, test ${counts[2]})`,
      ];
      for (const f of written) {
        const file = path.join(out, path.basename(f));
        lines.push(`  ${path.basename(f).padEnd(22)} ${formatBytes(fs.statSync(file).size)}`);
      }
      process.stdout.write(lines.join("\n") + "\n");
    });
}

function parseOptions(opts: DataSynthOptions): { preset: SyntheticPreset; seed: number; out: string } {
  if (!isSyntheticPreset(opts.preset)) {
    throw new SeaError(`unknown preset "${opts.preset}" (known: ${SYNTHETIC_PRESET_NAMES.join(", ")})`, { where: "--preset" });
  }
  if (!/^\d+$/.test(opts.seed) || Number(opts.seed) > 0xffffffff) {
    throw new SeaError(`must be an integer in [0, 4294967295], got "${opts.seed}"`, { where: "--seed" });
  }
  return { preset: opts.preset, seed: Number(opts.seed), out: path.resolve(opts.out) };
}

/** An existing --out is replaced only when empty or a previous synthetic dataset, unless --force. */
function checkOutFolder(out: string, force: boolean): void {
  if (!fs.existsSync(out)) return;
  if (!fs.statSync(out).isDirectory()) throw new SeaError("exists and is not a folder", { where: out });
  if (force || fs.readdirSync(out).length === 0 || fs.existsSync(path.join(out, GROUND_TRUTH_FILE))) return;
  throw new SeaError(`exists, is not empty and holds no ${GROUND_TRUTH_FILE} (not a synthetic dataset); pass --force to replace it`, { where: out });
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
