#!/usr/bin/env bash
# The test runs of scripts/test.sh, inside the private Postgres cluster that with-postgres.ts
# started (SKIFF_TEST_PG_* in the environment). A failing run does not stop the others: every
# run's counts are added up, and the last line says how many tests passed and failed in all;
# above it, the slowest test files (wall time, start-up included).
set -uo pipefail
cd "$(dirname "$0")/.."
files=$1
# Each file's wall time, one "<seconds> <file> [<run>]" line each (scripts/file-times.mjs).
times=$(mktemp)
log=$(mktemp)
counts=$(mktemp)
trap 'rm -f "$log" "$counts" "$times"' EXIT
failed_runs=()
started=$SECONDS

# run NAME [node --test arguments…]: one `node --test` run (a file at a time, within 3 minutes
# each, unless the arguments say otherwise), its summary counted and its files' times kept.
run() {
  local name=$1
  shift
  local out run_times
  out=$(mktemp)
  run_times=$(mktemp)
  local run_start=$SECONDS
  node --import tsx --test --test-concurrency=1 --test-timeout=180000 \
    --test-reporter=tap --test-reporter-destination=stdout \
    --test-reporter=./scripts/file-times.mjs --test-reporter-destination="$run_times" "$@" 2>&1 | tee "$out"
  local status=${PIPESTATUS[0]}
  awk '/^# pass /{p=$3} /^# fail /{f=$3} /^# cancelled /{c=$3} END{print p+0, f+c+0}' "$out" >>"$counts"
  awk -v run="$name" '{print $0 " [" run "]"}' "$run_times" >>"$times"
  echo "# run \"$name\": $((SECONDS - run_start)) s"
  rm -f "$out" "$run_times"
  if [ "$status" -ne 0 ]; then failed_runs+=("$name"); fi
}

# beside NAME COMMAND…: COMMAND (run() calls, in a function) in the background; end_beside
# waits for it and prints its report, and the names of its runs that failed.
beside_pids=()
beside_names=()
beside_outs=()
beside() {
  local name=$1 out
  shift
  out=$(mktemp)
  (
    "$@" >"$out" 2>&1
    [ ${#failed_runs[@]} -eq 0 ] || echo "failed runs: ${failed_runs[*]}" >>"$out"
    [ ${#failed_runs[@]} -eq 0 ] # the subshell's status: whether its runs passed
  ) &
  beside_pids+=($!)
  beside_names+=("$name")
  beside_outs+=("$out")
}
end_beside() {
  local i
  for i in "${!beside_pids[@]}"; do
    wait "${beside_pids[$i]}" || failed_runs+=("${beside_names[$i]}")
    cat "${beside_outs[$i]}"
    rm -f "${beside_outs[$i]}"
  done
  beside_pids=()
  beside_names=()
  beside_outs=()
}

# shellcheck disable=SC2086 # lists of test files
unit_files=$(printf '%s\n' $files | grep '^packages/' | tr '\n' ' ')
beside=test/blobs.test.ts
# shellcheck disable=SC2086
e2e_files=$(printf '%s\n' $files | grep -v '^packages/' | grep -vxF "$beside" | tr '\n' ' ')

# The Postgres passes (the run's cluster: SKIFF_TEST_PG). Not web.test.ts and generators.test.ts:
# of the Store's methods they call none that these files do not (SKIFF_STORE_METHOD_LOG per
# file, 2026-12-07), and what they prove beyond that is the engine's and the gateway's, the same
# on either store; the SQLite pass runs them. SKIFF_STORE_METHOD_LOG: which Store methods the
# core, fault and restart runs called (check-store-methods.ts, once they are done).
postgres_core() {
  SKIFF_STORE_METHOD_LOG=$log SKIFF_TEST_STORE=postgres run "postgres core" test/calls.test.ts test/map.test.ts \
    test/classes.test.ts test/dashboard-api.test.ts test/retention.test.ts
}
postgres_faults() {
  SKIFF_STORE_METHOD_LOG=$log SKIFF_TEST_STORE=postgres run "postgres faults" \
    --test-name-pattern="parked|a caller blocked in remote|spawned calls \(some running\)|result retention|secret|logs|redeploys|Hono job queue" \
    test/bounded.test.ts test/faults.test.ts test/deploy.test.ts
}
postgres_restarts() {
  SKIFF_STORE_METHOD_LOG=$log SKIFF_TEST_STORE=postgres run "postgres restarts" \
    --test-name-pattern="-input map finishes across|does not know on resume" test/restarts.test.ts
}

# The image tests build layers (apt, npm, copies of a 180 MB root) and the packaging test packs
# and installs every package: a file can pass three minutes on a slow or busy machine, so they
# have a longer limit per file. Beside them, whose times say little, run what waits more than it
# works, in two lanes: the unit tests (beside the code they test: no servers, no clocks), two at
# a time, then the Postgres core and Dict passes; and blobs.test.ts, which waits more than a
# minute for the server's blob sweep (a delivered result is held 60 s for a resend; sweeps run
# every 15 s), then the Postgres fault and Queue passes; the restart pass follows the images.
# The Postgres passes so use what the image builds leave idle instead of coming after them
# (2026-12-08, a loaded machine: the images and the Postgres passes took 470 s one after the
# other, 378 s side by side; each is slower beside the other). The lanes' reports follow the
# images'. The SQLite pass comes after them all: its timing-sensitive files (serve, prefetch,
# fail-fast) run with nothing of this script beside them, and store-faults.test.ts stops and
# starts the cluster that the Postgres passes use.
echo "# packaging alone; then image builds, and beside them the unit tests then Postgres core and Dicts, and $beside then Postgres faults and Queues (reported after)"
unit_then_postgres() {
  # shellcheck disable=SC2086
  run "sqlite unit" --test-concurrency=2 $unit_files
  postgres_core
  SKIFF_TEST_STORE=postgres run "postgres dicts" test/objects-dict.test.ts
}
blobs_then_postgres() {
  run "sqlite blobs" "$beside"
  postgres_faults
  SKIFF_TEST_STORE=postgres run "postgres queues" test/objects-queue.test.ts
}
# The packaging test first, with nothing beside it: its `npm pack` runs the packages' prepack,
# which rebuilds the CLI's and the runtime's bundles in place, and a CLI started meanwhile finds
# a chunk missing (seen: a retention test's `skiff deploy` beside it, 2026-12-08).
run "packaging" --test-timeout=900000 test/packaging.test.ts
beside "sqlite unit, postgres core and dicts" unit_then_postgres
beside "sqlite blobs, postgres faults and queues" blobs_then_postgres
run "images" --test-timeout=900000 test/images*.test.ts
postgres_restarts
end_beside
node --import tsx scripts/check-store-methods.ts "$log" || failed_runs+=("store methods")
echo "# the end-to-end tests (SQLite)"
# shellcheck disable=SC2086
run "sqlite" $e2e_files

echo "# slowest test files (wall seconds, start-up included), of $((SECONDS - started)) s of runs:"
sort -rn "$times" | head -25
if [ ${#failed_runs[@]} -gt 0 ]; then echo "failed runs: ${failed_runs[*]}"; fi
awk '{p+=$1; f+=$2} END{print p " passed, " f " failed"}' "$counts"
[ ${#failed_runs[@]} -eq 0 ]
