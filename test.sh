#!/usr/bin/env bash
# Set up (idempotently, see setup.sh) and run the whole test suite: lint, then every test, slow ones included.
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh
.venv/bin/ruff check .
# pyproject.toml's addopts run the tests in a pytest-xdist worker (a test that crashes the interpreter is reported as
# that test's failure and the rest still run) and list skips with their reasons (-rfEs).
PYTHONFAULTHANDLER=1 exec .venv/bin/python -m pytest -m "slow or not slow" -q "$@"
