/** The per-user train/valid/test split of the sampled interactions (MMRec's x_label), in file order. */
import type { Rng } from "../../util/rng";
import type { SyntheticConfig } from "./config";

/** Interactions in file order: grouped by user, items ascending within a user. */
export interface SyntheticInteractions {
  readonly users: Int32Array;
  readonly items: Int32Array;
  /** 0 train, 1 valid, 2 test (MMRec x_label) */
  readonly splits: Uint8Array;
}

/**
 * Number of valid and test items for a user with n items: round(n·p) each, at least 1 when n ≥ 3,
 * none below 3 items, and always at least one train item.
 */
export function heldOutCounts(n: number, split: readonly [number, number, number]): { valid: number; test: number } {
  if (n < 3) return { valid: 0, test: 0 };
  const total = split[0] + split[1] + split[2];
  let valid = split[1] > 0 ? Math.max(1, Math.round((n * split[1]) / total)) : 0;
  let test = split[2] > 0 ? Math.max(1, Math.round((n * split[2]) / total)) : 0;
  while (valid + test > n - 1) {
    if (valid >= test && valid > 0) valid--;
    else test--;
  }
  return { valid, test };
}

/** Random per-user split; rows come out grouped by user, items ascending within a user. */
export function splitPerUser(c: SyntheticConfig, counts: Int32Array, sampled: Int32Array, rng: Rng): SyntheticInteractions {
  const users = new Int32Array(sampled.length);
  const items = new Int32Array(sampled.length);
  const splits = new Uint8Array(sampled.length);
  let start = 0;
  for (let u = 0; u < c.nUsers; u++) {
    const n = counts[u]!;
    // Shuffle first: draw order correlates with affinity, the split must not.
    const row = rng.shuffle(sampled.slice(start, start + n));
    const { valid, test } = heldOutCounts(n, c.split);
    const labelAt = (k: number): number => (k < n - valid - test ? 0 : k < n - test ? 1 : 2);
    const byItem = Array.from({ length: n }, (_, k) => k).sort((a, b) => row[a]! - row[b]!);
    byItem.forEach((k, r) => {
      users[start + r] = u;
      items[start + r] = row[k]!;
      splits[start + r] = labelAt(k);
    });
    start += n;
  }
  return { users, items, splits };
}
