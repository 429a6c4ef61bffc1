#!/usr/bin/env bash
# End-to-end checks of the analysis subcommands (lens, ablate, patch, attribute, patterns) on
# the golden tiny GPT-2: their tables, JSON, .npy and PNGs, and one-line errors for bad input.
# Usage: test_analysis.sh path/to/cugpt
set -u
cugpt=$1
src=$(cd "$(dirname "$0")/../.." && pwd)
w=$src/tests/data/golden/gpt2-tiny/weights.safetensors
source "$src/tests/cli/lib.sh"
expect_png() {  # a PNG's signature
  if [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ]; then ok; else bad "$1 is not a PNG"; fi
}
# A JSON document on stdout that python's json module reads, with a check on it.
expect_json() {
  local name=$1 check=$2; shift 2
  if "$@" >"$tmp/j.json" 2>"$tmp/err" &&
     python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert $check, d" "$tmp/j.json" 2>/dev/null
  then ok; else bad "$name: $(cat "$tmp/err")"; fi
}

expect_out "lens table" '^  layer 1 +rank +0 ' \
  "$cugpt" lens gpt2-tiny --weights "$w" --tokens 4,56,53,21 --out "$tmp/lens"
expect_png "$tmp/lens/lens.png"
if [ -s "$tmp/lens/lens_target_logprob.npy" ]; then ok; else bad "lens npy missing"; fi
expect_json "lens json" "len(d['cells']) == 3 * 4 and d['targets'] == [7] * 4" \
  "$cugpt" lens gpt2-tiny --weights "$w" --tokens 4,56,53,21 --target 7 --json
expect_out "ablate table" '^L[01](H[0-3]| MLP) +[-+][0-9]' \
  "$cugpt" ablate gpt2-tiny --weights "$w" --tokens 4,56,53,21,9 --out "$tmp/ab"
expect_png "$tmp/ab/ablate_heads.png"
expect_json "ablate mean json" "len(d['heads']) == 8 and len(d['mlps']) == 2" \
  "$cugpt" ablate gpt2-tiny --weights "$w" --tokens 4,56,53,21,9 --mode mean \
  --ref-tokens "1,2,3;4,5,6" --target 5 --distractor 7 --json
expect_out "patch restores all at the end" '^layer 1 .* 1\.000$' \
  "$cugpt" patch gpt2-tiny --weights "$w" --clean-tokens 4,56,53,21 --corrupt-tokens 4,57,53,21 \
  --target 5 --distractor 7 --out "$tmp/patch"
expect_png "$tmp/patch/patch_resid.png"
expect_png "$tmp/patch/patch_heads.png"
expect_json "attribute parts sum" "abs(d['total'] - d['logit']) < 1e-4" \
  "$cugpt" attribute gpt2-tiny --weights "$w" --tokens 4,56,53 --target 5 --distractor 9 --json
expect_out "patterns" 'strongest induction head L[01]H[0-3]' \
  "$cugpt" patterns gpt2-tiny --weights "$w" --out "$tmp/pat"
expect_png "$tmp/pat/patterns_induction.png"
printf '0123 4567 89,.' >"$tmp/pool.txt"
expect_out "patterns --draw-from" "random tokens of .*pool.txt's repeated once" \
  "$cugpt" patterns gpt2-tiny --weights "$w" --draw-from "$tmp/pool.txt" --length 8
expect_error "patterns --draw-from a FIFO" 'not a regular file' "$cugpt" patterns gpt2-tiny \
  --weights "$w" --draw-from /dev/null

expect_error "patch lengths" 'must be equal' "$cugpt" patch gpt2-tiny --weights "$w" \
  --clean-tokens 4,56 --corrupt-tokens 4,57,53 --target 5 --distractor 7
expect_error "target of two tokens" 'give one token' "$cugpt" attribute gpt2-tiny --weights "$w" \
  --text abc --target xy
expect_error "no prompt" 'one way' "$cugpt" lens gpt2-tiny --weights "$w"
expect_error "bad mode" 'zero or mean' "$cugpt" ablate gpt2-tiny --weights "$w" --tokens 1,2 --mode x
expect_error "roberta" 'not a causal GPT' "$cugpt" patterns roberta-tiny \
  --weights "$src/tests/data/golden/roberta-tiny/weights.safetensors"
expect_error "too long" 'exceed' "$cugpt" patterns gpt2-tiny --weights "$w" --length 13
expect_error "target range" 'out of range' "$cugpt" lens gpt2-tiny --weights "$w" --tokens 1,2 \
  --target 500

# --out DIR is one set, as inspect's: new, empty or the same command's earlier output; any other
# directory, a file or a symlink is refused before the work, untouched (issue 29).
mkdir -p "$tmp/mine" && echo keep >"$tmp/mine/notes.txt" && echo mine >"$tmp/mine/lens.png"
expect_error "lens --out over a user's directory" "cannot write .*mine.*not an earlier output" \
  "$cugpt" lens gpt2-tiny --weights "$w" --tokens 4,56,53,21 --out "$tmp/mine"
if [ "$(cat "$tmp/mine/notes.txt")/$(cat "$tmp/mine/lens.png")" = keep/mine ] &&
   [ "$(ls -A "$tmp/mine" | wc -l)" -eq 2 ]; then ok; else bad "lens touched a user's directory: $(ls -A "$tmp/mine")"; fi
expect_error "patterns --out over lens' output" "cannot write .*lens.*not an earlier output" \
  "$cugpt" patterns gpt2-tiny --weights "$w" --out "$tmp/lens"
expect_png "$tmp/lens/lens.png"
echo file >"$tmp/afile"
expect_error "ablate --out over a file" "cannot write .*afile.*regular file" \
  "$cugpt" ablate gpt2-tiny --weights "$w" --tokens 4,56,53,21,9 --out "$tmp/afile"
if [ "$(cat "$tmp/afile")" = file ]; then ok; else bad "ablate replaced a file"; fi
expect_out "lens --out over its own output" 'rank' \
  "$cugpt" lens gpt2-tiny --weights "$w" --tokens 4,56,53 --out "$tmp/lens"
expect_png "$tmp/lens/lens.png"
mkdir -p "$tmp/empty"
expect_out "attribute --out into an empty directory" 'wrote' \
  "$cugpt" attribute gpt2-tiny --weights "$w" --tokens 4,56,53 --target 5 --out "$tmp/empty"
expect_png "$tmp/empty/attribute_heads.png"
if compgen -G "$tmp/.*tmp*" >/dev/null; then bad "a temporary was left: $(ls -a "$tmp")"; else ok; fi

finish "analysis cli"
