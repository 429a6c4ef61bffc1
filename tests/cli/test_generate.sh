#!/usr/bin/env bash
# `cugpt generate` as users expect it: text out with the prompt echoed, prompts of different
# lengths in one batch, stop ids and end-of-text, top-p, --ids and --json, and --text taken
# verbatim (no list syntax). Usage: test_generate.sh path/to/cugpt
set -u
cugpt=$1
source "$(dirname "$0")/lib.sh"
golden="$(dirname "$0")/../data/golden"
bpe="$(dirname "$0")/../data/bpe"
w="$golden/gpt2-tiny/weights.safetensors"

# expect_json NAME PATTERN CMD...: exit 0 and the JSON on stdout, blanks removed, matching PATTERN.
expect_json() {
  local name=$1 pattern=$2; shift 2
  local out
  if ! out=$("$@" 2>"$tmp/err"); then bad "$name: exit $? ($(cat "$tmp/err"))"; return; fi
  if tr -d ' \n' <<<"$out" | grep -Eq -- "$pattern"; then ok; else bad "$name: no /$pattern/ in output"; fi
}

"$cugpt" init gpt2-bytes-tiny --out "$tmp/bytes.safetensors" --seed 3 >/dev/null 2>&1 ||
  bad "init gpt2-bytes-tiny"
gen() { "$cugpt" generate gpt2-bytes-tiny --weights "$tmp/bytes.safetensors" "$@"; }

# --- text out: the prompt, then its continuation (one byte a token here), then a newline ------
gen --text "Hello" --max-new 6 >"$tmp/text" 2>"$tmp/err" || bad "generate text: $(cat "$tmp/err")"
[ "$(head -c 5 "$tmp/text")" = "Hello" ] && [ "$(wc -c <"$tmp/text")" -eq 12 ] &&
  [ "$(tail -c 1 "$tmp/text" | od -An -tx1 | tr -d ' ')" = 0a ] && ok ||
  bad "text output is not 'Hello' + 6 bytes + newline: $(od -c "$tmp/text" | head -3)"
grep -q 'prefill 5 tokens in [0-9.]* ms; 5 decode steps in [0-9.]* ms; 6 new tokens' "$tmp/err" &&
  ok || bad "timings on stderr: $(cat "$tmp/err")"
gen --text "Hello" --max-new 6 --no-echo >"$tmp/noecho" 2>/dev/null
[ "$(wc -c <"$tmp/noecho")" -eq 7 ] && [ "$(tail -c 7 "$tmp/text" | od -An -tx1)" = "$(od -An -tx1 <"$tmp/noecho")" ] &&
  ok || bad "--no-echo is not the continuation alone"
# The text is the bytes of the ids.
ids=$(gen --text "Hello" --max-new 6 --ids 2>/dev/null)
want=$(printf 'Hello%s' "$(for i in ${ids//,/ }; do printf '\\x%02x' "$i"; done)")
[ "$(head -c 11 "$tmp/text" | od -An -tx1)" = "$(printf "$want" | od -An -tx1)" ] && ok ||
  bad "text output is not the decoded ids $ids"

# --- verbatim text options: no CLI11 list syntax ----------------------------------------------
out=$(gen --text "[citation needed]" --max-new 2 2>/dev/null)
[ "${out:0:17}" = "[citation needed]" ] && ok || bad "--text '[citation needed]' lost its brackets: '$out'"
[ "$(gen --text "[1,2,3]" --max-new 2 --ids 2>/dev/null | wc -l)" -eq 1 ] && ok ||
  bad "--text '[1,2,3]' is not one prompt"
expect_out "json prompt verbatim" '"prompt_text": "\[1,2,3\]"' gen --text "[1,2,3]" --max-new 1 --json
expect_out "tokenize [1,2,3] verbatim" '"count": 7' "$cugpt" tokenize --text "[1,2,3]" --json
expect_out "tokenize [a b] verbatim" '"count": 5' "$cugpt" tokenize --text "[a b]" --json
# The other commands' --text options (single-valued) are verbatim too.
expect_out "inspect [1,2,3] verbatim" '7 tokens' "$cugpt" inspect gpt2-bytes-tiny \
  --weights "$tmp/bytes.safetensors" --text "[1,2,3]" --out "$tmp/inspect"
expect_out "lens [a,b] verbatim" '5 positions' "$cugpt" lens gpt2-bytes-tiny \
  --weights "$tmp/bytes.safetensors" --text "[a,b]"

# --- prompts of different lengths: each row equals its prompt alone --------------------------
gen --text "Hi" --text "Hello there" --text "A" --max-new 5 --ids >"$tmp/batch" 2>"$tmp/err" ||
  bad "ragged batch: $(cat "$tmp/err")"
i=0
for p in "Hi" "Hello there" "A"; do
  i=$((i + 1))
  alone=$(gen --text "$p" --max-new 5 --ids 2>/dev/null)
  [ -n "$alone" ] && [ "$(sed -n "${i}p" "$tmp/batch")" = "$alone" ] && ok ||
    bad "ragged row $i ('$p') differs from the prompt alone: '$(sed -n "${i}p" "$tmp/batch")' vs '$alone'"
done
expect_out "ragged --tokens" '^[0-9]+(,[0-9]+){3}$' "$cugpt" generate gpt2-tiny --weights "$w" \
  --tokens "1,2;3,4,5" --max-new 4
# Several prompts as text: each echoed with its continuation, a blank line between.
gen --text "ab" --text "cd" --max-new 0 >"$tmp/two" 2>/dev/null
[ "$(od -An -c "$tmp/two" | tr -s ' ')" = " a b \n \n c d \n" ] && ok ||
  bad "two prompts as text: $(od -c "$tmp/two")"

# --- stop ids ---------------------------------------------------------------------------------
full=$("$cugpt" generate gpt2-tiny --weights "$w" --tokens "1,2,3" --max-new 8 2>/dev/null)
IFS=, read -ra t <<<"$full"
# The first id not already seen before it.
k=1
while [ $k -lt ${#t[@]} ]; do
  seen=0
  for ((j = 0; j < k; j++)); do [ "${t[$j]}" = "${t[$k]}" ] && seen=1; done
  [ $seen -eq 0 ] && break
  k=$((k + 1))
done
if [ $k -lt ${#t[@]} ]; then
  prefix=$(IFS=,; echo "${t[*]:0:$k}")
  expect_out "stop id ends the row" "^${prefix}\$" "$cugpt" generate gpt2-tiny --weights "$w" \
    --tokens "1,2,3" --max-new 8 --stop-id "${t[$k]}"
  expect_out "stop reason in json" '"stop_reason": "stop"' "$cugpt" generate gpt2-tiny \
    --weights "$w" --tokens "1,2,3" --max-new 8 --stop-id "100,${t[$k]}" --json
else
  bad "greedy ids $full repeat one token: no stop id to test"
fi
expect_out "length reason in json" '"stop_reason": "length"' "$cugpt" generate gpt2-tiny \
  --weights "$w" --tokens "1,2,3" --max-new 2 --json
expect_error "stop id outside the vocabulary" 'stop id 101 is outside the vocabulary \[0, 101\)' \
  "$cugpt" generate gpt2-tiny --weights "$w" --tokens "1,2,3" --max-new 2 --stop-id 101
expect_error "stop id not a number" "--stop-id: 'x' is not an integer id" \
  "$cugpt" generate gpt2-tiny --weights "$w" --tokens "1,2,3" --max-new 2 --stop-id x

# End-of-text: a GPT-2 BPE vocabulary's <|endoftext|> (id 277 in tests/data/bpe) is a stop id
# by default, not with --ignore-eos; the byte tokenizer has none.
sed 's/"vocab_size": 101/"vocab_size": 278/' "$(dirname "$0")/../../configs/gpt2-tiny.json" >"$tmp/bpe-tiny.json"
"$cugpt" init "$tmp/bpe-tiny.json" --out "$tmp/bpe.safetensors" --seed 4 >/dev/null 2>&1 || bad "init bpe-tiny"
expect_json "eos is a stop id" '"stop_ids":\[277\]' "$cugpt" generate "$tmp/bpe-tiny.json" \
  --weights "$tmp/bpe.safetensors" --tokenizer "$bpe" --text "the cat" --max-new 3 --json
"$cugpt" generate "$tmp/bpe-tiny.json" --weights "$tmp/bpe.safetensors" --tokenizer "$bpe" \
  --text "the cat" --max-new 3 --json --ignore-eos --stop-id 5 >"$tmp/j" 2>"$tmp/err"
tr -d ' \n' <"$tmp/j" | grep -q '"stop_ids":\[5\]' && ok || bad "--ignore-eos kept eos: $(cat "$tmp/j" "$tmp/err")"
# A row that samples <|endoftext|> ends just before it, and the other rows are unchanged (each
# draws from its own stream): find a seed where near-uniform draws (temperature 1000) meet 277
# with --ignore-eos, then compare with the same run stopping at it.
bpe_gen() { "$cugpt" generate "$tmp/bpe-tiny.json" --weights "$tmp/bpe.safetensors" --tokenizer "$bpe" \
  --temperature 1000 --max-new 18 --ids $(for i in $(seq 16); do echo --text t; done) "$@"; }
found=
for seed in $(seq 1 10); do
  bpe_gen --seed "$seed" --ignore-eos >"$tmp/free" 2>/dev/null || break
  if grep -Eq '(^|,)277(,|$)' "$tmp/free"; then found=$seed; break; fi
done
if [ -n "$found" ]; then
  bpe_gen --seed "$found" >"$tmp/eos" 2>/dev/null
  # Each free row cut before its first 277 is the row that stops there.
  if [ "$(sed -E 's/(^|,)277(,.*|$)//' "$tmp/free")" = "$(cat "$tmp/eos")" ] &&
    ! cmp -s "$tmp/free" "$tmp/eos"; then ok
  else bad "rows did not stop at <|endoftext|> (seed $found): $(paste -d'|' "$tmp/free" "$tmp/eos")"; fi
else
  bad "no seed in 1..10 sampled <|endoftext|>"
fi
expect_json "byte tokenizer: no eos" '"stop_ids":\[\]' gen --text "x" --max-new 1 --json

# --- json -------------------------------------------------------------------------------------
gen --text "Hi" --text "Hello" --max-new 3 --json >"$tmp/j" 2>"$tmp/err"
for field in '"prompt_ids": \[' '"ids": \[' '"text": ' '"prompt_text": "Hello"' '"prefill_ms": ' \
  '"decode_ms": ' '"tokens_per_s": ' '"device": "cpu"' '"dtype": "f32"' '"new_tokens": 6'; do
  grep -Eq "$field" "$tmp/j" && ok || bad "--json has no /$field/"
done
[ ! -s "$tmp/err" ] && ok || bad "--json wrote to stderr: $(cat "$tmp/err")"
if command -v python3 >/dev/null; then
  python3 - "$tmp/j" <<'PY' && ok || bad "--json is not the expected object"
import json, sys
j = json.load(open(sys.argv[1]))
o = j["outputs"]
assert [x["prompt_ids"] for x in o] == [[72, 105], [72, 101, 108, 108, 111]]
assert all(len(x["ids"]) == 3 and x["stop_reason"] == "length" and "text" in x for x in o)
assert j["timings"]["new_tokens"] == 6 and j["timings"]["prefill_tokens"] == 4
PY
fi

# --- sampling ---------------------------------------------------------------------------------
greedy=$(gen --text "Hello" --max-new 6 --ids 2>/dev/null)
expect_out "tiny top-p is greedy" "^${greedy}\$" gen --text "Hello" --max-new 6 --ids \
  --temperature 2 --top-p 0.000001 --seed 9
a=$(gen --text "Hello" --max-new 8 --ids --temperature 2 --top-p 0.9 --seed 9 2>/dev/null)
b=$(gen --text "Hello" --max-new 8 --ids --temperature 2 --top-p 0.9 --seed 9 2>/dev/null)
[ -n "$a" ] && [ "$a" = "$b" ] && ok || bad "same seed, different tokens: $a vs $b"
expect_error "top-p 0" "--top-p: 0 is out of range" gen --text "Hi" --top-p 0
expect_error "top-p above 1" "--top-p: 1.5 is out of range" gen --text "Hi" --top-p 1.5

# --- errors -----------------------------------------------------------------------------------
expect_error "ids and json" "mutually exclusive" gen --text "Hi" --ids --json
expect_error "ragged past the positions" "prompt of 4 tokens plus 21 new ones exceeds the 24 positions" \
  "$cugpt" generate gpt2-tiny --weights "$w" --tokens "1;1,2,3,4" --max-new 21
expect_error "tokenizer smaller than the vocabulary" "byte tokenizer's 256 ids do not cover the 50257" \
  "$cugpt" generate gpt2-124m --weights "$tmp/none.safetensors" --text "Hi"

# The device sampler (on the cpu its twin) picks the host's tokens.
a=$("$cugpt" generate gpt2-tiny --weights "$w" --tokens "1,2,3;5,6" --max-new 8 --temperature 0.9 \
  --seed 4 --ids 2>/dev/null)
b=$("$cugpt" generate gpt2-tiny --weights "$w" --tokens "1,2,3;5,6" --max-new 8 --temperature 0.9 \
  --seed 4 --ids --sampler device 2>/dev/null)
[ -n "$a" ] && [ "$a" = "$b" ] && ok || bad "--sampler device: '$b', host: '$a'"
expect_error "--sampler" "--sampler must be host or device" "$cugpt" generate gpt2-tiny \
  --weights "$w" --tokens 1 --sampler gpu
# Decode steps on the device (models/decode_step.h; on the cpu run eagerly): the same tokens.
for d in device graph fused; do
  c=$("$cugpt" generate gpt2-tiny --weights "$w" --tokens "1,2,3;5,6" --max-new 8 \
    --temperature 0.9 --seed 4 --ids --sampler device --decode "$d" 2>/dev/null)
  [ -n "$c" ] && [ "$c" = "$a" ] && ok || bad "--decode $d: '$c', host: '$a'"
done
expect_error "--decode without the device sampler" "give --sampler device" "$cugpt" generate \
  gpt2-tiny --weights "$w" --tokens 1 --decode graph
expect_error "--decode" "'cuda' is not one of host, device, graph, fused" "$cugpt" generate gpt2-tiny \
  --weights "$w" --tokens 1 --sampler device --decode cuda
finish cli_generate
