#!/usr/bin/env bash
# The test runs of scripts/test.sh, inside the private Postgres cluster that with-postgres.ts
# started (SKIFF_TEST_PG_* in the environment). A failing run does not stop the others: every
# run's counts are added up, and the last line says how many tests passed and failed in all.
set -uo pipefail
cd "$(dirname "$0")/.."
images_status=$1
files=$2
# Each file's wall time, one "<seconds> <file>" line each (scripts/file-times.mjs): the image
# run's from scripts/test.sh, then this script's runs'.
times=${4:-$(mktemp)}
log=$(mktemp)
counts=$(mktemp)
trap 'rm -f "$log" "$counts" "$times"' EXIT
failed_runs=()
started=$SECONDS

# run NAME [node --test arguments…]: one `node --test` run (a file at a time unless
# --test-concurrency comes first), its summary counted and its files' times kept.
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

echo "# on Postgres: core calls, maps, classes, restart"
# Not web.test.ts and generators.test.ts: of the Store's methods they call none that these files
# do not (SKIFF_STORE_METHOD_LOG per file, 2026-12-07), and what they prove beyond that is the
# engine's and the gateway's, the same on either store; the SQLite pass runs them.
export SKIFF_STORE_METHOD_LOG=$log
SKIFF_TEST_STORE=postgres run "postgres core" test/calls.test.ts test/map.test.ts test/classes.test.ts \
  test/dashboard-api.test.ts test/retention.test.ts
SKIFF_TEST_STORE=postgres run "postgres faults" \
  --test-name-pattern="parked|a caller blocked in remote|spawned calls \(some running\)|result retention|secret|logs|redeploys|Hono job queue" \
  test/bounded.test.ts test/faults.test.ts test/deploy.test.ts
SKIFF_TEST_STORE=postgres run "postgres restarts" \
  --test-name-pattern="-input map finishes across|does not know on resume" test/restarts.test.ts
unset SKIFF_STORE_METHOD_LOG
node --import tsx scripts/check-store-methods.ts "$log" || failed_runs+=("store methods")
echo "# on Postgres: Dicts and Queues"
SKIFF_TEST_STORE=postgres run "postgres objects" test/objects-dict.test.ts test/objects-queue.test.ts
echo "# everything (SQLite)"
# blobs.test.ts waits more than a minute for the server's blob sweep (a delivered result is held
# 60 s for a resend, sweeps run every 15 s) and uses next to no CPU meanwhile: it runs beside the
# unit tests and the first end-to-end files, its report printed after theirs.
beside=test/blobs.test.ts
beside_out=$(mktemp)
beside_failed=$(mktemp)
(
  run "sqlite (beside the others)" $beside >"$beside_out" 2>&1
  echo "${failed_runs[*]}" >"$beside_failed"
) &
beside_pid=$!
# The unit tests (beside the code they test) start no servers and wait on no clocks: two at a
# time, which halves what their process start-ups cost. The end-to-end files, one at a time.
# shellcheck disable=SC2086 # lists of test files
unit_files=$(printf '%s\n' $files | grep '^packages/' | tr '\n' ' ')
# shellcheck disable=SC2086
e2e_files=$(printf '%s\n' $files | grep -v '^packages/' | grep -vxF "$beside" | tr '\n' ' ')
# shellcheck disable=SC2086
run "sqlite unit" --test-concurrency=2 $unit_files
# shellcheck disable=SC2086
run "sqlite" $e2e_files
wait "$beside_pid"
echo "# the files that ran beside the others ($beside):"
cat "$beside_out"
read -r -a beside_runs <"$beside_failed" || true
# A run's name is words: the subshell wrote the failed runs' names space-separated.
[ ${#beside_runs[@]} -gt 0 ] && failed_runs+=("sqlite (beside the others)")
rm -f "$beside_out" "$beside_failed"

echo "# slowest test files (wall seconds, start-up included) of $((SECONDS - started)) s of runs:"
sort -rn "$times" | head -25

[ "$images_status" -ne 0 ] && failed_runs+=("images and packaging (reported first)")
if [ ${#failed_runs[@]} -gt 0 ]; then echo "failed runs: ${failed_runs[*]}"; fi
awk -v imgs="$3" '{p+=$1; f+=$2} END{split(imgs, a, " "); p+=a[1]; f+=a[2]; print p " passed, " f " failed"}' "$counts"
[ ${#failed_runs[@]} -eq 0 ]
