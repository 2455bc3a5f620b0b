#!/usr/bin/env bash
# Assembles a small real-speech WAV folder from Debian packages (the only audio source reachable
# from these machines): seven human voices (recorded people, not TTS) nobody on this project
# recorded or tuned on.
#   alsa-utils             /usr/share/sounds/alsa/*.wav            one speaker, 48 kHz (resampled on load)
#   pocketsphinx-testdata  test/data/librivox/*.wav                a LibriVox reader, 16 kHz
#   pocketsphinx-testdata  test/data/cards/*.wav                   another speaker, 16 kHz
#   asterisk-core-sounds-{en,es,fr,it,ru}-wav                      telephone prompts, 8 kHz:
#       en_US_f_Allison + es_MX_f_Allison (one speaker, two languages), fr_CA_f_June, it_IT_m_Carlo,
#       ru_RU_f_IvrvoiceRU (four speakers)
# Download ≈ 101 MB of .deb files (asterisk ≈ 18–24 MB each), folder ≈ 25 MB of WAV.
# Caveat: the asterisk voices are 8 kHz telephone band, the others wideband, so channel and speaker
# are confounded ACROSS the two groups; within each group (4 voices / 3 voices) they are not.
# Only asterisk prompts of ≥ 24 kB (≥ 1.5 s at 8 kHz) are kept: tones, digits and one-word prompts
# are shorter than a training window; at most MAX_PER_SPEAKER (default 150) per speaker, by name.
# --telephone removes that confound: every wideband file is brought down to 8 kHz (the runtime's
# windowed-sinc resampler, scripts/telephone-band.ts), so all seven voices share the 0–4 kHz band and
# a speaker probe cannot win by telling the two channels apart.
# Usage: bash scripts/fetch-debian-speech.sh [DIR] [--telephone]   (default data/debian-speech); writes DIR/labels.csv.
# Uses `apt-get download` (no install, no root needed beyond a readable apt cache).
set -euo pipefail
out="${1:-data/debian-speech}"
telephone="${2:-}"
case "$telephone" in ""|--telephone) ;; *) echo "fetch-debian-speech: unknown option '$telephone' (only --telephone)" >&2; exit 2 ;; esac
max="${MAX_PER_SPEAKER:-150}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
pkgs="alsa-utils pocketsphinx-testdata asterisk-core-sounds-en-wav asterisk-core-sounds-es-wav asterisk-core-sounds-fr-wav asterisk-core-sounds-it-wav asterisk-core-sounds-ru-wav"
# shellcheck disable=SC2086
( cd "$work" && apt-get download $pkgs >/dev/null ) || {
  echo "fetch-debian-speech: 'apt-get download $pkgs' failed (run 'apt-get update' first?)" >&2
  exit 1
}
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$work/x"; done
mkdir -p "$out"
echo "file,speaker" > "$out/labels.csv"
copy() { # speaker, files...
  local spk="$1"; shift
  for f in "$@"; do
    local name="${spk}_$(basename "$(dirname "$f")")_$(basename "$f")"
    cp "$f" "$out/$name"
    echo "$name,$spk" >> "$out/labels.csv"
  done
}
ast="$work/x/usr/share/asterisk/sounds"
prompts() { # voice folders...: top-level prompts ≥ 24 kB, sorted, capped
  find "$@" -maxdepth 1 -name '*.wav' -size +24k | sort | head -n "$max"
}
copy alsa "$work"/x/usr/share/sounds/alsa/{Front,Rear,Side}_*.wav
copy librivox "$work"/x/usr/share/pocketsphinx/test/data/librivox/*.wav
copy cards "$work"/x/usr/share/pocketsphinx/test/data/cards/*.wav
# shellcheck disable=SC2046
copy allison $(prompts "$ast/en_US_f_Allison" "$ast/es_MX_f_Allison")
# shellcheck disable=SC2046
copy june $(prompts "$ast/fr_CA_f_June")
# shellcheck disable=SC2046
copy carlo $(prompts "$ast/it_IT_m_Carlo")
# shellcheck disable=SC2046
copy ivr-ru $(prompts "$ast/ru_RU_f_IvrvoiceRU")
if [ "$telephone" = --telephone ]; then
  npx --no-install tsx "$(dirname "$0")/telephone-band.ts" "$out"
fi
echo "fetch-debian-speech: $(($(wc -l < "$out/labels.csv") - 1)) files from 7 speakers in $out"
