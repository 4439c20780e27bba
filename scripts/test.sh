#!/usr/bin/env bash
# Runs every test: lint, types, then pytest (real booted hosts included when run as root).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
$BIN/ruff check .
$BIN/mypy
$BIN/python -m pytest "$@"
