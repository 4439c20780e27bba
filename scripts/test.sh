#!/usr/bin/env bash
# Runs every test: lint, types, then pytest (real booted hosts included when run as root).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
export PATH="$PWD/$BIN:$PATH"  # ansible-lint runs ansible-playbook from PATH
$BIN/ruff check .
$BIN/lint-imports --no-cache
$BIN/mypy
$BIN/mypy plugins/inventory/xzgov_register.py plugins/vars/xzgov_sm4vault.py
$BIN/ansible-lint --profile production site.yml roles/
# One worker per CPU (at most 4), a whole module per worker, booted-host modules queued first (tests/conftest.py);
# the slowest tests are listed in the log: keep the run under its 45-min budget.
$BIN/python -m pytest --numprocesses=auto --maxprocesses=4 --dist=loadfile --no-loadscope-reorder --durations=30 "$@"
