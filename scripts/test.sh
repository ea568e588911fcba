#!/usr/bin/env bash
# The whole test suite: system packages, build, type check, lint, then every test with
# node's test runner (its summary is the last thing printed). A private Postgres cluster
# (scripts/with-postgres.ts) serves the store contract suites and a second pass of the core
# and object end-to-end tests on Postgres; check-store-methods.ts reports which Store methods
# that pass called (and names the ones it did not).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-system-deps.sh
[ -d node_modules ] || npm install --no-audit --no-fund
npx tsc -b packages/cli tsconfig.test.json
npx tsc -p packages/server/ui
node packages/server/scripts/build-ui.mjs
npx biome check --error-on-warnings .
bash scripts/ensure-test-image.sh
files=$(find packages/*/src test -name '*.test.ts' -not -path '*/node_modules/*' -not -name 'images*.test.ts' -not -name 'packaging.test.ts' | sort | tr '\n' ' ')
# The image tests build layers (apt, npm, copies of a 180 MB root) and the packaging test packs
# and installs every package: a file can pass three minutes on a slow or busy machine, so they
# run first, with a longer limit per file.
images_status=0
node --import tsx --test --test-concurrency=1 --test-timeout=900000 test/images*.test.ts test/packaging.test.ts || images_status=$?
[ "$images_status" -ne 0 ] && echo "the image or packaging tests failed (their report is above the others)" >&2
exec node --import tsx scripts/with-postgres.ts bash -c '
  set -euo pipefail
  log=$(mktemp); trap "rm -f $log" EXIT
  run() { node --import tsx --test --test-concurrency=1 --test-timeout=180000 "$@"; }
  echo "# on Postgres: core calls, maps, classes, web, restart"
  SKIFF_TEST_STORE=postgres SKIFF_STORE_METHOD_LOG=$log run test/calls.test.ts test/map.test.ts test/classes.test.ts test/web.test.ts test/generators.test.ts test/dashboard-api.test.ts test/retention.test.ts
  SKIFF_TEST_STORE=postgres SKIFF_STORE_METHOD_LOG=$log run --test-name-pattern="parked|a caller blocked in remote|spawned calls \(some running\)|result retention|secret|logs|redeploys|Hono job queue" test/bounded.test.ts test/faults.test.ts test/deploy.test.ts
  SKIFF_TEST_STORE=postgres SKIFF_STORE_METHOD_LOG=$log run --test-name-pattern="-input map finishes across|does not know on resume" test/restarts.test.ts
  node --import tsx scripts/check-store-methods.ts $log
  echo "# on Postgres: Dicts and Queues"
  SKIFF_TEST_STORE=postgres run test/objects-dict.test.ts test/objects-queue.test.ts
  echo "# everything (SQLite)"
  run '"$files"'
  exit '"$images_status"'
'
