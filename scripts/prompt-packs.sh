#!/usr/bin/env bash
# Generates the starter prompt packs: the audio of every locale that Vobiz's text-to-speech does
# not speak (hi-IN, ta-IN, te-IN, bn-IN, mr-IN), one WAV per phrase and per digit
# (prompts/hi-IN/7.wav), rendered with espeak-ng and converted with sox to telephone audio
# (8 kHz, mono, 16-bit PCM). With APP_NAME set it also records the intro that names the app
# (prompts/hi-IN/intro-acme.wav).
#
#   scripts/prompt-packs.sh [OUT_DIR]      (default: $PROMPTS_DIR, else prompts/)
#
# File names and words come from the locale files through the code that plays them
# (`cargo run -p devserver --bin prompt-manifest`). A studio recording dropped into
# OUT_DIR/<locale>/ is never overwritten: the script only writes files it generated itself
# (listed in OUT_DIR/<locale>/STARTER with a hash of their words and voice), and regenerates
# those when the words change. Installs espeak-ng and sox with apt-get when they are missing
# and it runs as root.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-${PROMPTS_DIR:-prompts}}"

if ! command -v espeak-ng >/dev/null 2>&1 || ! command -v sox >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "prompt-packs.sh: installing espeak-ng and sox" >&2
    apt-get install -y -qq espeak-ng sox >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq espeak-ng sox >/dev/null; }
  fi
  if ! command -v espeak-ng >/dev/null 2>&1 || ! command -v sox >/dev/null 2>&1; then
    echo "prompt-packs.sh: needs espeak-ng and sox (apt-get install espeak-ng sox)" >&2
    exit 1
  fi
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cargo run -q -p devserver --bin prompt-manifest >"$tmp/manifest.tsv"

made=0 kept=0 studio=0
while IFS=$'\t' read -r tag voice stem words; do
  dir="$OUT/$tag"
  mkdir -p "$dir"
  touch "$dir/STARTER"
  file="$dir/$stem.wav"
  hash="$(printf '%s\t%s' "$voice" "$words" | sha256sum | cut -c1-16)"
  listed="$(awk -F'\t' -v s="$stem" '$1 == s { print $2 }' "$dir/STARTER")"
  if [ -e "$file" ] && [ -z "$listed" ]; then
    studio=$((studio + 1)) # not ours: a recording somebody made
    continue
  fi
  if [ -e "$file" ] && [ "$listed" = "$hash" ]; then
    kept=$((kept + 1))
    continue
  fi
  espeak-ng -v "$voice" -s 140 -w "$tmp/raw.wav" "$words"
  # Telephone audio, a little quiet padding, levels normalised.
  sox "$tmp/raw.wav" -r 8000 -c 1 -b 16 -e signed-integer "$tmp/out.wav" pad 0.05 0.15 norm -3
  mv "$tmp/out.wav" "$file"
  awk -F'\t' -v s="$stem" '$1 != s' "$dir/STARTER" >"$tmp/starter"
  printf '%s\t%s\n' "$stem" "$hash" >>"$tmp/starter"
  sort "$tmp/starter" >"$dir/STARTER"
  made=$((made + 1))
done <"$tmp/manifest.tsv"

echo "prompt-packs.sh: $OUT: $made generated, $kept unchanged, $studio studio recordings left as they are" >&2
