/**
 * Static checks of the committed notebooks (no kernel needed; scripts/run-notebooks.sh executes them).
 * They catch, before a slow headless run, the mistakes that break a notebook under tslab:
 *  - an import of TypeScript from ../src (tslab compiles cells with the notebook folder as rootDir, so that fails;
 *    notebooks must import the compiled library from ../dist),
 *  - an import of ../dist/<path> whose source does not exist or is not compiled (src/cli is excluded from dist),
 *  - a kernelspec other than tslab (Jupyter would open the notebook with the wrong kernel).
 */
import { test } from "node:test";
import { strict as assert } from "node:assert";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";

const repoRoot = path.resolve(__dirname, "../..");
const notebooksDir = path.join(repoRoot, "notebooks");

interface NotebookCell {
  cell_type: string;
  source: string | string[];
}
interface Notebook {
  nbformat: number;
  metadata: { kernelspec?: { name?: string } };
  cells: NotebookCell[];
}

/** Module specifiers of `import … from "x"`, `import "x"`, `import("x")` and `require("x")`. */
function moduleSpecifiers(code: string): string[] {
  const pattern = /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)["']([^"']+)["']/g;
  return Array.from(code.matchAll(pattern), (m) => m[1]!);
}

/** True when ../dist/<rel> will exist after `npm run build` (tsconfig.build.json: src -> dist, minus src/cli). */
function builtFromSource(srcRoot: string, rel: string): boolean {
  const stem = rel.replace(/\.(js|d\.ts)$/, "");
  if (stem === "cli" || stem.startsWith("cli/")) return false;
  return [`${stem}.ts`, `${stem}/index.ts`].some((candidate) => existsSync(path.join(srcRoot, candidate)));
}

/** Every problem found in one notebook, each naming the notebook and cell. */
function notebookProblems(name: string, text: string, srcRoot: string): string[] {
  let nb: Notebook;
  try {
    nb = JSON.parse(text) as Notebook;
  } catch (err) {
    return [`${name}: not valid JSON (${(err as Error).message})`];
  }
  const problems: string[] = [];
  if (nb.nbformat !== 4) problems.push(`${name}: nbformat ${String(nb.nbformat)}, expected 4`);
  const kernel = nb.metadata?.kernelspec?.name;
  if (kernel !== "tslab") problems.push(`${name}: kernelspec.name is ${JSON.stringify(kernel)}, expected "tslab"`);
  (nb.cells ?? []).forEach((cell, index) => {
    if (cell.cell_type !== "code") return;
    const code = Array.isArray(cell.source) ? cell.source.join("") : cell.source;
    for (const spec of moduleSpecifiers(code)) {
      const where = `${name} cell ${index}: "${spec}"`;
      if (/^(\.\.\/)+src(\/|$)/.test(spec)) {
        problems.push(`${where} imports TypeScript from src/ - tslab cannot compile it; import from "../dist/…"`);
      } else if (spec.startsWith("../dist/") && !builtFromSource(srcRoot, spec.slice("../dist/".length))) {
        problems.push(`${where} has no source under src/ (or is excluded from the build)`);
      }
    }
  });
  return problems;
}

function committedNotebooks(): string[] {
  return readdirSync(notebooksDir)
    .filter((f) => f.endsWith(".ipynb") && !f.endsWith(".nbconvert.ipynb"))
    .sort();
}

test("the checks flag ../src imports, missing or excluded ../dist targets and a wrong kernel", () => {
  const bad = JSON.stringify({
    nbformat: 4,
    metadata: { kernelspec: { name: "python3" } },
    cells: [
      { cell_type: "markdown", source: 'import { x } from "../src/ignored-in-markdown";' },
      { cell_type: "code", source: ['import { Rng } from "../src/util/rng";\n', 'import "../dist/util/rng";\n'] },
      { cell_type: "code", source: 'const a = require("../dist/no/such/module");\nimport("../dist/cli/main");' },
    ],
  });
  assert.deepEqual(notebookProblems("bad.ipynb", bad, path.join(repoRoot, "src")), [
    'bad.ipynb: kernelspec.name is "python3", expected "tslab"',
    'bad.ipynb cell 1: "../src/util/rng" imports TypeScript from src/ - tslab cannot compile it; import from "../dist/…"',
    'bad.ipynb cell 2: "../dist/no/such/module" has no source under src/ (or is excluded from the build)',
    'bad.ipynb cell 2: "../dist/cli/main" has no source under src/ (or is excluded from the build)',
  ]);
  assert.match(notebookProblems("broken.ipynb", "{", repoRoot).join(""), /^broken.ipynb: not valid JSON/);
});

test("every committed notebook uses the tslab kernel and imports the library from ../dist", () => {
  const names = committedNotebooks();
  assert.ok(names.includes("00-smoke.ipynb"), `notebooks/00-smoke.ipynb missing (found: ${names.join(", ")})`);
  const problems = names.flatMap((name) =>
    notebookProblems(name, readFileSync(path.join(notebooksDir, name), "utf8"), path.join(repoRoot, "src")),
  );
  assert.deepEqual(problems, []);
});
