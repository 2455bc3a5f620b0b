#!/usr/bin/env bash
# Assembles a small real-speech WAV folder from Debian packages (the only audio source reachable
# from these machines): three different human voices nobody on this project recorded or tuned on.
#   alsa-utils            /usr/share/sounds/alsa/*.wav           one speaker, 48 kHz (resampled on load)
#   pocketsphinx-testdata test/data/librivox/*.wav              a LibriVox reader, 16 kHz
#   pocketsphinx-testdata test/data/cards/*.wav                 another speaker, 16 kHz
# Usage: bash scripts/fetch-debian-speech.sh [DIR]   (default data/debian-speech); writes DIR/labels.csv.
# Uses `apt-get download` (no install, no root needed beyond a readable apt cache).
set -euo pipefail
out="${1:-data/debian-speech}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
( cd "$work" && apt-get download alsa-utils pocketsphinx-testdata >/dev/null ) || {
  echo "fetch-debian-speech: 'apt-get download alsa-utils pocketsphinx-testdata' failed (run 'apt-get update' first?)" >&2
  exit 1
}
for deb in "$work"/*.deb; do dpkg -x "$deb" "$work/x"; done
mkdir -p "$out"
echo "file,speaker" > "$out/labels.csv"
copy() { # speaker, files...
  local spk="$1"; shift
  for f in "$@"; do
    local name="${spk}_$(basename "$f")"
    cp "$f" "$out/$name"
    echo "$name,$spk" >> "$out/labels.csv"
  done
}
copy alsa "$work"/x/usr/share/sounds/alsa/{Front,Rear,Side}_*.wav
copy librivox "$work"/x/usr/share/pocketsphinx/test/data/librivox/*.wav
copy cards "$work"/x/usr/share/pocketsphinx/test/data/cards/*.wav
echo "fetch-debian-speech: $(($(wc -l < "$out/labels.csv") - 1)) files from 3 speakers in $out"
