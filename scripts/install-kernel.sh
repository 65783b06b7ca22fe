#!/usr/bin/env bash
# Register the tslab TypeScript kernel (kernel name "tslab") for THIS checkout.
#
# Two registrations, because the kernel spec stores an absolute path to this checkout's tslab:
#   local  - <repo>/.cache/jupyter/share/jupyter/kernels/tslab. scripts/run-notebooks.sh puts that folder
#            first on JUPYTER_PATH, so headless runs always use this checkout's tslab, whatever else is
#            registered on the machine (e.g. a second clone used for a CI dry run).
#   global - the normal Jupyter registry (system-wide when root, per-user otherwise; tslab's own default),
#            so `jupyter notebook` offers the "TypeScript" kernel. Replaces any earlier "tslab" spec.
#
# Scope: SEA_KERNEL_SCOPE=local|global (global = both). Default: global, but local when CI=true, so a
# throw-away CI clone never repoints the machine-wide kernel at itself.
# Process settings: the kernel starts as `node --single-threaded-gc <tslab> kernel …` with glibc's malloc tunables
# in its environment, the settings the `sea` command runs under (bin/process-settings.js). SEA_PROCESS_TUNING=0
# registers it with Node's and glibc's defaults.
# Python: SEA_PYTHON (default /usr/bin/python3, the Debian interpreter that has jupyter_client + ipykernel;
# a pyenv/conda `python3` earlier on PATH usually lacks them).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${SEA_PYTHON:-/usr/bin/python3}"
tslab="$repo/node_modules/.bin/tslab"
local_prefix="$repo/.cache/jupyter"
local_data_dir="$local_prefix/share/jupyter"

if [[ "${CI:-}" == "true" ]]; then default_scope=local; else default_scope=global; fi
scope="${SEA_KERNEL_SCOPE:-$default_scope}"

die() { echo "install-kernel: $*" >&2; exit 1; }

case "$scope" in local | global) ;; *) die "SEA_KERNEL_SCOPE must be 'local' or 'global', got '$scope'" ;; esac
[[ -x "$tslab" ]] || die "$tslab not found - run 'npm ci' in $repo first (or scripts/setup.sh)"
[[ -x "$python" ]] || die "python '$python' not found - install python3 or set SEA_PYTHON"
"$python" -c 'import jupyter_client, ipykernel' 2>/dev/null ||
  die "$python cannot import jupyter_client/ipykernel - apt-get install python3-ipykernel python3-nbclient jupyter-nbconvert"
command -v node >/dev/null || die "node is not on PATH (the kernel spec starts tslab with the node found there)"

# Silences debugpy's "frozen modules" banner that Debian's python prints when jupyter_client is imported.
export PYDEVD_DISABLE_FILE_VALIDATION=1

# Prints, tab-separated, the folder of kernel "tslab" as Jupyter resolves it with the current JUPYTER_PATH, the tslab
# program its argv starts, and "tuned" when it starts with the process settings (else "defaults").
resolved_tslab_spec() {
  "$python" -Xfrozen_modules=off - <<'PY'
from jupyter_client.kernelspec import KernelSpecManager
spec = KernelSpecManager().get_kernel_spec("tslab")
program = next((a for a in spec.argv if a.endswith("/tslab")), spec.argv[0])
tuned = "--single-threaded-gc" in spec.argv and "GLIBC_TUNABLES" in spec.env
print(spec.resource_dir, program, "tuned" if tuned else "defaults", sep="\t")
PY
}

# Rewrites the spec in folder $1 to start tslab under the process settings (see the top of this file).
tune_spec() {
  [[ "${SEA_PROCESS_TUNING:-}" == "0" ]] && return 0
  node - "$1/kernel.json" "$tslab" "$repo/bin/process-settings.js" <<'JS'
const fs = require("fs");
const [file, tslab, settingsModule] = process.argv.slice(2);
const { GC_FLAG, MALLOC_TUNABLES } = require(settingsModule);
const spec = JSON.parse(fs.readFileSync(file, "utf8"));
if (spec.argv[0] !== tslab) throw new Error(`${file}: argv[0] is ${spec.argv[0]}, expected ${tslab}`);
spec.argv = ["node", GC_FLAG, ...spec.argv];
spec.env = { ...spec.env, GLIBC_TUNABLES: MALLOC_TUNABLES };
fs.writeFileSync(file, JSON.stringify(spec, null, 1) + "\n");
JS
}

verify() { # $1 = where the spec must resolve; JUPYTER_PATH decides which registry is searched first
  local want_dir="$1" want_settings got_dir got_bin got_settings
  if [[ "${SEA_PROCESS_TUNING:-}" == "0" ]]; then want_settings=defaults; else want_settings=tuned; fi
  IFS=$'\t' read -r got_dir got_bin got_settings < <(resolved_tslab_spec) || die "kernel 'tslab' is not visible to Jupyter after install"
  [[ "$got_dir" == "$want_dir" ]] || die "kernel 'tslab' resolves to $got_dir, expected $want_dir"
  [[ "$got_bin" == "$tslab" ]] || die "kernel 'tslab' in $got_dir starts $got_bin, expected $tslab"
  [[ "$got_settings" == "$want_settings" ]] || die "kernel 'tslab' in $got_dir runs with $got_settings process settings, expected $want_settings"
  echo "install-kernel: kernel 'tslab' -> $got_dir (starts $got_bin, $got_settings process settings)"
}

# tslab's installer writes both "tslab" (TypeScript) and "jslab" (JavaScript) specs.
"$tslab" install --binary "$tslab" --python "$python" --prefix "$local_prefix" >/dev/null
tune_spec "$local_data_dir/kernels/tslab"
JUPYTER_PATH="$local_data_dir" verify "$local_data_dir/kernels/tslab"

if [[ "$scope" == "global" ]]; then
  unset JUPYTER_PATH # the machine-wide registry as `jupyter notebook` sees it
  previous_bin="$( (resolved_tslab_spec 2>/dev/null || true) | cut -f2)"
  if [[ -n "$previous_bin" && "$previous_bin" != "$tslab" ]]; then
    echo "install-kernel: the machine-wide 'tslab' kernel started $previous_bin; it now starts this checkout's"
  fi
  # No --user/--sys-prefix: tslab installs system-wide as root and per-user otherwise.
  "$tslab" install --binary "$tslab" --python "$python" >/dev/null
  IFS=$'\t' read -r global_dir _ < <(resolved_tslab_spec)
  tune_spec "$global_dir"
  verify "$global_dir"
else
  echo "install-kernel: scope=local - the machine-wide Jupyter registry was left unchanged"
fi
