#!/usr/bin/env bash
# The test command (README): checks/installs the software GPU and Chromium, runs every vitest suite
# on a real WebGPU adapter, and ends with one plain line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
bash scripts/install-system-deps.sh || exit 1
[ -d node_modules ] || npm ci
# The CLI tests run bin/cpc-webgpu.mjs, which runs dist/: rebuild it when a source is newer.
node scripts/build.mjs --if-stale || exit 1
mkdir -p test-output
rm -f test-output/vitest.json
npx vitest run --reporter=default --reporter=json --outputFile.json=test-output/vitest.json "$@"
rc=$?
node scripts/summarize-tests.mjs test-output/vitest.json || rc=1
exit $rc
