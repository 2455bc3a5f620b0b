#!/usr/bin/env bash
# One command for the first real GPU: kernel tests against the float64 oracle, the tuner, and the
# benchmarks (kernel suites quick; `bench --e2e` for tiny, small and paper), written as ONE JSON file.
# Made for a lent machine without network that gets the git-tracked files plus the carried folder
# .device-pack (node scripts/device-pack.mjs, run beforehand where npm works): it unpacks node,
# node_modules and dist from there when the checkout has none. Whole run < 8 min: each step has a
# time cap, and a step that would overrun the total is skipped with a note, never left half-written.
#
#   scripts/device-check.sh [--quick] [--out FILE]
#     --quick   local smoke run: one kernel test file, tiny e2e only, shorter caps
#     --out     the JSON file (default $OUT/device-check.json when $OUT is set, else ./device-check.json)
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
QUICK=0
OUTFILE="${OUT:+$OUT/device-check.json}"
OUTFILE="${OUTFILE:-$REPO/device-check.json}"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --out) OUTFILE="$2"; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "device-check: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
START=$(date +%s)
TOTAL_S=${CPC_DEVICE_TOTAL_S:-450}   # under the 8 minutes, leaving time to copy the result back
WORK=$(mktemp -d /tmp/cpc-device-check.XXXXXX)
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
log() { echo "device-check: $*" >&2; }

# ---- environment: node, node_modules, dist, Vulkan loader from the pack where missing
PACK=$REPO/.device-pack/cpc-device.tar.xz
NODE=$(command -v node || true)
if [ -f "$PACK" ]; then
  log "unpacking $PACK"
  mkdir -p /tmp/cpc-device && tar -C /tmp/cpc-device -xJf "$PACK" || { log "cannot unpack $PACK"; exit 1; }
  # The pack's node: the same binary the pack was made and tested with.
  NODE=/tmp/cpc-device/node/bin/node
  [ -e node_modules ] || ln -s /tmp/cpc-device/node_modules node_modules
  # dist/ is copied, not linked: it reads ../package.json and ../interop/ next to itself.
  [ -e dist ] || cp -a /tmp/cpc-device/dist dist
  # Libraries this machine's loader cannot find come from the pack (never shadowing its own).
  mkdir -p /tmp/cpc-device/libfill
  for f in /tmp/cpc-device/lib/*; do
    ldconfig -p 2>/dev/null | grep -q " $(basename "$f") " || ln -sf "$f" /tmp/cpc-device/libfill/
  done
  export LD_LIBRARY_PATH=/tmp/cpc-device/libfill${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
[ -n "$NODE" ] || { log "no node and no .device-pack (run node scripts/device-pack.mjs where npm works, carry .device-pack)"; exit 1; }
# NVIDIA's ICD may sit only under the driver's mount (seen on the lent machines).
if ! ls /usr/share/vulkan/icd.d/nvidia*.json /etc/vulkan/icd.d/nvidia*.json >/dev/null 2>&1 \
   && [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ] && [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
CLI=("$NODE" "$REPO/bin/cpc-webgpu.mjs")

# ---- steps: each writes $WORK/<name>.{out,err,rc,s}; the report (scripts/device-report.mjs) reads them
step() { # step NAME CAP_S CMD…  (skipped when the total budget has no CAP_S left)
  local name=$1 cap=$2; shift 2
  local left=$((TOTAL_S - ($(date +%s) - START)))
  if [ "$left" -lt "$cap" ]; then
    [ "$left" -lt 20 ] && { echo "skipped: ${left}s left of ${TOTAL_S}s" >"$WORK/$name.skip"; log "$name skipped"; return; }
    cap=$left
  fi
  log "$name (cap ${cap}s): $*"
  local t0=$(date +%s)
  timeout -k 10 "$cap" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" </dev/null
  echo $? >"$WORK/$name.rc"
  echo $(( $(date +%s) - t0 )) >"$WORK/$name.s"
  log "$name: rc $(cat "$WORK/$name.rc") in $(cat "$WORK/$name.s")s"
}

if command -v nvidia-smi >/dev/null; then nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader >"$WORK/gpu.txt" 2>&1; else echo "no nvidia-smi" >"$WORK/gpu.txt"; fi
step info 60 "${CLI[@]}" info --json
if [ "$QUICK" = 1 ]; then
  step kernel_tests 150 env CPC_DEVICE_TESTS=tests/adam.test.ts CPC_DEVICE_TEST_WORKERS=1 "$NODE" node_modules/vitest/vitest.mjs run --config scripts/device-vitest.config.ts --reporter=json --outputFile="$WORK/vitest.json"
else
  step kernel_tests 150 "$NODE" node_modules/vitest/vitest.mjs run --config scripts/device-vitest.config.ts --reporter=json --outputFile="$WORK/vitest.json"
fi
# The tuner is another branch's work: run it when this build has the command.
if "${CLI[@]}" --help 2>/dev/null | grep -qE '^\s+tune\b'; then
  if [ "$QUICK" = 1 ]; then step tune 90 "${CLI[@]}" tune --preset tiny --json; else step tune 60 "${CLI[@]}" tune --json; fi
else
  echo "skipped: this build has no 'cpc-webgpu tune' command" >"$WORK/tune.skip"
fi
if [ "$QUICK" = 1 ]; then
  step bench_kernels 90 "${CLI[@]}" bench --only adam --quick --json
  step bench_e2e 150 "${CLI[@]}" bench --e2e --quick --presets tiny --json
else
  step bench_kernels 60 "${CLI[@]}" bench --only conv,gru,infonce,adam --quick --json
  step bench_e2e 150 "${CLI[@]}" bench --e2e --presets tiny,small,paper --json
fi

mkdir -p "$(dirname "$OUTFILE")"
"$NODE" "$REPO/scripts/device-report.mjs" "$WORK" "$OUTFILE" "$QUICK" "$(( $(date +%s) - START ))"
rc=$?
rm -rf "$WORK"
exit $rc
