#!/usr/bin/env bash
# Recipe ablation as probe numbers: trains one model per variant (sequentially: the machine is small)
# and prints one JSON line per variant with the trained / random-init / MFCC probe accuracies and
# their 95 % intervals. Usage:
#   bash scripts/ablation.sh PRESET STEPS DATA OUTDIR [variant …]
# PROBE_WINDOWS (default 600) caps the train windows of the probes; the test split is used whole.
# variants (default all): recipe, norm-off, init-pytorch, samespeaker, sampled, sampled-shared
# (sampled: 128 negatives drawn per row, i.e. separately for each k; sampled-shared: one draw of 128
# per position reused for every k, as CPC_audio); also 'uniform'.
set -euo pipefail
preset="$1"; steps="$2"; data="$3"; out="$4"; shift 4
variants=("$@")
[ ${#variants[@]} -eq 0 ] && variants=(recipe norm-off init-pytorch samespeaker sampled sampled-shared)
mkdir -p "$out"
for v in "${variants[@]}"; do
  case "$v" in
    recipe) cfg='{}' ;;
    norm-off) cfg='{"norm": false}' ;;
    init-pytorch) cfg='{"init": "pytorch"}' ;;
    samespeaker) cfg='{"sampling": "samespeaker"}' ;;
    uniform) cfg='{"sampling": "uniform"}' ;;
    sampled) cfg='{"negatives": {"kind": "sampled", "n": 128}}' ;;
    sampled-shared) cfg='{"negatives": {"kind": "sampled", "n": 128, "shared": true}}' ;;
    *) echo "ablation: unknown variant '$v'" >&2; exit 2 ;;
  esac
  echo "$cfg" > "$out/$v.json"
  start=$(date +%s)
  node bin/cpc-webgpu.mjs train --preset "$preset" --config "$out/$v.json" --steps "$steps" --data "$data" \
    --out "$out/$v" --overwrite --probe --probe-max-windows "${PROBE_WINDOWS:-600}" --json 2> "$out/$v.log" | tail -1 > "$out/$v.summary.json"
  node -e '
    const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const p = s.probe, f = (x) => x ? `${(x.test_acc * 100).toFixed(1)} [${(x.test_ci[0] * 100).toFixed(1)}, ${(x.test_ci[1] * 100).toFixed(1)}]` : "—";
    const row = { variant: process.argv[2], seconds: Number(process.argv[3]), final_loss: s.final_loss ?? s.loss ?? null };
    for (const k of ["phone", "speaker"]) if (p[k] !== undefined && p[k] !== null) Object.assign(row, { [k]: f(p[k]), [k + "_random"]: f(p.random_init[k]), [k + "_mfcc"]: f(p.mfcc?.[k]), [k + "_verdict"]: p.verdicts[k] });
    console.log(JSON.stringify(row));
  ' "$out/$v.summary.json" "$v" "$(( $(date +%s) - start ))" | tee -a "$out/ablation.jsonl"
done
