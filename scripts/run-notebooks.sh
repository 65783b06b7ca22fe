#!/usr/bin/env bash
# Execute notebooks headless with the tslab TypeScript kernel; exit 1 if any cell of any notebook fails.
#
#   scripts/run-notebooks.sh [--inplace] [--timeout SECONDS] [--out DIR] [notebook.ipynb ...]
#
# Default: every notebooks/*.ipynb in name order. Executed copies go to --out (default: a fresh temp folder,
# printed at the end); the committed notebooks are only overwritten with --inplace.
# Each notebook runs in its own `jupyter nbconvert --execute` with its folder as the kernel's working directory
# (tslab resolves `../dist/...` and node_modules from there) and stops at its first failing cell.
# Environment: SEA_NOTEBOOK_SIZE is passed through to the notebooks (default "tiny" when CI=true);
# SEA_NOTEBOOK_TIMEOUT = per-cell timeout in seconds (default 900); SEA_PYTHON as in install-kernel.sh;
# SEA_JUPYTER = the jupyter command (default /usr/bin/jupyter, else the one on PATH).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${SEA_PYTHON:-/usr/bin/python3}"
kernel_name="tslab"
local_kernels="$repo/.cache/jupyter/share/jupyter"
timeout_s="${SEA_NOTEBOOK_TIMEOUT:-900}"
inplace=0
out_dir=""
notebooks=()

die() { echo "run-notebooks: $*" >&2; exit 2; }
usage() { sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

while (($#)); do
  case "$1" in
    --inplace) inplace=1 ;;
    --timeout) [[ $# -ge 2 ]] || die "--timeout needs a value"; timeout_s="$2"; shift ;;
    --timeout=*) timeout_s="${1#*=}" ;;
    --out) [[ $# -ge 2 ]] || die "--out needs a value"; out_dir="$2"; shift ;;
    --out=*) out_dir="${1#*=}" ;;
    -h | --help) usage; exit 0 ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *) notebooks+=("$1") ;;
  esac
  shift
done
[[ "$timeout_s" =~ ^[0-9]+$ && "$timeout_s" -gt 0 ]] || die "timeout must be a positive whole number of seconds, got '$timeout_s'"
((inplace == 0)) || [[ -z "$out_dir" ]] || die "--inplace and --out exclude each other"

if ((${#notebooks[@]} == 0)); then
  while IFS= read -r nb; do notebooks+=("$nb"); done < <(
    find "$repo/notebooks" -maxdepth 1 -type f -name '*.ipynb' ! -name '*.nbconvert.ipynb' | LC_ALL=C sort
  )
  ((${#notebooks[@]})) || die "no notebooks found in $repo/notebooks"
fi
for i in "${!notebooks[@]}"; do # absolute paths: each notebook runs after a `cd` into its folder
  nb="${notebooks[$i]}"
  [[ -f "$nb" ]] || die "notebook not found: $nb"
  notebooks[$i]="$(cd "$(dirname "$nb")" && pwd)/$(basename "$nb")"
done

# Preconditions, each naming the command that fixes it.
# Debian's jupyter first: a pyenv/conda `jupyter` earlier on PATH may lack nbconvert or nbclient.
jupyter_bin="${SEA_JUPYTER:-$(if [[ -x /usr/bin/jupyter ]]; then echo /usr/bin/jupyter; else command -v jupyter || true; fi)}"
[[ -n "$jupyter_bin" && -x "$jupyter_bin" ]] || die "jupyter not found - run scripts/setup.sh"
[[ -d "$repo/dist" ]] || die "$repo/dist missing - run 'npm run build' (notebooks import the compiled library from ../dist)"
newest() { find "$@" -type f -printf '%T@\n' 2>/dev/null | sort -n | tail -n 1 | cut -d. -f1; }
src_time="$(newest "$repo/src" -name '*.ts' -not -path '*/cli/*')"
dist_time="$(newest "$repo/dist" -name '*.js')"
if [[ -z "$dist_time" ]] || ((${src_time:-0} > dist_time)); then
  echo "run-notebooks: warning: src/ has changes newer than dist/ - run 'npm run build' if results look stale" >&2
fi
if [[ ! -f "$local_kernels/kernels/$kernel_name/kernel.json" ]]; then
  SEA_KERNEL_SCOPE=local bash "$repo/scripts/install-kernel.sh"
fi
# This checkout's kernel spec wins over any machine-wide "tslab" registration (see install-kernel.sh).
export JUPYTER_PATH="$local_kernels${JUPYTER_PATH:+:$JUPYTER_PATH}"
export PYDEVD_DISABLE_FILE_VALIDATION=1
if [[ -z "${SEA_NOTEBOOK_SIZE:-}" && "${CI:-}" == "true" ]]; then export SEA_NOTEBOOK_SIZE=tiny; fi

if ((inplace == 0)); then
  if [[ -z "$out_dir" ]]; then out_dir="$(mktemp -d "${TMPDIR:-/tmp}/sea-notebooks.XXXXXX")"; fi
  mkdir -p "$out_dir"
  out_dir="$(cd "$out_dir" && pwd)"
fi
work_dir="$(mktemp -d "${TMPDIR:-/tmp}/sea-notebook-logs.XXXXXX")"
trap 'rm -rf "$work_dir"' EXIT

# nbclient hooks, loaded through nbconvert's --config. tslab's error replies carry no ename/evalue/traceback
# (the message - a TypeScript diagnostic, a thrown Error - is in the cell's stderr stream), so nbconvert's own
# error text says only "<Error>:". on_cell_error writes the failing cell's position, source and output instead;
# on_cell_execute notes the cell being run, which names the cell after a timeout or a dead kernel.
cat >"$work_dir/report_hooks.py" <<'PY'
import os

def _sea_source_lines(cell, limit):
    source = cell.source.strip().splitlines() or [""]
    return [f"    {line}" for line in source[:limit]] + (["    ..."] if len(source) > limit else [])

def _sea_note_running_cell(cell, cell_index, **_):
    with open(os.environ["SEA_NOTEBOOK_REPORT"] + ".running", "w", encoding="utf-8") as note:
        note.write("\n".join([f"while running cell index {cell_index}:"] + _sea_source_lines(cell, 3)) + "\n")

def _sea_report_cell_error(cell, cell_index, execute_reply, **_):
    if "raises-exception" in cell.metadata.get("tags", []):
        return  # the notebook marks this error as expected; nbclient carries on
    noise = ("node_modules/tslab/", "(node:vm:", "at evalmachine.<anonymous>")  # kernel frames, not the user's
    lines = [f"cell index {cell_index} failed:"] + _sea_source_lines(cell, 3) + ["  its output:"]
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            text = [l for l in out.get("text", "").rstrip().splitlines() if not any(n in l for n in noise)]
            lines += [f"    {line}" for line in text[-40:]]
        elif out.get("output_type") == "error":
            lines.append(f"    {out.get('ename', '')}: {out.get('evalue', '')}")
    content = execute_reply.get("content", {})
    if content.get("ename") or content.get("evalue"):
        lines.append(f"    {content.get('ename', '')}: {content.get('evalue', '')}")
    with open(os.environ["SEA_NOTEBOOK_REPORT"], "a", encoding="utf-8") as report:
        report.write("\n".join(lines) + "\n")

c.ExecutePreprocessor.on_cell_execute = _sea_note_running_cell
c.ExecutePreprocessor.on_cell_error = _sea_report_cell_error
PY

# nbconvert's log without the Python traceback of its own machinery (nbconvertapp -> nbclient frames).
show_log() { # $1 = log file
  awk '/^Traceback \(most recent call last\):/ { skip = 1; next }
       skip && /^  / { next }
       { skip = 0; print "    | " $0 }' "$1" | tail -n 40
}

echo "run-notebooks: ${#notebooks[@]} notebook(s), kernel '$kernel_name', cell timeout ${timeout_s}s," \
  "SEA_NOTEBOOK_SIZE=${SEA_NOTEBOOK_SIZE:-(unset)}"
failed=()
for nb in "${notebooks[@]}"; do
  name="$(basename "$nb")"
  log="$work_dir/${name%.ipynb}.log"
  report="$work_dir/${name%.ipynb}.report"
  dest_args=(--output-dir "$out_dir")
  ((inplace == 0)) || dest_args=(--inplace)
  start=$SECONDS
  set +e
  (cd "$(dirname "$nb")" && SEA_NOTEBOOK_REPORT="$report" "$jupyter_bin" nbconvert --to notebook --execute \
    --config="$work_dir/report_hooks.py" \
    --ExecutePreprocessor.timeout="$timeout_s" \
    --ExecutePreprocessor.kernel_name="$kernel_name" \
    "${dest_args[@]}" "$name") >"$log" 2>&1
  rc=$?
  set -e
  if ((rc == 0)); then
    echo "  ok    $name ($((SECONDS - start))s)"
    continue
  fi
  echo "  FAIL  $name ($((SECONDS - start))s, nbconvert exit $rc)"
  if [[ -s "$report" ]]; then
    sed 's/^/    /' "$report"
  else
    show_log "$log"
    if [[ -s "$report.running" ]]; then sed 's/^/    /' "$report.running"; fi
  fi
  failed+=("$name")
  if [[ "$name" == 00-* ]]; then
    echo "run-notebooks: the set-up check $name failed - not running the remaining notebooks" >&2
    break
  fi
done

if ((inplace == 0)); then echo "run-notebooks: executed copies in $out_dir"; fi
if ((${#failed[@]})); then
  echo "run-notebooks: ${#failed[@]} of ${#notebooks[@]} notebook(s) FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "run-notebooks: all ${#notebooks[@]} notebook(s) passed"
