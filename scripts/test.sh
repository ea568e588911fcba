#!/usr/bin/env bash
# The whole test suite: system packages, build, type check, lint, then every test with
# node's test runner (its summary is the last thing printed).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-system-deps.sh
[ -d node_modules ] || npm install --no-audit --no-fund
npx tsc -b packages/cli tsconfig.test.json
npx tsc -p packages/server/ui
node packages/server/scripts/build-ui.mjs
npx biome check --error-on-warnings .
files=$(find packages/*/src test -name '*.test.ts' -not -path '*/node_modules/*' | sort)
exec node --import tsx --test --test-concurrency=1 --test-timeout=180000 $files
