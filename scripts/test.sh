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
$BIN/python -m pytest --durations=30 "$@"  # the slowest tests in the log: keep the run under its 45-min budget
