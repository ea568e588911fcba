#!/usr/bin/env bash
# The whole test suite: system packages, build, type check, lint, then every test with
# node's test runner; the last line counts every run's tests ("N passed, N failed"). A private Postgres cluster
# (scripts/with-postgres.ts) serves the store contract suites and a second pass of the core
# and object end-to-end tests on Postgres; check-store-methods.ts reports which Store methods
# that pass called (and names the ones it did not). scripts/test-runs.sh says which runs go
# side by side, and prints the slowest test files at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-system-deps.sh
[ -d node_modules ] || npm install --no-audit --no-fund
npx tsc -b packages/cli tsconfig.test.json
node packages/worker/scripts/bundle-runtime.mjs
node packages/cli/scripts/bundle-cli.mjs
npx tsc -p packages/server/ui
node packages/server/scripts/build-ui.mjs
npx biome check --error-on-warnings .
bash scripts/ensure-test-image.sh
files=$(find packages/*/src test -name '*.test.ts' -not -path '*/node_modules/*' -not -name 'images*.test.ts' -not -name 'packaging.test.ts' | sort | tr '\n' ' ')
# The runs (the image and packaging tests among them), on a private Postgres cluster; the last
# line counts every run's tests.
exec node --import tsx scripts/with-postgres.ts bash scripts/test-runs.sh "$files"
