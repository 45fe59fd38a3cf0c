#!/usr/bin/env bash
# Set up (idempotently, see setup.sh) and run the whole test suite: lint, then every test, slow ones included.
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh
.venv/bin/ruff check .
PYTHONFAULTHANDLER=1 exec .venv/bin/python -m pytest -m "slow or not slow" -q "$@"
