#!/usr/bin/env bash
# The whole test suite: system packages, build, type check, lint, then every test with
# node's test runner; the last line counts every run's tests ("N passed, N failed"). A private Postgres cluster
# (scripts/with-postgres.ts) serves the store contract suites and a second pass of the core
# and object end-to-end tests on Postgres; check-store-methods.ts reports which Store methods
# that pass called (and names the ones it did not).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-system-deps.sh
[ -d node_modules ] || npm install --no-audit --no-fund
npx tsc -b packages/cli tsconfig.test.json
node packages/worker/scripts/bundle-runtime.mjs
npx tsc -p packages/server/ui
node packages/server/scripts/build-ui.mjs
npx biome check --error-on-warnings .
bash scripts/ensure-test-image.sh
files=$(find packages/*/src test -name '*.test.ts' -not -path '*/node_modules/*' -not -name 'images*.test.ts' -not -name 'packaging.test.ts' | sort | tr '\n' ' ')
# The image tests build layers (apt, npm, copies of a 180 MB root) and the packaging test packs
# and installs every package: a file can pass three minutes on a slow or busy machine, so they
# run first, with a longer limit per file.
images_status=0
images_out=$(mktemp)
node --import tsx --test --test-concurrency=1 --test-timeout=900000 test/images*.test.ts test/packaging.test.ts 2>&1 |
  tee "$images_out" || images_status=$?
images_counts=$(awk '/^# pass /{p=$3} /^# fail /{f=$3} /^# cancelled /{c=$3} END{print p+0, f+c+0}' "$images_out")
rm -f "$images_out"
[ "$images_status" -ne 0 ] && echo "the image or packaging tests failed (their report is above the others)" >&2
# The rest on a private Postgres cluster; the last line counts every run's tests.
exec node --import tsx scripts/with-postgres.ts bash scripts/test-runs.sh "$images_status" "$files" "$images_counts"
