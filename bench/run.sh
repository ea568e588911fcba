#!/usr/bin/env bash
# Runs every benchmark once, each beside its peer or baseline; prints the ratios.
# Needs redis-server (Debian) for the BullMQ comparisons, and python3-distributed for the Dask
# one: installed here when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
/usr/bin/python3 -c "import dask.distributed" >/dev/null 2>&1 || need+=(python3-distributed)
if [ "${#need[@]}" -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
bash scripts/ensure-system-deps.sh
npx tsc -b packages/cli
node packages/worker/scripts/bundle-runtime.mjs
node packages/cli/scripts/bundle-cli.mjs
echo "# $(date -u +%Y-%m-%d) on $(nproc) cores, $(node --version), $(uname -sr)"
# Sample counts: BENCH_LATENCY_N, BENCH_COLD_N, BENCH_QUICKSTART_N, BENCH_WEB_N (each has a default).
BENCH_N="${BENCH_LATENCY_N:-3000}" node --import tsx bench/remote-latency.ts; echo
BENCH_N="${BENCH_COLD_N:-30}" node --import tsx bench/cold-start.ts; echo
node --import tsx bench/cold-fanout.ts; echo
BENCH_N="${BENCH_QUICKSTART_N:-10}" node --import tsx bench/quickstart.ts; echo
BENCH_N="${BENCH_MAP_N:-100000}" node --import tsx bench/map-throughput.ts; echo
BENCH_N="${BENCH_MAP_N:-100000}" node --import tsx bench/map-defaults.ts; echo
BENCH_N="${BENCH_GEN_N:-1000000}" node --import tsx bench/gen-throughput.ts; echo
BENCH_N="${BENCH_WEB_N:-3000}" BENCH_SECONDS="${BENCH_WEB_SECONDS:-10}" node --import tsx bench/web-throughput.ts; echo
node --import tsx bench/store-compare.ts; echo
node --import tsx bench/store-spawns.ts; echo
BENCH_N="${BENCH_DICT_N:-3000}" node --import tsx bench/objects-dict.ts; echo
BENCH_N="${BENCH_QUEUE_N:-200000}" node --import tsx bench/objects-queue.ts; echo
BENCH_MIB="${BENCH_VOLUME_MIB:-1024}" node --import tsx bench/objects-volume.ts
echo; BENCH_N="${BENCH_WEB_N:-2000}" BENCH_SECONDS="${BENCH_WEB_SECONDS:-10}" node --import tsx bench/web-node.ts
# Images: redeploy unchanged, cold start in an image, bytes per layer (the first build beside
# the same steps by hand takes minutes: BENCH_IMAGE_FIRST=1).
echo; BENCH_N="${BENCH_IMAGE_N:-15}" node --import tsx bench/images.ts
echo; BENCH_SECONDS="${BENCH_BATCH_SECONDS:-8}" node --import tsx bench/batching.ts
echo; BENCH_N="${BENCH_CALLS_N:-1000000}" node --import tsx bench/calls-list.ts
echo; BENCH_N="${BENCH_MAP_N:-100000}" node --import tsx bench/dashboard-overhead.ts
# Worker hosts: map and warm .remote through three workers beside local, and a killed worker's recovery.
echo; BENCH_N="${BENCH_WORKERS_N:-50000}" node --import tsx bench/workers.ts
# The 10-million-input memory run takes minutes: BENCH_MEMORY=1 to include it.
if [ "${BENCH_MEMORY:-0}" = "1" ]; then echo; BENCH_N="${BENCH_MEMORY_N:-10000000}" node --import tsx bench/map-memory.ts; fi
