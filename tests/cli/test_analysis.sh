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

finish "analysis cli"
