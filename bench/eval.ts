import type { Command } from "commander";
import { csrFromCoo, type Csr } from "../src/util/csr";
import { evaluateFullRanking, evaluateScoreMatrix } from "../src/eval/fullRanking";
import { rankingMetricsAtK } from "../src/eval/metrics";
import { countOption } from "./options";
import { SeaError } from "../src/util/errors";
import { Rng } from "../src/util/rng";

interface EvalBenchOptions {
  users: string;
  items: string;
  train: string;
  heldOut: string;
  k: string;
  batchSize: string;
  naiveUsers: string;
  seed: string;
  json?: boolean;
}

/**
 * `sea bench eval`: times full-ranking evaluation of every user of a random Baby-shaped split
 * (19,445 users × 7,050 items, ~118.5k train, ~21.7k held-out) from a precomputed score matrix,
 * and, in the same run, a naive full-sort ranking on a sample of users for the speed ratio.
 */
export function registerEvalBench(bench: Command): void {
  bench
    .command("eval")
    .description("time full-ranking evaluation (partial top-K) against a naive full sort on a Baby-shaped random split")
    .option("--users <n>", "users", "19445")
    .option("--items <n>", "items", "7050")
    .option("--train <n>", "train interactions", "118551")
    .option("--held-out <n>", "held-out interactions (test split)", "21682")
    .option("--k <list>", "cut-offs", "10,20")
    .option("--batch-size <n>", "users per batch in the batched path", "1024")
    .option("--naive-users <n>", "users ranked by the naive full sort (its time is per user, extrapolated to all)", "1000")
    .option("--seed <n>", "random seed", "999")
    .option("--json", "print one JSON object")
    .action((opts: EvalBenchOptions) => runEvalBench(opts));
}

function runEvalBench(opts: EvalBenchOptions): void {
  const nUsers = countOption(opts.users, "--users", 1);
  const nItems = countOption(opts.items, "--items", 1);
  const nTrain = countOption(opts.train, "--train", 1);
  const nHeldOut = countOption(opts.heldOut, "--held-out", 1);
  const batchSize = countOption(opts.batchSize, "--batch-size", 1);
  const naiveUsers = Math.min(countOption(opts.naiveUsers, "--naive-users", 1), nUsers);
  const seed = countOption(opts.seed, "--seed", 1);
  const ks = opts.k.split(",").map((s) => countOption(s.trim(), "--k", 1));
  if (nTrain < nUsers || nHeldOut < nUsers || nTrain + nHeldOut > nUsers * nItems) {
    throw new SeaError(`need users ≤ train, users ≤ held-out and train + held-out ≤ users × items`, { where: "--train/--held-out" });
  }
  const log = (line: string): void => {
    if (!opts.json) process.stdout.write(line + "\n");
  };

  const rng = new Rng(seed);
  const { train, heldOut } = randomSplit(rng, nUsers, nItems, nTrain, nHeldOut);
  const scores = new Float32Array(nUsers * nItems);
  for (let i = 0; i < scores.length; i++) scores[i] = rng.nextUint32() * 2.3283064365386963e-10;
  log(`random split: ${nUsers} users × ${nItems} items, ${nTrain} train, ${nHeldOut} held-out; K = ${ks.join(",")}`);

  let t = performance.now();
  const whole = evaluateScoreMatrix(scores, nUsers, nItems, train, heldOut, ks, { perUser: true });
  const matrixSeconds = (performance.now() - t) / 1000;

  // Batched path as a model would use it: each batch's rows are copied into one reused buffer.
  const batchBuffer = new Float32Array(batchSize * nItems);
  t = performance.now();
  const batched = evaluateFullRanking({
    train,
    heldOut,
    ks,
    batchSize,
    scoreUsers: (users) => {
      for (let i = 0; i < users.length; i++) {
        batchBuffer.set(scores.subarray(users[i]! * nItems, (users[i]! + 1) * nItems), i * nItems);
      }
      return batchBuffer.subarray(0, users.length * nItems);
    },
  });
  const batchedSeconds = (performance.now() - t) / 1000;

  t = performance.now();
  const naive = naiveFullSort(scores, nItems, train, heldOut, whole.users.subarray(0, naiveUsers), Math.max(...ks));
  const naiveSeconds = (performance.now() - t) / 1000;
  const naivePerUser = naiveSeconds / naiveUsers;
  const naiveAllSeconds = naivePerUser * whole.nUsers;
  // Agreement of the two implementations on the sampled users (Recall/NDCG at the largest K).
  const kMax = Math.max(...ks);
  let maxDiff = 0;
  for (let i = 0; i < naiveUsers; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(naive.recall[i]! - whole.perUser![`recall@${kMax}`]![i]!));
    maxDiff = Math.max(maxDiff, Math.abs(naive.ndcg[i]! - whole.perUser![`ndcg@${kMax}`]![i]!));
  }
  let batchedSame = true;
  for (const key of Object.keys(whole.metrics)) batchedSame &&= whole.metrics[key] === batched.metrics[key];

  const figures = {
    users: whole.nUsers,
    items: nItems,
    ks,
    matrixSeconds,
    matrixUsersPerSecond: whole.nUsers / matrixSeconds,
    batchedSeconds,
    batchedUsersPerSecond: whole.nUsers / batchedSeconds,
    batchSize,
    naiveSampleUsers: naiveUsers,
    naiveSampleSeconds: naiveSeconds,
    naiveAllUsersSecondsExtrapolated: naiveAllSeconds,
    speedupOverNaive: naiveAllSeconds / matrixSeconds,
    naiveMaxAbsDiff: maxDiff,
    batchedIdentical: batchedSame,
    metrics: whole.metrics,
  };
  if (opts.json) {
    process.stdout.write(JSON.stringify(figures) + "\n");
    return;
  }
  log(`partial top-K, whole matrix : ${matrixSeconds.toFixed(3)} s  (${Math.round(figures.matrixUsersPerSecond)} users/s)`);
  log(`partial top-K, batches of ${batchSize}: ${batchedSeconds.toFixed(3)} s  (${Math.round(figures.batchedUsersPerSecond)} users/s, incl. copying rows)`);
  log(
    `naive full sort            : ${naiveSeconds.toFixed(3)} s for ${naiveUsers} users → ${naiveAllSeconds.toFixed(1)} s for all (extrapolated)`,
  );
  log(`speed-up over naive        : ${figures.speedupOverNaive.toFixed(1)}×`);
  log(`naive vs fast, max |diff| of recall/ndcg@${kMax} on the sample: ${maxDiff.toExponential(2)}; batched identical: ${batchedSame}`);
}

/** Random distinct items per user: every user gets ≥ 1 train and ≥ 1 held-out item, the remaining counts at random. */
function randomSplit(rng: Rng, nUsers: number, nItems: number, nTrain: number, nHeldOut: number): { train: Csr; heldOut: Csr } {
  const trainCount = spread(rng, nUsers, nTrain);
  const heldCount = spread(rng, nUsers, nHeldOut);
  const taken = new Uint8Array(nItems);
  const tr: number[][] = [[], []];
  const ho: number[][] = [[], []];
  for (let u = 0; u < nUsers; u++) {
    const chosen: number[] = [];
    const draw = (count: number, into: number[][]): void => {
      for (let c = 0; c < count && chosen.length < nItems; ) {
        const item = rng.int(nItems);
        if (taken[item]) continue;
        taken[item] = 1;
        chosen.push(item);
        into[0]!.push(u);
        into[1]!.push(item);
        c++;
      }
    };
    draw(trainCount[u]!, tr);
    draw(heldCount[u]!, ho);
    for (const item of chosen) taken[item] = 0;
  }
  return {
    train: csrFromCoo(nUsers, nItems, tr[0]!, tr[1]!),
    heldOut: csrFromCoo(nUsers, nItems, ho[0]!, ho[1]!),
  };
}

/** `total` units over `n` bins: one each, the remainder uniformly at random. */
function spread(rng: Rng, n: number, total: number): Int32Array {
  const c = new Int32Array(n).fill(1);
  for (let i = n; i < total; i++) c[rng.int(n)]!++;
  return c;
}

/** The obvious implementation: mask a copy of the row, sort all items, take the top K. */
function naiveFullSort(
  scores: Float32Array,
  nItems: number,
  train: Csr,
  heldOut: Csr,
  users: Int32Array,
  k: number,
): { recall: Float64Array; ndcg: Float64Array } {
  const recall = new Float64Array(users.length);
  const ndcg = new Float64Array(users.length);
  for (let i = 0; i < users.length; i++) {
    const u = users[i]!;
    const row = Array.from(scores.subarray(u * nItems, (u + 1) * nItems));
    for (let t = train.indptr[u]!; t < train.indptr[u + 1]!; t++) row[train.indices[t]!] = -Infinity;
    const order = Array.from({ length: nItems }, (_, j) => j).sort((a, b) => row[b]! - row[a]! || a - b);
    const held = new Set(heldOut.indices.subarray(heldOut.indptr[u]!, heldOut.indptr[u + 1]!));
    const hits = order.slice(0, k).map((j) => held.has(j) && row[j]! > -Infinity);
    const m = rankingMetricsAtK(hits, held.size, k);
    recall[i] = m.recall;
    ndcg[i] = m.ndcg;
  }
  return { recall, ndcg };
}
