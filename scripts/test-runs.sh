#!/usr/bin/env bash
# The test runs of scripts/test.sh, inside the private Postgres cluster that with-postgres.ts
# started (SKIFF_TEST_PG_* in the environment). A failing run does not stop the others: every
# run's counts are added up, and the last line says how many tests passed and failed in all.
set -uo pipefail
cd "$(dirname "$0")/.."
images_status=$1
files=$2
log=$(mktemp)
counts=$(mktemp)
trap 'rm -f "$log" "$counts"' EXIT
failed_runs=()

# run NAME [node --test arguments…]: one `node --test` run, its summary counted.
run() {
  local name=$1
  shift
  local out
  out=$(mktemp)
  node --import tsx --test --test-concurrency=1 --test-timeout=180000 "$@" 2>&1 | tee "$out"
  local status=${PIPESTATUS[0]}
  awk '/^# pass /{p=$3} /^# fail /{f=$3} /^# cancelled /{c=$3} END{print p+0, f+c+0}' "$out" >>"$counts"
  rm -f "$out"
  if [ "$status" -ne 0 ]; then failed_runs+=("$name"); fi
}

echo "# on Postgres: core calls, maps, classes, web, restart"
export SKIFF_STORE_METHOD_LOG=$log
SKIFF_TEST_STORE=postgres run "postgres core" test/calls.test.ts test/map.test.ts test/classes.test.ts test/web.test.ts \
  test/generators.test.ts test/dashboard-api.test.ts test/retention.test.ts
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
# shellcheck disable=SC2086 # a list of test files
run "sqlite" $files

[ "$images_status" -ne 0 ] && failed_runs+=("images and packaging (reported first)")
if [ ${#failed_runs[@]} -gt 0 ]; then echo "failed runs: ${failed_runs[*]}"; fi
awk -v imgs="$3" '{p+=$1; f+=$2} END{split(imgs, a, " "); p+=a[1]; f+=a[2]; print p " passed, " f " failed"}' "$counts"
[ ${#failed_runs[@]} -eq 0 ]
