#!/usr/bin/env bash
# The main job on the bundled example region.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-out/demo}
X=.venv/bin/xzgov
mkdir -p "$OUT"
echo "== 1. validate every manifest"
$X validate
echo "== 2. the system register"
$X register
echo "== 3. Ansible inventories per site"
$X inventory
