#!/usr/bin/env bash
# Runs every benchmark once, each beside its peer or baseline; prints the ratios.
# Needs redis-server (Debian) for the BullMQ comparison: installed here when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v redis-server >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
fi
bash scripts/ensure-system-deps.sh
npx tsc -b packages/cli
echo "# $(date -u +%Y-%m-%d) on $(nproc) cores, $(node --version), $(uname -sr)"
# Sample counts: BENCH_LATENCY_N, BENCH_COLD_N, BENCH_QUICKSTART_N (each has a default).
BENCH_N="${BENCH_LATENCY_N:-3000}" node --import tsx bench/remote-latency.ts; echo
BENCH_N="${BENCH_COLD_N:-30}" node --import tsx bench/cold-start.ts; echo
BENCH_N="${BENCH_QUICKSTART_N:-10}" node --import tsx bench/quickstart.ts
