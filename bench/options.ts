import { SeaError } from "../src/util/errors";

/** A command-line count: an integer ≥ `min`, or a SeaError naming the flag. */
export function countOption(value: string, flag: string, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new SeaError(`must be an integer ≥ ${min}, got "${value}"`, { where: flag });
  return n;
}
