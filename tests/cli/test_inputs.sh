#!/usr/bin/env bash
# Issue 29, sections 3 and 5: the crashes, hangs and unbounded inputs of ablate, tokenize, bench
# and the device sampler, tokenize's streaming to a token file (bounded memory, the ids train
# reads), and the options that were accepted silently. Each failure is one stderr line; an
# option error exits 2, an error of the work 1 (docs/robustness.md, "Commands and their
# options (issue 29)").
# Usage: test_inputs.sh path/to/cugpt
set -u
cugpt=$1
src=$(cd "$(dirname "$0")/../.." && pwd)
w=$src/tests/data/golden/gpt2-tiny/weights.safetensors
bpe=$src/tests/data/bpe
source "$src/tests/cli/lib.sh"

# expect_code NAME CODE PATTERN CMD...: exit CODE exactly (within 30 s: a hang fails), one line
# on stderr matching PATTERN.
expect_code() {
  local name=$1 code=$2 pattern=$3; shift 3
  timeout 30 "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$? lines
  lines=$(wc -l <"$tmp/err")
  if [ $rc -ne "$code" ]; then bad "$name: exit $rc, not $code: $(head -3 "$tmp/err")"; return; fi
  if [ "$lines" -ne 1 ]; then bad "$name: $lines lines on stderr: $(head -5 "$tmp/err")"; return; fi
  if grep -Eq -- "$pattern" "$tmp/err"; then ok; else bad "$name: stderr '$(cat "$tmp/err")'"; fi
}
rss() {  # peak RSS in KiB of CMD (its stdin passed on), or "" without GNU time
  [ -x /usr/bin/time ] || return 0
  /usr/bin/time -f %M -o "$tmp/rss" timeout 120 "$@" >/dev/null 2>"$tmp/rss_err"
  tail -1 "$tmp/rss"
}
# The ids of a token file: llm.c's header (magic, version, count) checked, or none (raw).
ids_of() {
  python3 - "$1" "$2" <<'EOF'
import struct, sys
data = open(sys.argv[1], "rb").read()
if sys.argv[2] == "llmc":
    magic, version, count = struct.unpack("<3i", data[:12])
    assert magic == 20240520 and version == 1 and len(data) == 1024 + 2 * count, (magic, version, count, len(data))
    data = data[1024:]
print(",".join(str(v) for v in struct.unpack("<%dH" % (len(data) // 2), data)))
EOF
}

# --- section 3: ablate --layers (every explicit list segfaulted) ----------------------------------
expect_out "ablate --layers 1" '^L1H[0-3] ' "$cugpt" ablate gpt2-tiny --weights "$w" --tokens 1,2,3 \
  --layers 1
if grep -q '^L0' "$tmp/out" 2>/dev/null; then bad "ablate --layers 1 ablated layer 0"; else ok; fi
expect_json_layers() {  # only the listed layers move: the others' changes are 0
  "$cugpt" ablate gpt2-tiny --weights "$w" --tokens 1,2,3 --layers "$1" --json >"$tmp/ab.json" &&
    python3 -c "import json,sys; d=json.load(open('$tmp/ab.json')); h=d['heads']; \
m=d['mlps']; assert all(v == 0 for v in h[$2]) and any(v != 0 for v in h[$3]) and m[$4] == 0, d" &&
    ok || bad "ablate --layers $1: $(cat "$tmp/ab.json")"
}
expect_json_layers 0 4:8 0:4 1
expect_json_layers 1 0:4 4:8 0
expect_out "ablate --layers 0,1" '^L0' "$cugpt" ablate gpt2-tiny --weights "$w" --tokens 1,2,3 \
  --layers 0,1 --top 20
expect_code "ablate --layers out of range" 1 'layer 5 out of range \(0 to 1\)' "$cugpt" ablate \
  gpt2-tiny --weights "$w" --tokens 1,2,3 --layers 5
expect_code "ablate --layers two lists" 1 '--layers: one list' "$cugpt" ablate gpt2-tiny \
  --weights "$w" --tokens 1,2,3 --layers '0;1'

# --- section 3: tokenize's input through the bounded reader ---------------------------------------
mkfifo "$tmp/fifo"
expect_code "tokenize a FIFO" 1 "tokenize: --file '.*fifo': is a FIFO, not a regular file" \
  "$cugpt" tokenize --file "$tmp/fifo"
expect_code "tokenize /dev/zero" 1 "'/dev/zero': is a character device" "$cugpt" tokenize \
  --file /dev/zero
expect_code "tokenize /dev/urandom" 1 "'/dev/urandom': is a character device" "$cugpt" tokenize \
  --file /dev/urandom --out "$tmp/u.bin"
if compgen -G "$tmp/u.bin*" >/dev/null; then bad "tokenize /dev/urandom left $tmp/u.bin"; else ok; fi
expect_code "tokenize a directory" 1 "'$tmp': is a directory" "$cugpt" tokenize --file "$tmp"
expect_code "tokenize a closed stdin" 1 'standard input\): is closed' "$cugpt" tokenize --file - <&-
expect_code "tokenize a directory as stdin" 1 'standard input\): is a directory' "$cugpt" \
  tokenize --file - <"$tmp"
truncate -s 3G "$tmp/sparse"
expect_code "tokenize a 3 GB sparse file" 1 "'.*sparse': 3.00 GiB is more than the 64.0 MiB --max-bytes limit" \
  "$cugpt" tokenize --file "$tmp/sparse"
rm -f "$tmp/sparse"
# Endless stdin: refused once the cap is read (a lower cap keeps the test short).
expect_code "tokenize endless stdin" 1 'standard input\): more than the 1.0 MiB --max-bytes limit' \
  bash -c "yes | '$cugpt' tokenize --file - --max-bytes 1MiB"
head -c 3000000 /dev/zero | tr '\0' 'x' | fold -w 70 >"$tmp/3m.txt"
expect_code "tokenize above --max-bytes" 1 'is more than the 2.0 MiB --max-bytes limit' "$cugpt" \
  tokenize --file "$tmp/3m.txt" --max-bytes 2MiB
if "$cugpt" tokenize --file "$tmp/3m.txt" --max-bytes 4MiB >/dev/null 2>"$tmp/err" &&
  grep -q "tokens from $(wc -c <"$tmp/3m.txt") bytes" "$tmp/err"; then ok; else bad "--max-bytes 4MiB: $(cat "$tmp/err")"; fi
expect_code "tokenize --max-bytes 0" 2 '--max-bytes' "$cugpt" tokenize --text x --max-bytes 0

# --- section 3: streaming to a token file -----------------------------------------------------------
# Bounded memory: 2 MB and 8 MB of text (a BPE vocabulary, from a file and through a pipe) take
# the same RSS within 4 MiB; the whole-text encoder held about 130 bytes a byte (1 GB here).
yes 'the world, hello: 123 well.  ' | head -c 2000000 >"$tmp/2m.txt"
yes 'the world, hello: 123 well.  ' | head -c 8000000 >"$tmp/8m.txt"
small=$(rss "$cugpt" tokenize --tokenizer "$bpe" --file "$tmp/2m.txt" --out "$tmp/2m.bin")
large=$(rss "$cugpt" tokenize --tokenizer "$bpe" --file "$tmp/8m.txt" --out "$tmp/8m.bin")
piped=$(yes 'the world, hello: 123 well.  ' | head -c 8000000 | rss "$cugpt" tokenize \
  --tokenizer "$bpe" --file - --out "$tmp/p.bin")
if [ -n "$small" ]; then
  for kib in "$large" "$piped"; do
    if [ "$kib" -le $((small + 4096)) ]; then ok; else bad "tokenize --out: RSS $kib KiB for 8 MB, $small KiB for 2 MB"; fi
  done
fi
if cmp -s "$tmp/8m.bin" "$tmp/p.bin"; then ok; else bad "tokenize --out: a pipe and a file gave other ids"; fi
# The ids written equal the ids printed, for a text longer than the stream's window (65,536
# bytes) that mixes runs of spaces and newlines the vocabulary merges, contractions and UTF-8.
python3 -c "
import random
random.seed(5)
frags = ['the', ' the', '  the', ' world', '\n', '\n\n', '   ', '\t', \"'s\", \"'t\", '123', ' 4',
         '!!', 'é', '日本', '<|endoftext|>', 'hello', ' well', '.', '  \n ']
open('$tmp/mixed.txt', 'w').write(''.join(random.choice(frags) for _ in range(60000)))"
"$cugpt" tokenize --tokenizer "$bpe" --file "$tmp/mixed.txt" 2>/dev/null | head -1 >"$tmp/printed"
"$cugpt" tokenize --tokenizer "$bpe" --file "$tmp/mixed.txt" --out "$tmp/mixed.bin" 2>/dev/null
"$cugpt" tokenize --tokenizer "$bpe" --file - --out "$tmp/mixed_raw.bin" --format raw \
  <"$tmp/mixed.txt" 2>/dev/null
if [ "$(ids_of "$tmp/mixed.bin" llmc)" = "$(cat "$tmp/printed")" ] && [ -s "$tmp/printed" ]; then ok
else bad "tokenize --out: the llm.c file's ids differ from the printed ones"; fi
if [ "$(ids_of "$tmp/mixed_raw.bin" raw)" = "$(cat "$tmp/printed")" ]; then ok
else bad "tokenize --out --format raw: the ids differ from the printed ones"; fi
# train --data reads both files as the text it came from: the same losses.
printf 'the cat sat on the mat. ' >"$tmp/cat.txt"
for _ in 1 2 3 4 5 6 7 8; do cat "$tmp/cat.txt" "$tmp/cat.txt" >"$tmp/cat2.txt"; mv "$tmp/cat2.txt" "$tmp/cat.txt"; done
"$cugpt" tokenize --file "$tmp/cat.txt" --out "$tmp/cat.bin" 2>/dev/null
"$cugpt" tokenize --file "$tmp/cat.txt" --out "$tmp/cat_raw.bin" --format raw 2>/dev/null
"$cugpt" tokenize --file "$tmp/cat.txt" --out "$tmp/cat.u32.bin" 2>/dev/null  # llm.c version 2
for data in cat.txt cat.bin cat_raw.bin cat.u32.bin; do
  "$cugpt" train gpt2-bytes-tiny --data "$tmp/$data" --steps 2 --batch 2 --seq 16 2>/dev/null |
    grep '^step' | cut -d'|' -f1-4 >"$tmp/losses.$data"  # step, loss, lr, gradient norm
done
if [ -s "$tmp/losses.cat.txt" ] && cmp -s "$tmp/losses.cat.txt" "$tmp/losses.cat.bin" &&
  cmp -s "$tmp/losses.cat.txt" "$tmp/losses.cat_raw.bin" &&
  cmp -s "$tmp/losses.cat.txt" "$tmp/losses.cat.u32.bin"; then ok
else bad "train on the token files: $(cat "$tmp/losses.cat.txt") vs $(cat "$tmp/losses.cat.bin")"; fi
# Output paths: the extension train reads as ids; the rules of every output; a failed stream
# leaves the earlier file whole and no temporary.
expect_code "tokenize --out a text name" 1 "the ids go to a .bin" "$cugpt" tokenize --text hi \
  --out "$tmp/ids.txt"
if [ -e "$tmp/ids.txt" ]; then bad "tokenize --out a text name left a file"; else ok; fi
# A vocabulary beyond uint16 (65,540 ids): refused for .bin before a byte is written, uint32
# (llm.c version 2) in a .u32.bin.
mkdir -p "$tmp/big"
cp "$bpe/merges.txt" "$tmp/big/"
python3 -c "
import json
v = json.load(open('$bpe/vocab.json'))
n = max(v.values()) + 1
v.update({'tok%d' % i: n + i for i in range(65540 - n)})
json.dump(v, open('$tmp/big/vocab.json', 'w'))"
expect_code "tokenize --out uint16 for a large vocabulary" 1 \
  "a vocabulary of 65540 ids does not fit uint16: name it .u32.bin" "$cugpt" tokenize \
  --tokenizer "$tmp/big" --text "hello world" --out "$tmp/big.bin"
if compgen -G "$tmp/big.bin*" >/dev/null; then bad "the refused .bin left a file"; else ok; fi
if "$cugpt" tokenize --tokenizer "$tmp/big" --text "hello world" --out "$tmp/big.u32.bin" 2>/dev/null &&
  [ "$(od -An -tu4 -N12 "$tmp/big.u32.bin" | tr -s ' ')" = " 20240520 2 $(("$(stat -c %s "$tmp/big.u32.bin")" / 4 - 256))" ]
then ok; else bad "tokenize --out .u32.bin: header $(od -An -tu4 -N12 "$tmp/big.u32.bin")"; fi
mkdir -p "$tmp/dir.bin"
expect_code "tokenize --out a directory" 1 "cannot write .*dir.bin': it is a directory" "$cugpt" \
  tokenize --text hi --out "$tmp/dir.bin"
expect_code "tokenize --out with --json" 2 'excludes' "$cugpt" tokenize --text hi --json \
  --out "$tmp/j.bin"
expect_code "tokenize --format without --out" 2 'requires --out' "$cugpt" tokenize --text hi \
  --format raw
cp "$tmp/cat.bin" "$tmp/keep.bin"
head -c 300000 /dev/zero | tr '\0' 'a' >"$tmp/letters.txt"
expect_code "tokenize --out: no place to cut" 1 'no place to cut it for streaming .*raise --max-bytes' \
  "$cugpt" tokenize --tokenizer "$bpe" --file "$tmp/letters.txt" --out "$tmp/keep.bin" --max-bytes 100KiB
if cmp -s "$tmp/cat.bin" "$tmp/keep.bin" && ! compgen -G "$tmp/keep.bin.tmp*" >/dev/null; then ok
else bad "a failed tokenize --out touched the earlier file or left a temporary"; fi

# --- section 3: bench plans before it allocates; f64 and the device sampler ---------------------------
# What the process holds anyway (the CUDA runtime's libraries in a CUDA build), from a bench
# that fits: the refusal may hold at most 100 MiB more (it grew to 6 GB before the plan).
base_kib=$(rss "$cugpt" bench gpt2-tiny --batch 1 --seq 8 --iters 1)
start=$(date +%s)
kib=$(rss "$cugpt" bench gpt2-tiny --batch 89478485 --seq 24)
if grep -q 'bench: one forward of B=89478485 x T=24 needs at least .*embedding output.* arena on cpu' "$tmp/rss_err" &&
  [ $(($(date +%s) - start)) -lt 20 ]; then ok; else bad "bench huge batch: $(cat "$tmp/rss_err")"; fi
if [ -z "$kib" ] || [ -z "$base_kib" ] || [ "$kib" -le $((base_kib + 102400)) ]; then ok
else bad "bench huge batch: peak RSS $kib KiB (a bench that fits: $base_kib KiB)"; fi
expect_code "bench huge batch" 1 'more than the .* arena on cpu \(see `cugpt memory gpt2-tiny --mode forward' \
  "$cugpt" bench gpt2-tiny --batch 89478485 --seq 24
f64='--dtype f64: the device sampler .* takes f32, bf16 or f16 logits'
expect_code "generate f64 --sampler device" 1 "$f64" "$cugpt" generate gpt2-tiny --weights "$w" \
  --tokens 1,2 --dtype f64 --sampler device
expect_code "generate f64 --decode fused" 1 "$f64" "$cugpt" generate gpt2-tiny --weights "$w" \
  --tokens 1,2 --dtype f64 --sampler device --decode fused
expect_code "generate f64 --decode device" 1 "$f64" "$cugpt" generate gpt2-tiny --weights "$w" \
  --tokens 1,2 --dtype f64 --sampler device --decode device
expect_code "bench f64 --decode-modes device" 1 "$f64" "$cugpt" bench gpt2-tiny --dtype f64 \
  --seq 8 --iters 1 --warmup 0 --decode 4 --decode-modes host,device
expect_out "generate f64 on the host" '.' "$cugpt" generate gpt2-tiny --weights "$w" --tokens 1,2 \
  --dtype f64 --max-new 2

# --- section 5: what was accepted silently ---------------------------------------------------------
expect_code "patterns --seed -1" 2 "--seed: '-1' is not an integer >= 0" "$cugpt" patterns \
  gpt2-tiny --weights "$w" --seed -1
expect_code "patterns --length -1" 2 '--length: -1 is out of range \[0, ' "$cugpt" patterns \
  gpt2-tiny --weights "$w" --length -1
expect_code "lens --target -1" 1 'target: token id -1 is out of range \[0, 101\)' "$cugpt" lens \
  gpt2-tiny --weights "$w" --tokens 1,2 --target -1
expect_code "ablate --distractor -1" 1 'distractor: token id -1 is out of range' "$cugpt" ablate \
  gpt2-tiny --weights "$w" --tokens 1,2 --target 5 --distractor -1
expect_code "ablate --distractor without --target" 2 '--distractor requires --target' "$cugpt" \
  ablate gpt2-tiny --weights "$w" --tokens 1,2 --distractor 6
expect_code "ablate --no-heads --no-mlps" 2 '--no-heads excludes --no-mlps|--no-mlps excludes --no-heads' \
  "$cugpt" ablate gpt2-tiny --weights "$w" --tokens 1,2 --no-heads --no-mlps
expect_code "lens --top 0" 2 '--top: 0 is out of range \[1, ' "$cugpt" lens gpt2-tiny \
  --weights "$w" --tokens 1,2 --top 0
expect_code "lens --top -5" 2 '--top: -5 is out of range' "$cugpt" lens gpt2-tiny --weights "$w" \
  --tokens 1,2 --top -5
expect_code "ablate --top 0" 2 '--top: 0 is out of range' "$cugpt" ablate gpt2-tiny --weights "$w" \
  --tokens 1,2 --top 0
expect_code "ablate --top -5" 2 '--top: -5 is out of range' "$cugpt" ablate gpt2-tiny \
  --weights "$w" --tokens 1,2 --top -5
expect_code "tokenize --decode 1,,2" 2 "--decode: empty entry in '1,,2'" "$cugpt" tokenize \
  --decode 1,,2
expect_code "tokenize --decode 1,2," 2 "--decode: empty entry in '1,2,'" "$cugpt" tokenize \
  --decode 1,2,
expect_code "tokenize --decode ,1" 2 "--decode: empty entry" "$cugpt" tokenize --decode ,1
expect_out "tokenize --decode with spaces" '^hi$' "$cugpt" tokenize --decode '104, 105'
expect_out "tokenize --decode nothing" '^$' "$cugpt" tokenize --decode ''
expect_code "memory --min-world --max-batch" 2 'excludes' "$cugpt" memory gpt2-tiny --min-world \
  --max-batch
expect_code "memory --min-world --max-seq" 2 'excludes' "$cugpt" memory gpt2-tiny --min-world \
  --max-seq

finish test_inputs
