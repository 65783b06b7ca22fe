#!/usr/bin/env bash
# One-command set-up of this checkout on Debian 12 / Ubuntu (idempotent; run again at any time):
#   1. Debian packages: OpenBLAS + compiler for the native kernels, Jupyter + nbconvert for the notebooks,
#      chromium + fonts for static figure export (apt runs only when something is missing; sudo when not root)
#   2. npm dependencies (`npm ci`; `npm install` when there is no package-lock.json)
#   3. the native BLAS addon (`node scripts/build-native.js`, when that script exists)
#   4. `npm run build` -> dist/ (the notebooks import the compiled library from ../dist)
#   5. the tslab TypeScript kernel for Jupyter (scripts/install-kernel.sh)
#
# Environment: SEA_SKIP_APT=1 skips step 1; SEA_NATIVE=0 skips step 3 (the pure-JS tfjs backend is used);
# SEA_NPM_CI=1 forces step 2 when node_modules is newer than package-lock.json (always forced when CI=true);
# SEA_KERNEL_SCOPE, SEA_PYTHON: see scripts/install-kernel.sh.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

# Needed by the native addon (build), the notebooks (Jupyter, run headless by scripts/run-notebooks.sh), the
# kernel registration (/usr/bin/python3 with ipykernel) and figure export (chromium driven by playwright-core).
apt_required=(libopenblas-dev pkg-config g++ make python3 jupyter-nbconvert python3-nbclient python3-ipykernel)
# Wanted but not worth failing set-up over where a distribution lacks them: `jupyter notebook` for interactive
# use, `jupyter kernelspec` (Debian's jupyter-client), the browser and a font for static figures.
apt_optional=(jupyter-notebook jupyter-client chromium fonts-dejavu-core)
min_node_major=20

say() { echo "setup: $*"; }
die() { echo "setup: ERROR: $*" >&2; exit 1; }
phase_start=$SECONDS
phase() { say "$1 (+$((SECONDS - phase_start))s)"; }

# (Outputs captured first: with pipefail, `cmd | grep -q` fails when grep exits early and cmd gets SIGPIPE.)
is_installed() { [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]; }
has_candidate() { [[ "$(apt-cache policy "$1" 2>/dev/null)" =~ Candidate:\ [^\(] ]]; }

install_apt_packages() {
  local missing_required=() missing_optional=() pkg
  for pkg in "${apt_required[@]}"; do is_installed "$pkg" || missing_required+=("$pkg"); done
  for pkg in "${apt_optional[@]}"; do is_installed "$pkg" || missing_optional+=("$pkg"); done
  if ((${#missing_required[@]} + ${#missing_optional[@]} == 0)); then
    say "apt: all ${#apt_required[@]}+${#apt_optional[@]} packages already installed"
    return
  fi
  command -v apt-get >/dev/null ||
    die "no apt-get: install ${missing_required[*]} ${missing_optional[*]} by hand, then rerun with SEA_SKIP_APT=1"
  local sudo=()
  if ((EUID != 0)); then
    command -v sudo >/dev/null ||
      die "apt needs root: rerun as root, install sudo, or install ${missing_required[*]} and rerun with SEA_SKIP_APT=1"
    sudo=(sudo)
  fi
  local missing=("${missing_required[@]}" "${missing_optional[@]}")
  say "apt: missing: ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  local to_install=("${missing_required[@]}")
  for pkg in "${missing_optional[@]}"; do
    if has_candidate "$pkg"; then to_install+=("$pkg"); else say "apt: warning: $pkg is not available here - skipped"; fi
  done
  if ((${#to_install[@]})); then
    say "apt: installing ${to_install[*]}"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${to_install[@]}" </dev/null
  fi
}

check_node() {
  command -v node >/dev/null || die "node not found: install Node.js >= $min_node_major with npm"
  command -v npm >/dev/null || die "npm not found: install npm (Node.js >= $min_node_major ships it)"
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  ((major >= min_node_major)) || die "Node.js $(node --version) is too old: this kit needs >= $min_node_major"
}

install_npm_packages() {
  local hidden_lock="node_modules/.package-lock.json"
  if [[ ! -f package-lock.json ]]; then
    say "npm: no package-lock.json - npm install"
    npm install --no-audit --no-fund
  elif [[ "${CI:-}" != "true" && "${SEA_NPM_CI:-0}" != "1" && -f "$hidden_lock" &&
    "$hidden_lock" -nt package-lock.json ]]; then
    say "npm: node_modules is newer than package-lock.json - npm ci skipped (SEA_NPM_CI=1 forces it)"
  else
    say "npm: npm ci"
    npm ci --no-audit --no-fund
  fi
  [[ -x node_modules/.bin/tslab && -x node_modules/.bin/tsc ]] || die "npm finished but tslab/tsc are missing in node_modules/.bin"
}

build_native() {
  if [[ "${SEA_NATIVE:-1}" == "0" ]]; then
    say "native: SEA_NATIVE=0 - addon build skipped"
  elif [[ -f scripts/build-native.js ]]; then
    node scripts/build-native.js || die "the native BLAS addon did not build (see above); SEA_NATIVE=0 skips it"
  else
    say "native: scripts/build-native.js not present - skipped"
  fi
}

native_addon() { find native/build -name '*.node' -type f 2>/dev/null | head -n 1 || true; }

print_summary() {
  local addon kernel_json chromium_version
  addon="$(native_addon)"
  kernel_json="$repo/.cache/jupyter/share/jupyter/kernels/tslab/kernel.json"
  chromium_version="$( (chromium --version 2>/dev/null || true) | head -n 1)"
  echo
  echo "SEA kit set-up done in $((SECONDS - phase_start))s - $repo"
  echo "  node:     $(node --version), npm $(npm --version)"
  if [[ "${SEA_NATIVE:-1}" == "0" ]]; then
    echo "  backend:  pure-JS tfjs 'cpu' (SEA_NATIVE=0) - about 100x slower matmul than the native kernels"
  elif [[ -n "$addon" ]]; then
    echo "  backend:  native OpenBLAS kernels ($addon)"
  else
    echo "  backend:  pure-JS tfjs 'cpu' (no native addon built) - about 100x slower matmul than the native kernels"
  fi
  if [[ -f "$kernel_json" ]]; then
    echo "  kernel:   Jupyter kernel 'tslab' (TypeScript) registered -> $(node -p "require('$kernel_json').argv.join(' ')")"
  else
    echo "  kernel:   NOT registered"
  fi
  echo "  figures:  ${chromium_version:-chromium not found - static figure export unavailable}"
  echo "  next:     npm test  |  bash scripts/run-notebooks.sh  |  jupyter notebook notebooks/"
}

if [[ "${SEA_SKIP_APT:-0}" == "1" ]]; then say "apt: skipped (SEA_SKIP_APT=1)"; else install_apt_packages; fi
phase "system packages ready"
check_node
install_npm_packages
phase "npm packages ready"
build_native
phase "native step done"
npm run build --silent || die "npm run build failed (TypeScript errors above) - the notebooks need dist/"
phase "dist/ built"
bash scripts/install-kernel.sh || die "the Jupyter kernel could not be registered (see above)"
phase "kernel registered"
print_summary
