/**
 * The folders of src/ are layers (README "Layout of the code"): every import of a module in src/ or bench/ must go
 * to a strictly lower layer, and the folder-level import graph has no cycle. Imports are read with TypeScript's
 * own pre-processor (static imports, `export … from`, `import x = require(…)`, `require(…)` and `import(…)` with a
 * literal path; nothing in comments or strings), so a new back-edge fails here and names its file.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as ts from "typescript";

const REPO = path.resolve(__dirname, "..");

/**
 * The layers, lowest first; a module may import only from layers below its own. The order follows the imports
 * rather than the pipeline's direction: train evaluates and measures MI every epoch, so eval and analysis sit
 * below it. Units in one layer are peers that must not import each other: at the top, the library's entry
 * (src/index.ts, compiled to dist/), the `sea` command (src/cli) and the benchmark programs (bench/, which
 * bin/sea.js joins to the CLI).
 */
const LAYERS: readonly (readonly string[])[] = [
  ["util"], // RNG, errors, atomic writes, typed-array helpers, CSR matrices: no domain, no tensors
  ["backend"], // backend selection, native kernels, sparse × dense products
  ["optim"], // Adam over parameter arrays (backend's fused update)
  ["data"], // .npy, .inter, the MMRec loader, synthetic data, BPR sampling
  ["graph"], // the normalised user–item graph, item–item kNN graphs (built from data's Dataset)
  ["losses"], // BPR, Solosim, CLUB, orthogonality, −L2
  ["model"], // config, variants, encoders, projection heads, the SEA model and its objective
  ["eval"], // full-ranking evaluation and its metric records
  ["analysis"], // MI estimators, dependence, bootstrap, significance tests on eval's per-user records
  ["train"], // the trainer (evaluates and analyses every epoch), run records, checkpoints, ablations
  ["experiment"], // experiment files, cells, local and SLURM executors
  ["figures"], // figures and findings from run folders
  ["notebook"], // what the notebooks share
  ["index", "cli", "bench"],
];

/**
 * Back-edges tolerated for now, one entry per importing file and imported module ("from → to", paths from the
 * repository root, without extension for the imported module as written in the source). Only for edges in files
 * that someone else is restructuring concurrently; whoever merges their work removes the entry. An entry whose
 * edge no longer exists, or is no longer a back-edge, fails the test, so the list cannot go stale.
 */
const ALLOWED_BACK_EDGES: readonly string[] = [];

/** One import of one module: the unit is the layer folder ("util", "cli", …; "index" for src/index.ts, "bench"). */
interface ImportEdge {
  readonly fromFile: string;
  readonly fromUnit: string;
  /** The imported module, repository-relative, as resolved from the specifier (file extension dropped). */
  readonly toModule: string;
  readonly toUnit: string;
}

/** The unit of a repository-relative path, or null outside src/ and bench/ (packages, package.json …). */
function unitOf(repoPath: string): string | null {
  const parts = repoPath.split("/");
  if (parts[0] === "bench") return "bench";
  if (parts[0] !== "src") return null;
  if (parts.length === 2) return parts[1] === "index.ts" || parts[1] === "index" ? "index" : parts[1]!.replace(/\.ts$/, "");
  return parts[1]!;
}

/** Every relative import between units, from files given as repository-relative path → source text. */
function importEdges(sources: ReadonlyMap<string, string>): ImportEdge[] {
  const edges: ImportEdge[] = [];
  for (const [file, text] of sources) {
    const fromUnit = unitOf(file);
    if (fromUnit === null) continue;
    for (const { fileName: spec } of ts.preProcessFile(text, true, true).importedFiles) {
      if (!spec.startsWith(".")) continue; // packages and node: built-ins are not layers
      const toModule = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)).replace(/\.(ts|js)$/, "");
      const toUnit = unitOf(toModule);
      if (toUnit !== null && toUnit !== fromUnit) edges.push({ fromFile: file, fromUnit, toModule, toUnit });
    }
  }
  return edges;
}

function rankOf(layers: readonly (readonly string[])[]): Map<string, number> {
  const rank = new Map<string, number>();
  layers.forEach((units, r) => units.forEach((u) => rank.set(u, r)));
  return rank;
}

const edgeName = (e: ImportEdge): string => `${e.fromFile} → ${e.toModule}`;

/** Edges to a layer that is not strictly lower (outside `allowed`), and units missing from the layer table. */
function layerViolations(edges: readonly ImportEdge[], layers: readonly (readonly string[])[], allowed: readonly string[]): string[] {
  const rank = rankOf(layers);
  const problems: string[] = [];
  const unplaced = new Set<string>();
  for (const e of edges) {
    for (const u of [e.fromUnit, e.toUnit]) if (!rank.has(u)) unplaced.add(u);
    const from = rank.get(e.fromUnit);
    const to = rank.get(e.toUnit);
    if (from === undefined || to === undefined || from > to || allowed.includes(edgeName(e))) continue;
    const how = from === to ? "a peer in the same layer" : "a higher layer";
    problems.push(`${edgeName(e)}: ${e.fromUnit} imports ${e.toUnit}, ${how}`);
  }
  for (const u of unplaced) problems.push(`folder "${u}" has no place in LAYERS (test/layering.test.ts)`);
  return problems;
}

/** Allow-list entries that name no existing edge or an edge that is now downward. */
function staleAllowances(edges: readonly ImportEdge[], layers: readonly (readonly string[])[], allowed: readonly string[]): string[] {
  const rank = rankOf(layers);
  const backEdges = new Set(edges.filter((e) => (rank.get(e.fromUnit) ?? 0) <= (rank.get(e.toUnit) ?? 0)).map(edgeName));
  return allowed.filter((entry) => !backEdges.has(entry));
}

/**
 * Folder-level cycles (strongly connected components of more than one unit), each named with one file-level edge
 * per hop of a cycle through it.
 */
function folderCycles(edges: readonly ImportEdge[]): string[] {
  const next = new Map<string, Map<string, ImportEdge>>();
  for (const e of edges) {
    if (!next.has(e.fromUnit)) next.set(e.fromUnit, new Map());
    if (!next.get(e.fromUnit)!.has(e.toUnit)) next.get(e.fromUnit)!.set(e.toUnit, e);
  }
  const reach = (start: string): Set<string> => {
    const seen = new Set<string>();
    const stack = [start];
    while (stack.length > 0) {
      for (const t of next.get(stack.pop()!)?.keys() ?? []) {
        if (!seen.has(t)) {
          seen.add(t);
          stack.push(t);
        }
      }
    }
    return seen;
  };
  const cycles: string[] = [];
  const reported = new Set<string>();
  for (const unit of [...next.keys()].sort()) {
    if (reported.has(unit) || !reach(unit).has(unit)) continue;
    // Shortest path back to `unit` (breadth-first), so the message names a minimal cycle.
    const via = new Map<string, ImportEdge>();
    const queue = [unit];
    while (queue.length > 0 && !via.has(unit)) {
      const u = queue.shift()!;
      for (const [t, e] of next.get(u) ?? []) {
        if (via.has(t)) continue;
        via.set(t, e);
        queue.push(t);
      }
    }
    const hops: ImportEdge[] = [];
    for (let at = unit; hops.length === 0 || at !== unit; ) {
      const e = via.get(at)!;
      hops.unshift(e);
      at = e.fromUnit;
    }
    hops.forEach((e) => reported.add(e.fromUnit));
    cycles.push(`${hops.map((e) => e.fromUnit).join(" → ")} → ${unit} (${hops.map(edgeName).join("; ")})`);
  }
  return cycles;
}

function typeScriptFiles(dir: string): string[] {
  return fs.readdirSync(path.join(REPO, dir), { withFileTypes: true }).flatMap((entry) => {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return typeScriptFiles(rel);
    return entry.name.endsWith(".ts") ? [rel] : [];
  });
}

function repositoryEdges(): ImportEdge[] {
  const files = [...typeScriptFiles("src"), ...typeScriptFiles("bench")];
  return importEdges(new Map(files.map((f) => [f, fs.readFileSync(path.join(REPO, f), "utf8")])));
}

test("every import in src/ and bench/ goes to a lower layer", () => {
  const edges = repositoryEdges();
  assert.ok(edges.length > 100, `found only ${edges.length} imports between folders: the scan is broken`);
  assert.deepEqual(layerViolations(edges, LAYERS, ALLOWED_BACK_EDGES), []);
  assert.deepEqual(staleAllowances(edges, LAYERS, ALLOWED_BACK_EDGES), [], "ALLOWED_BACK_EDGES names edges that are gone or now downward");
});

test("the folder-level import graph has no cycle", () => {
  const edges = repositoryEdges().filter((e) => !ALLOWED_BACK_EDGES.includes(edgeName(e)));
  assert.deepEqual(folderCycles(edges), []);
});

test("the checks flag upward and peer imports, unplaced folders, stale allowances and cycles", () => {
  const sources = new Map([
    ["src/util/a.ts", 'import { b } from "../data/b"; // import { no } from "../cli/no"\nexport const a = 1;'],
    ["src/data/b.ts", 'import { a } from "../util/a";\nexport { c } from "./c";\nconst d = require("../graph/d");'],
    ["src/graph/d.ts", 'import type { B } from "../data/b";\nexport * from "../fresh/x";'],
    ["src/cli/main.ts", 'import "../../bench/commands";'],
    ["bench/commands.ts", 'const main = await import("../src/cli/main");'],
  ]);
  const edges = importEdges(sources);
  const layers = [["util"], ["data"], ["graph"], ["cli", "bench"]];
  assert.deepEqual(layerViolations(edges, layers, ["src/data/b.ts → src/graph/d"]), [
    "src/util/a.ts → src/data/b: util imports data, a higher layer",
    "src/cli/main.ts → bench/commands: cli imports bench, a peer in the same layer",
    "bench/commands.ts → src/cli/main: bench imports cli, a peer in the same layer",
    'folder "fresh" has no place in LAYERS (test/layering.test.ts)',
  ]);
  assert.deepEqual(staleAllowances(edges, layers, ["src/data/b.ts → src/graph/d", "src/graph/d.ts → src/data/b"]), ["src/graph/d.ts → src/data/b"]);
  assert.deepEqual(folderCycles(edges), [
    "bench → cli → bench (bench/commands.ts → src/cli/main; src/cli/main.ts → bench/commands)",
    "data → util → data (src/data/b.ts → src/util/a; src/util/a.ts → src/data/b)",
    "graph → data → graph (src/graph/d.ts → src/data/b; src/data/b.ts → src/graph/d)",
  ]);
});
