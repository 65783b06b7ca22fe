import * as fs from "node:fs";
import * as path from "node:path";

/**
 * What must match between two executions of one experiment: every run folder's metrics.json without wall-clock
 * seconds, and its per_user.json, keyed by the folder's path under `root`.
 */
export function runContents(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory() && !e.name.startsWith(".")) visit(p);
      else if (e.name === "metrics.json") out.set(path.relative(root, p), JSON.stringify(JSON.parse(fs.readFileSync(p, "utf8")), (k, v: unknown) => (k === "seconds" ? undefined : v)));
      else if (e.name === "per_user.json") out.set(path.relative(root, p), fs.readFileSync(p, "utf8"));
    }
  };
  visit(root);
  return out;
}

/** A results.csv without its `seconds` column. */
export function csvWithoutSeconds(file: string): string {
  const rows = fs.readFileSync(file, "utf8").trim().split("\n").map((r) => r.split(","));
  const drop = rows[0]!.indexOf("seconds");
  return rows.map((r) => r.filter((_, i) => i !== drop).join(",")).join("\n");
}
