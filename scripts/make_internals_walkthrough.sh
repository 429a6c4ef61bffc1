#!/usr/bin/env bash
# Regenerates the walkthrough of docs/internals.md (between the "walkthrough:begin/end"
# markers) and its pictures under docs/img/internals/: writes a text of GPL-3 lines mixed with
# random strings said three times (scripts/make_induction_text.py), trains a byte-level GPT-2
# on it until it grows previous-token and induction heads, then runs patterns, ablate, patch,
# lens and attribute on it and pastes each command with what it printed. So the page cannot go
# stale: rerun this after a change and commit what it writes.
#
# Usage: scripts/make_internals_walkthrough.sh [path/to/cugpt]   (default build-cpu/tools/cugpt)
# WORK (default /tmp/cugpt-internals) holds the text and the checkpoint; an existing $WORK/ckpt
# trained by the same command (recorded in $WORK/train.cmd) is reused rather than trained again
# (training takes 3-6 minutes on one cpu core).
set -euo pipefail
trap 'echo "make_internals_walkthrough: failed at line $LINENO" >&2' ERR
root=$(cd "$(dirname "$0")/.." && pwd)
cugpt=${1:-$root/build-cpu/tools/cugpt}
work=${WORK:-/tmp/cugpt-internals}
img=$root/docs/img/internals
licence=/usr/share/common-licenses/GPL-3
mkdir -p "$work" "$img"
[ -r "$licence" ] || { echo "make_internals_walkthrough: $licence not found (Debian base-files)" >&2; exit 1; }

data=$work/induction.txt
python3 "$root/scripts/make_induction_text.py" "$data" --licence "$licence"
# The random strings' alphabet: the induction test draws its random tokens from these.
letters=$work/letters.txt
printf '%s' abcdefghijklmnopqrstuvwxyz >"$letters"
# The examples: a made-up name said twice, and a clean/corrupted pair one letter apart.
name=wkqxbrtjv
rep=$name$name
clean=${name}${name%?} corrupt=${name%?}z${name%?} tgt=${name: -1} dis=z
train=(train gpt2-bytes-tiny --data "$data" --steps 6000 --batch 32 --seq 64 --lr 2e-3
       --weight-decay 0 --warmup 100 --log-every 500 --eval-every 500 --out "$work/ckpt")
if [ ! -s "$work/ckpt/model.safetensors" ] || [ ! -s "$work/train.log" ] ||
   [ "$(cat "$work/train.cmd" 2>/dev/null)" != "${train[*]}" ]; then
  rm -rf "$work/ckpt"
  "$cugpt" "${train[@]}" >"$work/train.log"
  printf '%s' "${train[*]}" >"$work/train.cmd"
fi
w=$work/ckpt/model.safetensors
md=$work/walkthrough.md
: >"$md"
say() { printf '%s\n' "$@" >>"$md"; }
# run ARGS...: the command as a reader types it, then its output.
run() {
  local shown="build/tools/cugpt"
  for a in "$@"; do
    case $a in
      *\ *|*\;*|*\'*|*,*) shown+=" \"$a\"" ;;
      *) shown+=" $a" ;;
    esac
  done
  shown=${shown//$work/\/tmp\/walk}
  shown=${shown//$root\//}
  say '```sh' "$shown" '```' '' '```'
  "$cugpt" "$@" 2>&1 | sed "s|$work|/tmp/walk|g" >>"$md"
  say '```' ''
}
copy() { cp "$work/$1" "$img/$2"; }

say "### The model" "" \
  "A 120k-parameter byte-level GPT-2 (\`configs/gpt2-bytes-tiny.json\`: 2 layers, 4 heads," \
  "C = 64) trained on 400 kB written by \`scripts/make_induction_text.py\` (seeded): each line" \
  "is, by a coin toss, a line of the GNU GPL version 3 ($licence, shipped by Debian)" \
  "or a random lowercase string of 4 to 16 letters said three times with nothing between:" \
  "" '```'
head -n 6 "$data" >>"$md"
say '```' '' \
  "Nothing but copying predicts the repeats, and nothing but the letters themselves says where" \
  "a repeat starts. The validation loss drops steeply once the model starts copying:" "" \
  '```sh'
shown="build/tools/cugpt ${train[*]}"
say "${shown//$work/\/tmp\/walk}" '```' '' '```'
grep -E '^step +[0-9]+ \| validation' "$work/train.log" >>"$md"
grep '^checkpoint' "$work/train.log" | tail -n 1 | sed "s|$work|/tmp/walk|g" >>"$md"
say '```' ''

say "### 1. Find the previous-token and induction heads" "" \
  "30 random letters, then the same 30 again (a copy 29 back, longer than any training" \
  "repeat); the letters are drawn from the alphabet of the random strings (\`--draw-from\`):" ""
pat=(gpt2-bytes-tiny --weights "$w" --length 30 --draw-from "$letters")
run patterns "${pat[@]}" --out "$work/pat"
copy pat/patterns_previous.png patterns-previous.png
copy pat/patterns_induction.png patterns-induction.png
best=$("$cugpt" patterns "${pat[@]}" --json |
  python3 -c "import json,sys; d=json.load(sys.stdin); H=d['heads_per_layer']
p=max(range(len(d['previous'])), key=d['previous'].__getitem__)
i=max(range(len(d['induction'])), key=d['induction'].__getitem__)
print(p // H, p % H, i // H, i % H, '%.2f' % d['previous'][p], '%.2f' % d['induction'][i])")
read -r pl ph il ih ps is <<<"$best"
say "![previous-token scores](img/internals/patterns-previous.png)" \
  "![induction scores](img/internals/patterns-induction.png)" "" \
  "The strongest previous-token head is **layer $pl head $ph** ($ps of its attention on the" \
  "token before), the strongest induction head **layer $il head $ih** ($is on the token after" \
  "the earlier occurrence, where uniform attention would give about 0.02); the tables show" \
  "the other heads of each kind. The model copies in gibberish only: drawn from every byte of" \
  "the training text (capitals, digits, punctuation, which the random strings never hold)," \
  "the same test finds no induction:" "" '```'
"$cugpt" patterns gpt2-bytes-tiny --weights "$w" --length 30 --draw-from "$data" |
  sed "s|$work|/tmp/walk|g" >>"$md"
say '```' ''

say "### 2. Ablate them" "" \
  "Copying is what an induction head is for, so measure the loss on a made-up name said twice:" \
  "the first saying costs about ln 26 = 3.3 nats a letter whatever the model does, so what an" \
  "ablation adds comes from the second. Zero-ablating each head and MLP in turn:" ""
run ablate gpt2-bytes-tiny --weights "$w" --text "$rep" --top 8 --out "$work/ab"
copy ab/ablate_heads.png ablate-heads.png
say "![loss change per zero-ablated head](img/internals/ablate-heads.png)" "" \
  "Zeroing a head also removes its constant part, which the layers after it rely on whatever" \
  "the text; replacing each head's output by its mean over a stretch of the random strings" \
  "removes only what it says about this text:" ""
ref=$(grep -m 3 -E '^[a-z]+$' "$data" | tr -d '\n' | cut -c 1-64)
run ablate gpt2-bytes-tiny --weights "$w" --text "$rep" --mode mean --ref-text "$ref" --no-mlps \
  --top 8
say "The same on the answer of the example in step 3: the logit of the name's last letter" \
  "minus that of another, after \"$clean\":" ""
run ablate gpt2-bytes-tiny --weights "$w" --text "$clean" --target "$tgt" --distractor "$dis" \
  --mode mean --ref-text "$ref" --no-mlps --top 8

say "### 3. Patch a name-copying example" "" \
  "The name, then its start again: the model should complete it by copying. The corrupted" \
  "prompt changes the name's last letter in its first occurrence only, so the two prompts" \
  "differ at one position and the answer flips from '$tgt' to '$dis':" ""
run patch gpt2-bytes-tiny --weights "$w" --clean-text "$clean" --corrupt-text "$corrupt" \
  --target "$tgt" --distractor "$dis" --out "$work/patch"
copy patch/patch_resid.png patch-resid.png
copy patch/patch_heads.png patch-heads.png
say "![patching the residual stream](img/internals/patch-resid.png)" \
  "![patching each head](img/internals/patch-heads.png)" ""

say "### 4. Where the answer forms, and who writes it" ""
run lens gpt2-bytes-tiny --weights "$w" --text "$clean" --target "$tgt" --top 3 \
  --out "$work/lens"
copy lens/lens.png lens.png
say "![logit lens: the probability of '$tgt'](img/internals/lens.png)" ""
run attribute gpt2-bytes-tiny --weights "$w" --text "$clean" --target "$tgt" \
  --distractor "$dis"

python3 - "$root/docs/internals.md" "$md" <<'PY'
import sys
page, part = sys.argv[1], open(sys.argv[2]).read()
text = open(page).read()
b, e = "<!-- walkthrough:begin -->", "<!-- walkthrough:end -->"
head, rest = text.split(b)
_, tail = rest.split(e)
open(page, "w").write(head + b + "\n" + part + e + tail)
PY
echo "updated docs/internals.md and $img"
