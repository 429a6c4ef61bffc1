#!/usr/bin/env bash
# Regenerates the walkthrough of docs/internals.md (between the "walkthrough:begin/end"
# markers) and its pictures under docs/img/internals/: trains a byte-level GPT-2 on the GPL-3
# text that ships with Debian, then runs patterns, ablate, patch, lens and attribute on it and
# pastes each command with what it printed. So the page cannot go stale: rerun this after a
# change and commit what it writes.
#
# Usage: scripts/make_internals_walkthrough.sh [path/to/cugpt]   (default build-cpu/tools/cugpt)
# WORK (default /tmp/cugpt-internals) holds the checkpoint; an existing $WORK/ckpt with its
# $WORK/train.log is reused rather than trained again (training takes minutes on the cpu).
set -euo pipefail
trap 'echo "make_internals_walkthrough: failed at line $LINENO" >&2' ERR
root=$(cd "$(dirname "$0")/.." && pwd)
cugpt=${1:-$root/build-cpu/tools/cugpt}
work=${WORK:-/tmp/cugpt-internals}
data=/usr/share/common-licenses/GPL-3
img=$root/docs/img/internals
mkdir -p "$work" "$img"
[ -r "$data" ] || { echo "make_internals_walkthrough: $data not found (Debian base-files)" >&2; exit 1; }

train=(train gpt2-bytes-tiny --data "$data" --steps 1500 --batch 16 --seq 64 --lr 1e-3
       --warmup 50 --log-every 250 --out "$work/ckpt")
if [ ! -s "$work/ckpt/model.safetensors" ] || [ ! -s "$work/train.log" ]; then
  "$cugpt" "${train[@]}" >"$work/train.log"
fi
w=$work/ckpt/model.safetensors
md=$work/walkthrough.md
: >"$md"
say() { printf '%s\n' "$@" >>"$md"; }
# run TITLE ARGS...: the command as a reader types it, then its output.
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
  "C = 64) trained on the GNU GPL version 3 ($data, 35 kB, shipped by Debian):" "" '```sh'
shown="build/tools/cugpt ${train[*]}"
say "${shown//$work/\/tmp\/walk}" '```' '' '```'
tail -n 4 "$work/train.log" | sed "s|$work|/tmp/walk|g" >>"$md"
say '```' ''

say "### 1. Find the previous-token and induction heads" ""
run patterns gpt2-bytes-tiny --weights "$w" --tokenizer byte --length 30 --out "$work/pat"
copy pat/patterns_previous.png patterns-previous.png
copy pat/patterns_induction.png patterns-induction.png
best=$("$cugpt" patterns gpt2-bytes-tiny --weights "$w" --length 30 --json |
  python3 -c "import json,sys; d=json.load(sys.stdin); H=d['heads_per_layer']
p=max(range(len(d['previous'])), key=d['previous'].__getitem__)
i=max(range(len(d['induction'])), key=d['induction'].__getitem__)
print(p // H, p % H, i // H, i % H)")
read -r pl ph il ih <<<"$best"
say "![previous-token scores](img/internals/patterns-previous.png)" \
  "![induction scores](img/internals/patterns-induction.png)" "" \
  "The previous-token head is **layer $pl head $ph**, the induction head **layer $il head $ih**" \
  "(the largest scores of each kind)." ""

say "### 2. Ablate them" "" \
  "Copying is what an induction head is for, so measure the loss on text that repeats itself:" \
  "a phrase of the licence, twice. Zero-ablating each head in turn:" ""
rep="the Source of the work, the Source of the work,"
run ablate gpt2-bytes-tiny --weights "$w" --text "$rep" --top 6 --out "$work/ab"
copy ab/ablate_heads.png ablate-heads.png
say "![loss change per zero-ablated head](img/internals/ablate-heads.png)" ""
run ablate gpt2-bytes-tiny --weights "$w" --text "$rep" --mode mean --ref-text \
  "$(tr -s ' \n' '  ' <"$data" | head -c 64)" --no-mlps --top 4

say "### 3. Patch a name-copying example" "" \
  "A made-up name, then its start again: the model should complete it by copying. The corrupted" \
  "prompt changes the name's last letter in its first occurrence only, so the two prompts" \
  "differ at one position and the answer flips from 'x' to 'z':" ""
run patch gpt2-bytes-tiny --weights "$w" --clean-text "Mr Quex and Mr Que" \
  --corrupt-text "Mr Quez and Mr Que" --target x --distractor z --out "$work/patch"
copy patch/patch_resid.png patch-resid.png
copy patch/patch_heads.png patch-heads.png
say "![patching the residual stream](img/internals/patch-resid.png)" \
  "![patching each head](img/internals/patch-heads.png)" ""

say "### 4. Where the answer forms, and who writes it" ""
run lens gpt2-bytes-tiny --weights "$w" --text "Mr Quex and Mr Que" --target x --top 3 \
  --out "$work/lens"
copy lens/lens.png lens.png
say "![logit lens: the probability of 'x'](img/internals/lens.png)" ""
run attribute gpt2-bytes-tiny --weights "$w" --text "Mr Quex and Mr Que" --target x \
  --distractor z

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
