#!/usr/bin/env bash
# Builds the image layers the image tests share (.skiff-cache/images: the Debian base and the
# fixture's apt and npm steps) before the tests run, so no single test waits minutes for
# mmdebstrap. A no-op (seconds) once built. Where images cannot be built here, the tests say
# NOT CHECKED; this script only reports it.
set -uo pipefail
cd "$(dirname "$0")/.."
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
out=$(env -u SKIFF_SERVER_URL -u SKIFF_TOKEN_ID -u SKIFF_TOKEN_SECRET -u SKIFF_PROFILE \
  HOME="$home" SKIFF_CONFIG_PATH="$home/skiff.toml" SKIFF_IMAGE_DIR="$PWD/.skiff-cache/images" \
  node packages/cli/bin/skiff.js run test/fixtures/image-app.ts 2>&1)
status=$?
if [ $status -ne 0 ]; then
  echo "the test image was not built (the image tests will say why): $(printf '%s' "$out" | tail -3)" >&2
else
  echo "test image ready: $(printf '%s' "$out" | grep -c 'Image step .* built') layer(s) built" >&2
fi
exit 0
