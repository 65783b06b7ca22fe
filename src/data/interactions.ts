/**
 * Streaming reader for MMRec `<name>.inter` files: tab-separated, a header line naming the columns,
 * one interaction per line. Only `userID`, `itemID` and `x_label` (0 train, 1 valid, 2 test) are used;
 * they are found by header name, so column order and extra columns (rating, timestamp …) do not matter.
 */
import * as fs from "node:fs";
import { SeaError } from "../util/errors";
import type { SplitName } from "./types";

export const REQUIRED_COLUMNS = ["userID", "itemID", "x_label"] as const;
export const SPLIT_NAMES: readonly SplitName[] = ["train", "valid", "test"];

/** Ids are stored in Int32Arrays (CSR indices), so they must stay below 2^31. */
const MAX_ID = 0x7fffffff - 1;

/** The rows of an interaction file after exact duplicates were dropped, in file order. */
export interface Interactions {
  readonly file: string;
  /** Number of rows kept. */
  readonly count: number;
  readonly users: Int32Array;
  readonly items: Int32Array;
  /** x_label per row: 0 train, 1 valid, 2 test. */
  readonly splits: Uint8Array;
  /** 1-based line number in the file of each kept row (for error messages downstream). */
  readonly lines: Int32Array;
  /** −1 when there are no rows. */
  readonly maxUser: number;
  readonly maxItem: number;
  /** Repeated (user, item, x_label) rows removed (the first occurrence is kept). */
  readonly duplicatesDropped: number;
  /** (user, item) pairs that occur in more than one split; all such rows are kept, as MMRec does. */
  readonly crossSplitPairs: number;
  readonly warnings: readonly string[];
}

/** Growable column buffers: avoids a JS object per row. */
class Columns {
  users = new Int32Array(1 << 16);
  items = new Int32Array(1 << 16);
  splits = new Uint8Array(1 << 16);
  lines = new Int32Array(1 << 16);
  count = 0;

  push(user: number, item: number, split: number, line: number): void {
    if (this.count === this.users.length) this.grow();
    this.users[this.count] = user;
    this.items[this.count] = item;
    this.splits[this.count] = split;
    this.lines[this.count] = line;
    this.count++;
  }

  private grow(): void {
    const n = this.users.length * 2;
    const growI32 = (a: Int32Array): Int32Array => {
      const b = new Int32Array(n);
      b.set(a);
      return b;
    };
    this.users = growI32(this.users);
    this.items = growI32(this.items);
    this.lines = growI32(this.lines);
    const s = new Uint8Array(n);
    s.set(this.splits);
    this.splits = s;
  }
}

interface HeaderLayout {
  fieldCount: number;
  user: number;
  item: number;
  label: number;
}

/**
 * Reads and validates an `.inter` file, streaming it in chunks. Errors (SeaError, naming `file:line`):
 * missing file, no header, missing or repeated required columns, a line with a different number of
 * fields than the header, ids that are not non-negative integers, x_label not 0/1/2.
 * Non-fatal findings go to `warnings`: dropped duplicate rows, pairs in more than one split.
 */
export async function readInteractions(file: string): Promise<Interactions> {
  const stream = openStream(file);
  const cols = new Columns();
  let layout: HeaderLayout | undefined;
  let lineNo = 0;
  let rest = "";
  const handle = (line: string): void => {
    lineNo++;
    if (line.endsWith("\r")) line = line.slice(0, -1);
    if (layout === undefined) {
      layout = parseHeader(line, file);
      return;
    }
    if (line.trim() === "") return; // blank lines are skipped, as pandas does
    parseRow(line, layout, file, lineNo, cols);
  };
  try {
    for await (const chunk of stream) {
      const text = rest + (chunk as string);
      let start = 0;
      for (let nl = text.indexOf("\n"); nl !== -1; nl = text.indexOf("\n", start)) {
        handle(text.slice(start, nl));
        start = nl + 1;
      }
      rest = text.slice(start);
    }
  } catch (e) {
    stream.destroy();
    if (e instanceof SeaError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new SeaError("interaction file not found", { where: file, cause: e });
    throw new SeaError(`cannot read interaction file (${code ?? String(e)})`, { where: file, cause: e });
  }
  if (rest !== "") handle(rest);
  if (layout === undefined) {
    throw new SeaError(`empty file: expected a tab-separated header line with ${REQUIRED_COLUMNS.join(", ")}`, { where: file });
  }
  return deduplicate(file, cols);
}

function openStream(file: string): fs.ReadStream {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (e) {
    throw new SeaError("interaction file not found", { where: file, cause: e });
  }
  if (!stat.isFile()) throw new SeaError("not a file, expected a tab-separated .inter file", { where: file });
  return fs.createReadStream(file, { encoding: "utf8", highWaterMark: 1 << 20 });
}

function parseHeader(line: string, file: string): HeaderLayout {
  const names = line.split("\t").map((s) => s.trim());
  const where = `${file}:1`;
  const missing = REQUIRED_COLUMNS.filter((c) => !names.includes(c));
  if (missing.length > 0) {
    throw new SeaError(
      `header lacks required column(s) ${missing.join(", ")} (found: ${names.join(", ")}; columns must be tab-separated)`,
      { where },
    );
  }
  for (const c of REQUIRED_COLUMNS) {
    if (names.indexOf(c) !== names.lastIndexOf(c)) throw new SeaError(`header names column ${c} twice`, { where });
  }
  return { fieldCount: names.length, user: names.indexOf("userID"), item: names.indexOf("itemID"), label: names.indexOf("x_label") };
}

function parseRow(line: string, layout: HeaderLayout, file: string, lineNo: number, cols: Columns): void {
  const fields = line.split("\t");
  if (fields.length !== layout.fieldCount) {
    throw new SeaError(`expected ${layout.fieldCount} tab-separated fields (as in the header), got ${fields.length}`, { where: `${file}:${lineNo}` });
  }
  const user = parseId(fields[layout.user]!, "userID", file, lineNo);
  const item = parseId(fields[layout.item]!, "itemID", file, lineNo);
  const label = fields[layout.label]!.trim();
  if (label !== "0" && label !== "1" && label !== "2") {
    throw new SeaError(`x_label must be 0 (train), 1 (valid) or 2 (test), got "${label}"`, { where: `${file}:${lineNo}` });
  }
  cols.push(user, item, label.charCodeAt(0) - 48, lineNo);
}

/** A non-negative decimal integer (digits only; no sign, no decimal point, no exponent). */
function parseId(raw: string, column: string, file: string, lineNo: number): number {
  const s = raw.trim();
  let n = 0;
  for (let k = 0; k < s.length; k++) {
    const d = s.charCodeAt(k) - 48;
    if (d < 0 || d > 9) return badId(s, column, file, lineNo);
    n = n * 10 + d;
  }
  if (s.length === 0) return badId(s, column, file, lineNo);
  if (n > MAX_ID) throw new SeaError(`${column} ${s} is too large (ids must be below 2^31 − 1)`, { where: `${file}:${lineNo}` });
  return n;
}

function badId(s: string, column: string, file: string, lineNo: number): never {
  const where = `${file}:${lineNo}`;
  if (/^-\d+$/.test(s)) throw new SeaError(`${column} must be a non-negative integer, got negative ${s}`, { where });
  throw new SeaError(`${column} must be a non-negative integer, got "${s}"`, { where });
}

/**
 * Drops repeated (user, item, x_label) rows, keeping the first, and counts (user, item) pairs found in
 * more than one split (kept, like MMRec; such a pair's held-out copy is masked out at evaluation
 * because the item is in the user's train set). Rows are grouped by user with a counting sort, then each
 * user's few rows are sorted by (item, split, line) — no hashing of id pairs needed.
 */
function deduplicate(file: string, cols: Columns): Interactions {
  const n = cols.count;
  const users = cols.users.subarray(0, n);
  const items = cols.items.subarray(0, n);
  const splits = cols.splits.subarray(0, n);
  const lines = cols.lines.subarray(0, n);
  let maxUser = -1;
  let maxItem = -1;
  for (let k = 0; k < n; k++) {
    if (users[k]! > maxUser) maxUser = users[k]!;
    if (items[k]! > maxItem) maxItem = items[k]!;
  }
  const order = groupByUser(users, maxUser);
  const keep = new Uint8Array(n).fill(1);
  let duplicates = 0;
  let crossSplit = 0;
  let firstDuplicate: [number, number] | undefined;
  let firstCross: [number, number] | undefined;
  for (let a = 0; a < n; ) {
    let b = a + 1;
    while (b < n && users[order[b]!] === users[order[a]!]) b++;
    const seg = order.subarray(a, b);
    seg.sort((x, y) => items[x]! - items[y]! || splits[x]! - splits[y]! || x - y);
    for (let t = 1; t < seg.length; t++) {
      const prev = seg[t - 1]!;
      const cur = seg[t]!;
      if (items[cur] !== items[prev]) continue;
      if (splits[cur] === splits[prev]) {
        keep[cur] = 0;
        duplicates++;
        if (!firstDuplicate || lines[cur]! < firstDuplicate[0]) firstDuplicate = [lines[cur]!, lines[firstOfRun(seg, t, items, splits)]!];
      } else {
        crossSplit += isFirstCrossInPair(seg, t, items, splits) ? 1 : 0;
        firstCross ??= [lines[prev]!, lines[cur]!];
      }
    }
    a = b;
  }
  const warnings: string[] = [];
  if (duplicates > 0) {
    warnings.push(
      `${file}: dropped ${duplicates} duplicate (userID, itemID, x_label) row(s), keeping the first` +
        ` (e.g. line ${firstDuplicate![0]} repeats line ${firstDuplicate![1]})`,
    );
  }
  if (crossSplit > 0) {
    warnings.push(
      `${file}: ${crossSplit} (userID, itemID) pair(s) appear in more than one split; all kept, as MMRec does` +
        ` (e.g. lines ${firstCross![0]} and ${firstCross![1]})`,
    );
  }
  const kept = n - duplicates;
  const pick = <T extends Int32Array | Uint8Array>(src: T, dst: T): T => {
    for (let k = 0, w = 0; k < n; k++) if (keep[k]) dst[w++] = src[k]!;
    return dst;
  };
  return {
    file,
    count: kept,
    users: pick(users, new Int32Array(kept)),
    items: pick(items, new Int32Array(kept)),
    splits: pick(splits, new Uint8Array(kept)),
    lines: pick(lines, new Int32Array(kept)),
    maxUser,
    maxItem,
    duplicatesDropped: duplicates,
    crossSplitPairs: crossSplit,
    warnings,
  };
}

/** Row indices ordered by user (stable: file order within a user). */
function groupByUser(users: Int32Array, maxUser: number): Int32Array {
  const start = new Int32Array(maxUser + 2);
  for (let k = 0; k < users.length; k++) start[users[k]! + 1]!++;
  for (let u = 0; u <= maxUser; u++) start[u + 1]! += start[u]!;
  const order = new Int32Array(users.length);
  for (let k = 0; k < users.length; k++) order[start[users[k]!]!++] = k;
  return order;
}

/** Index (into the segment's rows) of the first row of the run of equal (item, split) ending at t. */
function firstOfRun(seg: Int32Array, t: number, items: Int32Array, splits: Uint8Array): number {
  let s = t;
  while (s > 0 && items[seg[s - 1]!] === items[seg[t]!] && splits[seg[s - 1]!] === splits[seg[t]!]) s--;
  return seg[s]!;
}

/** True at the first split change within one item's run, so a pair in three splits counts once. */
function isFirstCrossInPair(seg: Int32Array, t: number, items: Int32Array, splits: Uint8Array): boolean {
  for (let s = t - 1; s > 0 && items[seg[s - 1]!] === items[seg[t]!]; s--) {
    if (splits[seg[s - 1]!] !== splits[seg[s]!]) return false;
  }
  return true;
}
