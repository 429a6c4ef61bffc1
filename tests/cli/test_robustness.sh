#!/usr/bin/env bash
# Bad input at every cugpt subcommand, end to end: a non-zero exit below 128 (no crash), exactly
# one line on stderr naming the problem, and nothing left at the output path. Then killed and
# failed writes, two writers at once, determinism across processes, and the largest bundled
# model on the meta device in little memory. docs/robustness.md catalogues the cases.
# Usage: test_robustness.sh path/to/cugpt
set -u
cugpt=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }

# expect_fail NAME PATTERN OUT CMD...: exit in [1, 127], one stderr line matching PATTERN, and
# neither OUT (when not "-") nor a temporary beside it exists afterwards.
expect_fail() {
  local name=$1 pattern=$2 out=$3; shift 3
  "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$? lines
  lines=$(wc -l <"$tmp/err")
  if [ $rc -eq 0 ]; then bad "$name: exited 0"; return; fi
  if [ $rc -ge 128 ]; then bad "$name: crashed (exit $rc): $(head -3 "$tmp/err")"; return; fi
  if [ "$lines" -ne 1 ]; then bad "$name: $lines lines on stderr: $(head -5 "$tmp/err")"; return; fi
  if ! grep -Eq -- "$pattern" "$tmp/err"; then bad "$name: stderr '$(cat "$tmp/err")'"; return; fi
  if [ "$out" != - ] && compgen -G "$out*" >/dev/null; then bad "$name: left $(ls -d "$out"*)"; return; fi
  ok
}

# expect_ok NAME PATTERN CMD...: exit 0 and stdout matching PATTERN.
expect_ok() {
  local name=$1 pattern=$2; shift 2
  if ! "$@" >"$tmp/out" 2>"$tmp/err"; then bad "$name: exit $? ($(head -3 "$tmp/err"))"; return; fi
  if grep -Eq -- "$pattern" "$tmp/out"; then ok; else bad "$name: no /$pattern/ in output"; fi
}

# config FILE KEY=VALUE...: a gpt2-tiny config with the given fields replaced or added.
config() {
  local file=$1; shift
  local fields=', "model_type": "gpt2", "vocab_size": 101, "n_positions": 24, "n_embd": 32, "n_layer": 2, "n_head": 4'
  for kv in "$@"; do
    local key=${kv%%=*}
    fields=$(sed -E "s/, \"$key\": [^,]*//" <<<"$fields")
    fields="$fields, \"$key\": ${kv#*=}"
  done
  echo "{${fields#, }}" >"$file"
}

# st FILE HEADER DATA_BYTES: a safetensors file by hand (8-byte little-endian header length).
st() {
  local n=${#2} i bytes=""
  for i in 0 1 2 3 4 5 6 7; do bytes+=$(printf '\\x%02x' $(((n >> (8 * i)) & 255))); done
  { printf "$bytes"; printf '%s' "$2"; head -c "$3" /dev/zero; } >"$1"
}

# --- configs (cugpt params reads one; so do all the other commands) -------------------------
echo '{"model_type": "gpt2", "vocab_size": 10' >"$tmp/broken.json"
expect_fail "config invalid json" "invalid JSON" - "$cugpt" params "$tmp/broken.json"
expect_fail "config missing file" "neither a file nor a bundled name" - "$cugpt" params "$tmp/none.json"
expect_fail "config is a directory" "neither a file nor a bundled name" - "$cugpt" params "$tmp"
echo '{"model_type": "gpt2", "vocab_size": 101, "n_positions": 24, "n_embd": 32, "n_layer": 2}' >"$tmp/c.json"
expect_fail "config missing field" "missing field 'n_head'" - "$cugpt" params "$tmp/c.json"
config "$tmp/c.json" extra_field='"whatever"' architectures='["GPT2LMHeadModel"]'
expect_ok "config extra fields are ignored" "Total parameters: +29,472" "$cugpt" params "$tmp/c.json"
config "$tmp/c.json" n_layer=-2
expect_fail "config negative" "'n_layer' = -2 is out of range" - "$cugpt" params "$tmp/c.json"
config "$tmp/c.json" vocab_size=0
expect_fail "config zero" "'vocab_size' = 0 is out of range" - "$cugpt" params "$tmp/c.json"
config "$tmp/c.json" n_embd=1000000
expect_fail "config huge" "'n_embd' = 1000000 is out of range \[1, 65536\]" - "$cugpt" params "$tmp/c.json"
config "$tmp/c.json" n_positions=18446744073709551615
expect_fail "config beyond int64" "'n_positions' = 18446744073709551615 is out of range" - "$cugpt" params "$tmp/c.json"
config "$tmp/c.json" n_embd=30
expect_fail "config heads" "n_embd 30 is not divisible by n_head 4" - "$cugpt" params "$tmp/c.json"
config "$tmp/c.json" activation_function='"swish"'
expect_fail "config activation" "'activation_function' = 'swish' is not a supported" - "$cugpt" params "$tmp/c.json"
config "$tmp/c.json" model_type='"llama"'
expect_fail "config model type" "unknown model_type 'llama'" - "$cugpt" params "$tmp/c.json"
config "$tmp/c.json" model_type='"gpt2\nx"'
expect_fail "config newline in a value" "unknown model_type 'gpt2\\\\nx'" - "$cugpt" params "$tmp/c.json"
echo '{"model_type": "gpt2", "n_head": 4, "vocab_size": 101, "n_positions": 24, "n_embd": 32, "n_layer": 2, "n_head": 8}' >"$tmp/c.json"
expect_fail "config duplicate field" "field 'n_head' appears twice" - "$cugpt" params "$tmp/c.json"
# In range but 4.4 TiB of f32 parameters: params counts them on meta, init runs out of memory.
config "$tmp/huge.json" vocab_size=16777216 n_embd=65536 n_head=1
expect_ok "config huge in range: params" "Total parameters: +1,202,594,250,752" "$cugpt" params "$tmp/huge.json"
expect_fail "config huge in range: init" "out of memory on cpu: requested 4096.00 GiB \(parameter\)" \
  "$tmp/huge.safetensors" "$cugpt" init "$tmp/huge.json" --out "$tmp/huge.safetensors"

# --- checkpoints ---------------------------------------------------------------------------
w=$tmp/tiny.safetensors
"$cugpt" init gpt2-tiny --out "$w" --seed 5 >/dev/null
fwd() { "$cugpt" forward "$1" --weights "$2" --tokens "1,2,3" --out "$tmp/x.npy"; }
head -c 100 "$w" >"$tmp/cut.safetensors"
expect_fail "checkpoint truncated" "cut.safetensors': header length [0-9]+ runs past the end" \
  "$tmp/x.npy" fwd gpt2-tiny "$tmp/cut.safetensors"
head -c $(($(stat -c %s "$w") - 4)) "$w" >"$tmp/cut.safetensors"
expect_fail "checkpoint data cut" "outside the data buffer of" "$tmp/x.npy" fwd gpt2-tiny "$tmp/cut.safetensors"
st "$tmp/x.safetensors" '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}' 8
printf '\x00\x10' | dd of="$tmp/x.safetensors" bs=1 seek=0 conv=notrunc 2>/dev/null
expect_fail "checkpoint header beyond the file" "header length 4096 runs past the end of the file" \
  "$tmp/x.npy" fwd gpt2-tiny "$tmp/x.safetensors"
: >"$tmp/empty.safetensors"
expect_fail "checkpoint empty file" "shorter than the 8-byte header length" "$tmp/x.npy" fwd gpt2-tiny "$tmp/empty.safetensors"
expect_fail "checkpoint is a directory" "safetensors '$tmp': is a directory, not a file" "$tmp/x.npy" \
  fwd gpt2-tiny "$tmp"
st "$tmp/x.safetensors" '{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}' 8
expect_fail "checkpoint offsets out of range" "tensor 'a' has data_offsets \[8, 16\] outside" \
  "$tmp/x.npy" fwd gpt2-tiny "$tmp/x.safetensors"
st "$tmp/x.safetensors" '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}' 12
expect_fail "checkpoint offsets overlap" "tensors 'a' and 'b' have overlapping data_offsets" \
  "$tmp/x.npy" fwd gpt2-tiny "$tmp/x.safetensors"
st "$tmp/x.safetensors" '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}' 16
expect_fail "checkpoint duplicate key" "duplicate key 'a'" "$tmp/x.npy" fwd gpt2-tiny "$tmp/x.safetensors"
st "$tmp/x.safetensors" '{"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}}' 8
expect_fail "checkpoint unknown dtype" "unsupported dtype 'Q4'" "$tmp/x.npy" fwd gpt2-tiny "$tmp/x.safetensors"
"$cugpt" init gpt2-tiny --out "$tmp/bf16.safetensors" --dtype bf16 >/dev/null
expect_fail "checkpoint wrong dtype" "has dtype BF16, model expects F32 \(build the model in BF16" \
  "$tmp/x.npy" fwd gpt2-tiny "$tmp/bf16.safetensors"
config "$tmp/c3.json" n_layer=3
expect_fail "checkpoint missing keys" "12 model tensor\(s\) missing from the file: transformer.h.2" \
  "$tmp/x.npy" fwd "$tmp/c3.json" "$w"
config "$tmp/c1.json" n_layer=1
expect_fail "checkpoint extra keys" "file tensor\(s\) not in the model: transformer.h.1" \
  "$tmp/x.npy" fwd "$tmp/c1.json" "$w"
config "$tmp/c16.json" n_embd=16
expect_fail "checkpoint shape vs config" "'transformer.wte.weight' has shape \[101, 32\], model expects \[101, 16\]" \
  "$tmp/x.npy" fwd "$tmp/c16.json" "$w"
# NaN and Inf weights load (a model may be inspected whatever its weights) with a warning.
cp "$w" "$tmp/nan.safetensors"
data=$((8 + $(od -An -t u8 -N8 "$w" | tr -d ' ')))
first=$(head -c $((data - 8)) <(tail -c +9 "$w") | grep -o '"[^"]*":{"dtype"' | grep -v __metadata__ |
  sed -n 's/"\([^"]*\)".*/\1/p' | head -1)
printf '\x00\x00\xc0\x7f\x00\x00\x80\xff' | dd of="$tmp/nan.safetensors" bs=1 seek=$data conv=notrunc 2>/dev/null
fwd gpt2-tiny "$tmp/nan.safetensors" >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 0 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] &&
  grep -q "warning: tensor '$first' in .*nan.safetensors has 2 NaN or Inf values" "$tmp/err"; then
  ok
else
  bad "NaN weights: rc $rc, stderr '$(cat "$tmp/err")'"
fi
rm -f "$tmp/x.npy"

# --- tokens --------------------------------------------------------------------------------
tok() { "$cugpt" forward gpt2-tiny --weights "$w" --tokens "$1" --out "$tmp/x.npy"; }
expect_fail "tokens out of vocabulary" "token id 101 at batch 0, position 1 is outside the vocabulary \[0, 101\)" "$tmp/x.npy" tok "1,101"
expect_fail "tokens negative" "token id -3 at batch 1, position 0" "$tmp/x.npy" tok "1;-3"
expect_fail "tokens empty" "tokens: empty input" "$tmp/x.npy" tok ""
expect_fail "tokens empty row" "empty sequence 2" "$tmp/x.npy" tok "1,2;"
expect_fail "tokens not integers" "'x' is not an integer id" "$tmp/x.npy" tok "1,x"
expect_fail "tokens beyond int32" "'99999999999' is not an integer id" "$tmp/x.npy" tok "99999999999"
expect_fail "tokens longer than the positions" "sequence of 25 tokens is longer than the 24 positions of gpt2-tiny" \
  "$tmp/x.npy" tok "$(seq -s, 1 25)"
expect_fail "generate past the positions" "exceeds the 24 positions" - "$cugpt" generate gpt2-tiny \
  --weights "$w" --tokens "1,2,3" --max-new 22
expect_fail "bench seq past the positions" "--seq 25 is longer than the 24 positions of gpt2-tiny" - \
  "$cugpt" bench gpt2-tiny --seq 25 --iters 1
expect_fail "bench absurd batch" "more than 2\^31 tokens|--batch: 1000000000000 is out of range" - "$cugpt" bench gpt2-tiny --seq 24 \
  --batch 1000000000000 --iters 1

# --- budgets -------------------------------------------------------------------------------
expect_fail "memory reserve above the card" "the reserve is larger than the card" - "$cugpt" memory \
  gpt2-tiny --vram 100MiB --reserve 200MiB
expect_fail "memory zero batch" "batch must be positive|--batch: 0 is out of range" - "$cugpt" memory gpt2-tiny --batch 0
expect_fail "memory bad size" "invalid size '4XB'" - "$cugpt" memory gpt2-tiny --vram 4XB
"$cugpt" memory gpt2-124m --mode infer --vram 400MiB --reserve 0 >"$tmp/out" 2>&1
rc=$?
[ $rc -eq 3 ] && grep -q '^DOES NOT FIT' "$tmp/out" && ok || bad "budget below the parameters: rc $rc"

# --- output paths --------------------------------------------------------------------------
expect_fail "init into a missing directory" "cannot write '/nonexistent/x.safetensors': No such file" \
  /nonexistent/x.safetensors "$cugpt" init gpt2-tiny --out /nonexistent/x.safetensors
echo text >"$tmp/file"
expect_fail "forward under a file" "cannot write '$tmp/file/x.npy': Not a directory" \
  "$tmp/file/x.npy" "$cugpt" forward gpt2-tiny --weights "$w" --tokens 1 --out "$tmp/file/x.npy"
mkdir "$tmp/dir"
expect_fail "init over a directory" "cannot write '$tmp/dir': it is a directory, not a regular file" - \
  "$cugpt" init gpt2-tiny --out "$tmp/dir"
compgen -G "$tmp/dir.tmp*" >/dev/null && bad "init over a directory left a temporary" || ok
# A full disk, simulated by a file size limit: the write fails, nothing is left behind...
(trap '' XFSZ; ulimit -f 64; exec "$cugpt" init gpt2-tiny --out "$tmp/full.safetensors") \
  >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -ne 0 ] && [ $rc -lt 128 ] && grep -q "cannot write '$tmp/full.safetensors': File too large" "$tmp/err" &&
  ! compgen -G "$tmp/full.safetensors*" >/dev/null; then ok; else bad "file too large: rc $rc $(cat "$tmp/err")"; fi
# ... and a process killed in the middle of the write (SIGXFSZ) leaves the old file whole.
cp "$w" "$tmp/old.safetensors"
# (bash -c reports the "File size limit exceeded" to its own, silenced, stderr.)
bash -c 'ulimit -f 64; "$0" init gpt2-tiny --out "$1" --seed 9 >/dev/null 2>&1' "$cugpt" \
  "$tmp/old.safetensors" 2>/dev/null
rc=$?
[ $rc -eq $((128 + 25)) ] && cmp -s "$w" "$tmp/old.safetensors" && ok ||
  bad "killed writer: rc $rc, old file $(cmp "$w" "$tmp/old.safetensors" 2>&1)"
rm -f "$tmp"/old.safetensors.tmp.*

# ... and one terminated (SIGTERM) while it writes removes its temporary. A 94 MB checkpoint
# leaves time to catch the write; a run that ends first must have written a whole file.
config "$tmp/big.json" vocab_size=8192 n_positions=64 n_embd=512 n_head=8 n_layer=6
"$cugpt" init "$tmp/big.json" --out "$tmp/big.safetensors" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 6000); do
  t=$(compgen -G "$tmp/big.safetensors.tmp.*" | head -1)
  [ -n "$t" ] && [ "$(stat -c %s "$t" 2>/dev/null || echo 0)" -gt 1048576 ] && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.01
done
kill -TERM $pid 2>/dev/null
wait $pid
rc=$?
if [ $rc -eq 143 ] && ! compgen -G "$tmp/big.safetensors*" >/dev/null; then
  ok
elif [ $rc -eq 0 ] && fwd "$tmp/big.json" "$tmp/big.safetensors" >/dev/null 2>&1; then
  echo "note: init finished before the SIGTERM; its file loads"
  ok
else
  bad "terminated writer: rc $rc, left $(ls -d "$tmp"/big.safetensors* 2>/dev/null)"
fi
rm -f "$tmp"/big.safetensors* "$tmp/x.npy"

# --- the command line itself (CLI11: the problem, then a hint to run --help) ----------------
"$cugpt" init gpt2-tiny >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -gt 0 ] && [ $rc -lt 128 ] && head -1 "$tmp/err" | grep -q -- "--out is required" && ok ||
  bad "missing option: rc $rc, $(cat "$tmp/err")"
"$cugpt" init gpt2-tiny --out "$tmp/s.safetensors" --seed abc >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -gt 0 ] && [ $rc -lt 128 ] && head -1 "$tmp/err" | grep -q -- "--seed" && [ ! -e "$tmp/s.safetensors" ] && ok ||
  bad "bad option value: rc $rc, $(cat "$tmp/err")"

# --- determinism across processes, and two writers at once ----------------------------------
"$cugpt" init gpt2-tiny --out "$tmp/s1.safetensors" --seed 1 >/dev/null
"$cugpt" init gpt2-tiny --out "$tmp/s1b.safetensors" --seed 1 >/dev/null
"$cugpt" init gpt2-tiny --out "$tmp/s2.safetensors" --seed 2 >/dev/null
cmp -s "$tmp/s1.safetensors" "$tmp/s1b.safetensors" && ok || bad "init twice with seed 1 differs"
cmp -s "$tmp/s1.safetensors" "$tmp/s2.safetensors" && bad "seeds 1 and 2 give the same file" || ok
fwd gpt2-tiny "$tmp/s1.safetensors" >/dev/null && mv "$tmp/x.npy" "$tmp/l1.npy"
fwd gpt2-tiny "$tmp/s1b.safetensors" >/dev/null && cmp -s "$tmp/x.npy" "$tmp/l1.npy" && ok ||
  bad "forward twice gives different logits"
head -c 20000 /dev/urandom | base64 >"$tmp/text.txt"
for run in a b; do
  "$cugpt" train gpt2-bytes-tiny --data "$tmp/text.txt" --steps 3 --batch 2 --seq 16 --seed 4 \
    --out "$tmp/train_$run" | grep '^step' | cut -d'|' -f1-4 >"$tmp/train_$run.log"
done
cmp -s "$tmp/train_a/model.safetensors" "$tmp/train_b/model.safetensors" &&
  cmp -s "$tmp/train_a/optimizer.safetensors" "$tmp/train_b/optimizer.safetensors" &&
  [ -s "$tmp/train_a.log" ] && cmp -s "$tmp/train_a.log" "$tmp/train_b.log" && ok ||
  bad "train twice with seed 4 differs: $(diff "$tmp/train_a.log" "$tmp/train_b.log" | head -4)"
for round in 1 2 3 4 5; do
  "$cugpt" init gpt2-tiny --out "$tmp/same.safetensors" --seed 1 >/dev/null &
  p1=$!
  "$cugpt" init gpt2-tiny --out "$tmp/same.safetensors" --seed 2 >/dev/null &
  p2=$!
  wait $p1 && wait $p2 || bad "concurrent init $round failed"
  if cmp -s "$tmp/same.safetensors" "$tmp/s1.safetensors" || cmp -s "$tmp/same.safetensors" "$tmp/s2.safetensors"; then
    ok
  else
    bad "concurrent init $round: the file is neither run's output"
  fi
done
fwd gpt2-tiny "$tmp/same.safetensors" >/dev/null && ok || bad "the concurrently written file does not load"
compgen -G "$tmp/same.safetensors.tmp*" >/dev/null && bad "concurrent writers left a temporary" || ok

# --- the largest bundled model on the meta device: quick, and no real memory ----------------
rss() {  # peak RSS in KiB of CMD, or "" without GNU time
  [ -x /usr/bin/time ] || return 0
  /usr/bin/time -f %M -o "$tmp/rss" timeout 120 "$@" >/dev/null 2>&1
  tail -1 "$tmp/rss"
}
for cmd in "params gpt2-1558m" "memory gpt2-1558m --mode train --batch 1 --seq 1024" \
  "memory gpt2-1558m --mode infer --batch 8 --seq 1024"; do
  kib=$(rss "$cugpt" $cmd)
  if [ -z "$kib" ]; then
    echo "SKIP: no /usr/bin/time for the peak RSS of 'cugpt $cmd'"
  elif [ "$kib" -lt 300000 ]; then
    ok
  else
    bad "cugpt $cmd: peak RSS $kib KiB (6 GiB of f32 weights would be real memory)"
  fi
done

echo "robustness: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
