#!/usr/bin/env bash
# The heavy reliability scenarios at larger sizes (docs/reliability.md): a map under container
# kills, 10k+ spawned calls across a server kill -9, the decoder and live-server fuzzers with
# more cases, 50 clients for 30 s, fork bomb and memory hogs, a 1 GiB volume file both ways,
# 10 minutes of churn (the data's size reported), a 20 000-input map across three worker hosts
# with one killed and one cut off. Prints each scenario's figures (the "ℹ" lines). Takes about
# 15–20 minutes on 2 cores. Sizes can be overridden by env.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-system-deps.sh
[ -d node_modules ] || npm install --no-audit --no-fund
npx tsc -b packages/cli
node packages/worker/scripts/bundle-runtime.mjs
node packages/cli/scripts/bundle-cli.mjs
export SKIFF_KILL_MAP_N="${SKIFF_KILL_MAP_N:-50000}"
export SKIFF_RESTART_SPAWNS="${SKIFF_RESTART_SPAWNS:-20000}"
export SKIFF_FUZZ_CASES="${SKIFF_FUZZ_CASES:-1000000}"
export SKIFF_FUZZ_CONNECTIONS="${SKIFF_FUZZ_CONNECTIONS:-10000}"
export SKIFF_LOAD_CLIENTS="${SKIFF_LOAD_CLIENTS:-50}"
export SKIFF_LOAD_MS="${SKIFF_LOAD_MS:-30000}"
export SKIFF_FLOOD_CONNECTIONS="${SKIFF_FLOOD_CONNECTIONS:-20000}"
export SKIFF_NAT_BYTES="${SKIFF_NAT_BYTES:-100000000}"
export SKIFF_VOLUME_MB="${SKIFF_VOLUME_MB:-1024}"
export SKIFF_CHURN_MS="${SKIFF_CHURN_MS:-600000}"
export SKIFF_RESTART_MAP_N="${SKIFF_RESTART_MAP_N:-100000}"
export SKIFF_RESTART_MAP_PLAN="${SKIFF_RESTART_MAP_PLAN:-kill,term,kill}"
echo "chaos run $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -r), node $(node --version)"
echo "sizes: map ${SKIFF_KILL_MAP_N} inputs, ${SKIFF_RESTART_SPAWNS} spawns, ${SKIFF_FUZZ_CASES} decoder cases," \
  "${SKIFF_FUZZ_CONNECTIONS} fuzzed connections, ${SKIFF_LOAD_CLIENTS} clients for $((SKIFF_LOAD_MS / 1000)) s," \
  "a ${SKIFF_RESTART_MAP_N}-input map across server restarts (${SKIFF_RESTART_MAP_PLAN})," \
  "$((SKIFF_CHURN_MS / 1000)) s of churn, ${SKIFF_FLOOD_CONNECTIONS} flood connections"
# Worker hosts in network namespaces: a 20 000-input map through a killed and a cut-off worker.
SKIFF_WORKERS_MAP_N="${SKIFF_WORKERS_MAP_N:-20000}" node --import tsx --test --test-concurrency=1 \
  --test-timeout=1800000 --test-reporter=spec --test-name-pattern="maps across workers" test/workers.test.ts
exec node --import tsx --test --test-concurrency=1 --test-timeout=1800000 --test-reporter=spec \
  --test-name-pattern="container killed every|spawned calls|across a restart|only ever returns|seeded random|client processes|fork bomb|hog|stops reading|another app|MB file both ways|-input map finishes across|steady workload|idle unauthenticated|through the NAT" \
  packages/protocol/src/frame-fuzz.test.ts test/faults.test.ts test/protocol.test.ts test/load.test.ts test/isolation.test.ts \
  test/objects-volume.test.ts test/restarts.test.ts test/churn.test.ts test/security.test.ts
