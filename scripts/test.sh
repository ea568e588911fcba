#!/usr/bin/env bash
# The whole test suite: system packages, build, type check, lint, then every test with
# node's test runner (its summary is the last thing printed).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-system-deps.sh
[ -d node_modules ] || npm install --no-audit --no-fund
npx tsc -b packages/cli tsconfig.test.json
npx biome check --error-on-warnings .
bash scripts/ensure-test-image.sh
files=$(find packages/*/src test -name '*.test.ts' -not -path '*/node_modules/*' -not -name 'images*.test.ts' | sort)
# The image tests build layers (apt, npm, copies of a 180 MB root): a file can pass three
# minutes on a slow or busy machine, so they run first, with a longer limit per file.
images_status=0
node --import tsx --test --test-concurrency=1 --test-timeout=900000 test/images*.test.ts || images_status=$?
status=0
node --import tsx --test --test-concurrency=1 --test-timeout=180000 $files || status=$?
[ "$images_status" -ne 0 ] && echo "the image tests failed (their report is above the main one)" >&2
[ "$status" -ne 0 ] && exit "$status"
exit "$images_status"
