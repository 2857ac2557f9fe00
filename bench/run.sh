#!/usr/bin/env bash
# Benchmark entry point: sysbench through Sluice vs direct (see bench/README.md).
#   npm run bench -- [options]     builds dist/ first, then runs this
#   bash bench/run.sh --help
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -f dist/main.js ]]; then
  echo "[bench] dist/main.js missing; building" >&2
  npx tsc -p tsconfig.json
fi
command -v sysbench >/dev/null || { echo "[bench] sysbench not found on PATH" >&2; exit 1; }
mkdir -p bench/out
exec npx tsx bench/sysbench-compare.ts "$@"
