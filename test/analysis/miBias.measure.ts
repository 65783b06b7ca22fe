/*
 * Measures every estimator's bias on correlated Gaussian pairs with closed-form MI and prints the markdown table of
 * docs/method.md ("MI estimators"). Not part of the test suite (≈ 3 minutes on 2 cores):
 *   node --import tsx test/analysis/miBias.measure.ts            # everything
 *   node --import tsx test/analysis/miBias.measure.ts --closed   # only the estimators without training (≈ 20 s)
 * Columns: mean over 3 data seeds (± their sd) for KSG, Gaussian MI and linear CKA; CLUB and InfoNCE are trained
 * with their defaults (300 steps) on the first seed only.
 */
import * as tf from "@tensorflow/tfjs";
import { estimateClubMi, estimateInfoNceMi } from "../../src/analysis/mi";
import { estimateKsgMi } from "../../src/analysis/ksg";
import { gaussianMi } from "../../src/analysis/gaussianMi";
import { linearCka } from "../../src/analysis/dependence";
import { gaussianPairs, mean, rhoFor } from "./gaussianPairs";

interface Case {
  readonly n: number;
  readonly pairs: number;
  readonly natsPerPair: number;
}

const CASES: Case[] = [
  ...[0, 0.2, 0.5, 1, 2, 3].map((natsPerPair) => ({ n: 2000, pairs: 1, natsPerPair })),
  ...[0, 0.2, 0.5, 1, 2, 3].map((natsPerPair) => ({ n: 2000, pairs: 5, natsPerPair })),
  ...[0, 0.047, 0.144].map((natsPerPair) => ({ n: 1762, pairs: 32, natsPerPair })), // ρ = 0, 0.3, 0.5
];
const SEEDS = 3;

function spread(v: number[]): string {
  const m = mean(v);
  const sd = Math.sqrt(v.reduce((s, x) => s + (x - m) ** 2, 0) / (v.length - 1));
  return `${m.toFixed(3)} ± ${sd.toFixed(3)}`;
}

async function main(): Promise<void> {
  await tf.setBackend("cpu");
  const closedOnly = process.argv.includes("--closed");
  console.log("| n | pairs | true MI | KSG (k = 3) | Gaussian MI | its expected bias | CKA (pop. ρ²) |" + (closedOnly ? "" : " CLUB | InfoNCE (log N) |"));
  console.log("|---|---|---|---|---|---|---|" + (closedOnly ? "" : "---|---|"));
  for (const c of CASES) {
    const rho = rhoFor(c.natsPerPair);
    const ksg: number[] = [];
    const gauss: number[] = [];
    const cka: number[] = [];
    let bias = 0;
    let trained = "";
    for (let s = 0; s < SEEDS; s++) {
      const data = gaussianPairs(c.n, new Array<number>(c.pairs).fill(rho), 7000 + 10 * s);
      ksg.push(estimateKsgMi(data.x, data.y, c.n, c.pairs, c.pairs, { seed: s, resamples: 2 }).estimate);
      const g = gaussianMi(data.x, data.y, c.n, c.pairs, c.pairs);
      gauss.push(g.estimate);
      bias = g.expectedBias;
      cka.push(linearCka(data.x, data.y, c.n, c.pairs, c.pairs).estimate);
      if (s === 0 && !closedOnly) {
        const club = estimateClubMi(data.x, data.y, c.n, c.pairs, c.pairs, { seed: 1 });
        const nce = estimateInfoNceMi(data.x, data.y, c.n, c.pairs, c.pairs, { seed: 1 });
        trained = ` ${club.rawBound.toFixed(3)} | ${nce.rawBound.toFixed(3)} (${nce.ceiling.toFixed(2)}) |`;
      }
    }
    const truth = c.pairs * c.natsPerPair;
    console.log(`| ${c.n} | ${c.pairs} | ${truth.toFixed(2)} | ${spread(ksg)} | ${spread(gauss)} | ${bias.toFixed(4)} | ${spread(cka)} (${(rho * rho).toFixed(3)}) |${trained}`);
  }
}

void main();
