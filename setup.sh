#!/usr/bin/env bash
# Set up codekiln on this machine, idempotently: Debian packages, .venv, llama.cpp built for this CPU and proven to
# run the embedded model, the package with pinned deps. A second run checks and reuses what is installed.
# llama-cpp-python is built from source once per CPU and compiler (5-25 min on 2 cores) by tools/llama/build.py and
# cached in ~/.cache/codekiln/llama; on CPUs with AMX it builds two variants and keeps the fastest that works.
set -euo pipefail
cd "$(dirname "$0")"

apt_needed=()
command -v bwrap >/dev/null 2>&1 || apt_needed+=(bubblewrap)
[ -x /usr/bin/chromium ] || apt_needed+=(chromium)
command -v sqlite3 >/dev/null 2>&1 || apt_needed+=(sqlite3)
if [ ${#apt_needed[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${apt_needed[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${apt_needed[@]}" >/dev/null
fi

PY=""
for cand in python3.11 /root/.pyenv/versions/3.11.7/bin/python3 python3; do
  if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
    PY=$(command -v "$cand"); break
  fi
done
[ -n "$PY" ] || { echo "setup: error: Python 3.11 not found; install python3.11 and rerun" >&2; exit 2; }
[ -x .venv/bin/python ] || "$PY" -m venv .venv

pip_quiet() {  # pip without its noise about this machine's local mirrors; fails when pip fails
  .venv/bin/python -m pip "$@" 2>&1 | { grep -v -e '^WARNING: Location' -e 'is ignored: it is neither' || true; }
  return "${PIPESTATUS[0]}"
}

# llama.cpp first, so the package install below finds llama-cpp-python satisfied and never builds its own.
.venv/bin/python tools/llama/build.py ensure

# Reinstall only when the dependency declarations changed since the last successful install.
stamp=.venv/.codekiln-deps
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || ! .venv/bin/python -c 'import codekiln' 2>/dev/null; then
  echo "setup: installing codekiln and its pinned dependencies into .venv"
  pip_quiet install -q --disable-pip-version-check --upgrade pip wheel
  pip_quiet install -q --disable-pip-version-check -c constraints.txt -e ".[dev,ui,ray,track]"
  .venv/bin/python -c 'import codekiln, llama_cpp, torch, trl, playwright, ray, tensorboard' || { echo "setup: error: install failed" >&2; exit 1; }
  echo "$want" > "$stamp"
fi

# Prove the main job can run: the embedded model, loaded as `codekiln run` loads it, generates in a child process.
.venv/bin/python tools/llama/build.py check
echo "setup: ready (.venv/bin/codekiln)"
