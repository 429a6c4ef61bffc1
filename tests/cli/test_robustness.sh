#!/usr/bin/env bash
# Bad input at every cugpt subcommand, end to end: a non-zero exit below 128 (no crash), exactly
# one line on stderr naming the problem, and nothing left at the output path. Then killed and
# failed writes, two writers at once, determinism across processes, and the largest bundled
# model on the meta device in little memory. docs/robustness.md catalogues the cases.
# Usage: test_robustness.sh path/to/cugpt
set -u
cugpt=$1
source "$(dirname "$0")/lib.sh"

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
expect_fail "config huge in range: init" "init: the f32 parameters of .* take [0-9.]+ GiB, more than the .* arena" \
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
# Another floating dtype is no error: it is converted to the compute dtype, and said once.
if fwd gpt2-tiny "$tmp/bf16.safetensors" >/dev/null 2>"$tmp/err" &&
  [ "$(grep -c 'converted 28 tensor(s) from BF16 to F32' "$tmp/err")" -eq 1 ]; then ok
else bad "checkpoint in bf16 on the cpu: $(cat "$tmp/err")"; fi
rm -f "$tmp/x.npy"
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

# --- issue 15: checkpoints as one unit ----------------------------------------------------
tr() { "$cugpt" train gpt2-bytes-tiny --data "$tmp/text.txt" --batch 2 --seq 16 "$@"; }
tr --steps 2 --out "$tmp/ck" >/dev/null 2>&1
[ -s "$tmp/ck/manifest.json" ] && [ -d "$tmp/ck/step-2" ] && [ -s "$tmp/ck/model.safetensors" ] && ok ||
  bad "train --out wrote no manifest and step directory: $(ls "$tmp/ck")"
expect_ok "resume verifies the manifest" '^resumed from .* at step 2' tr --steps 3 --resume "$tmp/ck" \
  --allow-change steps
# A second writer while the first holds the lock: one line, nothing mixed.
# (cugpt itself in the background, not the tr function: $! must be the writer, or the kill -9
# below kills a subshell and leaves the writer training for ever.)
# (--overwrite: ck holds the checkpoint of the run above, another run's; issue 29.)
"$cugpt" train gpt2-bytes-tiny --data "$tmp/text.txt" --batch 2 --seq 16 --steps 100000 \
  --log-every 100000 --overwrite --out "$tmp/ck" >"$tmp/long.out" 2>&1 &
pid=$!
for _ in $(seq 300); do grep -q "^training" "$tmp/long.out" && break; sleep 0.1; done
expect_fail "second writer" "checkpoint directory '$tmp/ck' is in use by another cugpt process" - \
  tr --steps 1 --out "$tmp/ck"
kill -9 $pid; wait $pid 2>/dev/null
expect_ok "resume after the first writer's kill -9" '^resumed from .* at step 2' tr --steps 3 \
  --resume "$tmp/ck" --allow-change steps
# Mixed: another run's optimizer beside this run's model is found by its checksum.
tr --steps 1 --seed 7 --out "$tmp/ck_other" >/dev/null 2>&1
cp "$tmp/ck_other/step-1/optimizer.safetensors" "$tmp/ck/step-2/optimizer.safetensors"
expect_fail "resume a mixed pair" "step-2/optimizer.safetensors does not match its checksum" - \
  tr --steps 3 --resume "$tmp/ck"
truncate -s 100 "$tmp/ck_other/step-1/model.safetensors"
expect_fail "resume a torn file" "step-1/model.safetensors is 100 bytes, the manifest says" - \
  tr --steps 3 --resume "$tmp/ck_other"
sed -i 's/"step": 1,/"step": -5,/' "$tmp/ck_other/manifest.json"
expect_fail "resume a negative step" "field 'step' = -5 is out of range" - tr --steps 3 --resume "$tmp/ck_other"
# A first checkpoint on a full disk leaves no optimizer without its model: nothing is committed.
(trap '' XFSZ; ulimit -f 200; exec "$cugpt" train gpt2-bytes-tiny --data "$tmp/text.txt" --steps 1 \
  --batch 2 --seq 16 --out "$tmp/ck_full") >/dev/null 2>"$tmp/err"
rc=$?
[ $rc -ne 0 ] && [ $rc -lt 128 ] && [ ! -e "$tmp/ck_full/manifest.json" ] &&
  ! compgen -G "$tmp/ck_full/*.safetensors" >/dev/null && ok ||
  bad "first checkpoint on a full disk: rc $rc, $(ls -a "$tmp/ck_full")"

# --- issue 15: outputs that are not regular files are refused, never replaced -------------
mknod "$tmp/null" c 1 3 2>/dev/null || mkfifo "$tmp/null"
expect_fail "forward over a device" "cannot write '$tmp/null': it is a (character device|FIFO)" - \
  "$cugpt" forward gpt2-tiny --weights "$w" --tokens 1 --out "$tmp/null"
{ [ -c "$tmp/null" ] || [ -p "$tmp/null" ]; } && ok || bad "the device node was replaced"
mkfifo "$tmp/fifo_out"
expect_fail "init over a FIFO" "it is a FIFO, not a regular file" - "$cugpt" init gpt2-tiny --out "$tmp/fifo_out"
echo keep >"$tmp/target"
ln -s "$tmp/target" "$tmp/link.png"
expect_fail "memory --plot over a symlink" "it is a symbolic link" - "$cugpt" memory gpt2-tiny --plot "$tmp/link.png"
[ -L "$tmp/link.png" ] && [ "$(cat "$tmp/target")" = keep ] && ok || bad "the symlink or its target was replaced"

# --- issue 15: inputs must be regular files, read within bounds ---------------------------
mkfifo "$tmp/fifo_in"
expect_fail "weights from a FIFO" "safetensors '$tmp/fifo_in': is a FIFO, not a regular file" - \
  timeout 10 "$cugpt" forward gpt2-tiny --out "$tmp/fw.npy" --weights "$tmp/fifo_in" --tokens 1
expect_fail "data from a FIFO" "data '$tmp/fifo_in': is a FIFO" - timeout 10 "$cugpt" train gpt2-bytes-tiny \
  --data "$tmp/fifo_in" --steps 1
expect_fail "data from /dev/zero" "data '/dev/zero': is a character device" - timeout 10 "$cugpt" \
  train gpt2-bytes-tiny --data /dev/zero --steps 1
mkdir -p "$tmp/tok_fifo" "$tmp/tok_zero" "$tmp/tok_id"
mkfifo "$tmp/tok_fifo/vocab.json"
ln -s /dev/zero "$tmp/tok_zero/vocab.json"
for d in tok_fifo tok_zero tok_id; do printf '#version: 0.2\n' >"$tmp/$d/merges.txt"; done
expect_fail "vocab.json a FIFO" "vocab.json: the vocabulary is not a regular file" - timeout 10 \
  "$cugpt" train gpt2-bytes-tiny --data "$tmp/text.txt" --tokenizer "$tmp/tok_fifo" --steps 1
expect_fail "vocab.json linked to /dev/zero" "vocab.json: the vocabulary is not a regular file" - \
  timeout 10 "$cugpt" train gpt2-bytes-tiny --data "$tmp/text.txt" --tokenizer "$tmp/tok_zero" --steps 1
python3 -c '
import json, sys
b = [*range(33, 127), *range(161, 173), *range(174, 256)]
v = {chr(x): i for i, x in enumerate(b)}
n = 0
for x in range(256):
    if x not in b:
        v[chr(256 + n)] = len(v)
        n += 1
v["<|x|>"] = 16777215
json.dump(v, open(sys.argv[1], "w"))' "$tmp/tok_id/vocab.json"
expect_fail "vocab id 16777215" "ids run to 16777215 but only 257 tokens" - "$cugpt" train gpt2-bytes-tiny \
  --data "$tmp/text.txt" --tokenizer "$tmp/tok_id" --steps 1
printf '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}\0junk' >"$tmp/hdr"
{ printf '\x3c\x00\x00\x00\x00\x00\x00\x00'; cat "$tmp/hdr"; head -c 4 /dev/zero; } >"$tmp/nul.safetensors"
expect_fail "safetensors NUL after the header" "header holds a NUL byte at offset 54" - \
  "$cugpt" forward gpt2-tiny --out "$tmp/fw.npy" --weights "$tmp/nul.safetensors" --tokens 1
st "$tmp/hole.safetensors" '{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}' 8
expect_fail "safetensors hole" "bytes \[0, 4\) of the data buffer belong to no tensor" - \
  "$cugpt" forward gpt2-tiny --out "$tmp/fw.npy" --weights "$tmp/hole.safetensors" --tokens 1
st "$tmp/trail.safetensors" '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}' 12
expect_fail "safetensors trailing bytes" "8 bytes after the last tensor" - \
  "$cugpt" forward gpt2-tiny --out "$tmp/fw.npy" --weights "$tmp/trail.safetensors" --tokens 1
python3 -c '
import json, struct, sys
h = {"t%d" % i: {"dtype": "F32", "shape": [1], "data_offsets": [4 * i, 4 * i + 4]} for i in range(40000)}
s = json.dumps(h).encode()
open(sys.argv[1], "wb").write(struct.pack("<Q", len(s)) + s + bytes(160000))' "$tmp/many.safetensors"
start=$(date +%s%N)
"$cugpt" forward gpt2-tiny --out "$tmp/fw.npy" --weights "$tmp/many.safetensors" --tokens 1 >/dev/null 2>&1
ms=$((($(date +%s%N) - start) / 1000000))
[ $ms -lt 3000 ] && ok || bad "a header of 40,000 tensors took $ms ms (quadratic parse?)"
printf '{"model_type": "gpt2", "vocab_size": 101, "n_positions": 24, "n_embd": 32, "n_layer": 2, "n_head": 4}\0junk' >"$tmp/nul.json"
expect_fail "config NUL and junk" "a NUL byte at offset 101" - "$cugpt" params "$tmp/nul.json"

# --- issue 15: numeric options, one line naming the option ---------------------------------
while IFS='|' read -r name pattern args; do
  # shellcheck disable=SC2086
  expect_fail "option $name" "$pattern" - "$cugpt" $args
done <<OPTIONS
log-every 0|--log-every: 0 is out of range|train gpt2-bytes-tiny --data $tmp/text.txt --steps 1 --log-every 0
lr nan|--lr: 'nan' is not a finite number|train gpt2-bytes-tiny --data $tmp/text.txt --steps 1 --lr nan
lr inf|--lr: 'inf' is not a finite number|train gpt2-bytes-tiny --data $tmp/text.txt --steps 1 --lr inf
lr -1|--lr: -1 is out of range|train gpt2-bytes-tiny --data $tmp/text.txt --steps 1 --lr -1
clip nan|--clip: 'nan' is not a finite number|train gpt2-bytes-tiny --data $tmp/text.txt --steps 1 --clip nan
clip -1|--clip: -1 is out of range|train gpt2-bytes-tiny --data $tmp/text.txt --steps 1 --clip -1
weight-decay nan|--weight-decay: 'nan'|train gpt2-bytes-tiny --data $tmp/text.txt --steps 1 --weight-decay nan
eval-batches 0|--eval-batches: 0 is out of range|train gpt2-bytes-tiny --data $tmp/text.txt --steps 1 --eval-batches 0
eval-batches -3|--eval-batches: -3 is out of range|train gpt2-bytes-tiny --data $tmp/text.txt --steps 1 --eval-batches -3
arena overflow|--arena: '16000000TiB' is out of range|train gpt2-bytes-tiny --data $tmp/text.txt --steps 1 --arena 16000000TiB
arena above memory|is more than this machine's|train gpt2-bytes-tiny --data $tmp/text.txt --steps 1 --arena 1000TiB
vram overflow|--vram: '16000000TiB' is out of range|memory gpt2-tiny --vram 16000000TiB
temperature nan|--temperature: 'nan' is not a finite number|generate gpt2-tiny --weights $w --tokens 1 --temperature nan
max-new int64|--max-new: 9223372036854775807 is out of range|generate gpt2-tiny --weights $w --tokens 1 --max-new 9223372036854775807
tokens trailing comma|tokens: empty entry in sequence 1 of '1,2,'|forward gpt2-tiny --out $tmp/fw.npy --weights $w --tokens 1,2,
ragged message|different lengths \(2 and 3 tokens\)|forward gpt2-tiny --out $tmp/fw.npy --weights $w --tokens 1,2;1,2,3
seed -1|--seed: '-1' is not an integer >= 0|init gpt2-tiny --out $tmp/seed.safetensors --seed -1
OPTIONS
expect_fail "newline and ESC in an argument" 'tokens: .1\\n2\\x1B\[31m. is not an integer id' - \
  "$cugpt" forward gpt2-tiny --out "$tmp/fw.npy" --weights "$w" --tokens $'1\n2\e[31m'
expect_fail "ESC in a config name" 'config .gpt\\x1B\[31m. is neither' - "$cugpt" params $'gpt\e[31m'

# --- issue 15: resources before work -------------------------------------------------------
rss() {  # peak RSS in KiB of CMD, or "" without GNU time
  [ -x /usr/bin/time ] || return 0
  /usr/bin/time -f %M -o "$tmp/rss" timeout 120 "$@" >/dev/null 2>&1
  tail -1 "$tmp/rss"
}
# What the binary alone takes (a CUDA build maps the CUDA libraries: about 200 MB more than a
# cpu-only one): the limits below are above it, by 512 MiB (AddressSanitizer's quarantine alone
# keeps 256 MiB of freed memory); the failures they catch took GiB.
base_kib=$(rss "$cugpt" params gpt2-tiny)
base_kib=${base_kib:-0}
# A batch far past any card: a lower bound answers at once, in little memory (the meta run
# used to build B x T host ids: minutes, GiB, std::bad_alloc).
for b in 5000000 1000000000; do
  timeout 20 "$cugpt" memory gpt2-tiny --batch $b --seq 24 >"$tmp/out" 2>"$tmp/err"
  rc=$?
  [ $rc -eq 3 ] && grep -q '^DOES NOT FIT: at least .* short$' "$tmp/out" && [ ! -s "$tmp/err" ] &&
    ok || bad "memory batch $b: rc $rc $(head -2 "$tmp/err")"
  kib=$(rss "$cugpt" memory gpt2-tiny --batch $b --seq 24)
  [ -z "$kib" ] || [ "$kib" -lt $((base_kib + 524288)) ] && ok ||
    bad "memory batch $b: peak RSS $kib KiB (the binary alone: $base_kib)"
done
expect_fail "memory batch past what it simulates, on a huge card" "no exact answer" - \
  timeout 20 "$cugpt" memory gpt2-tiny --batch 5000000 --seq 24 --vram 1000TiB
# At the edge of what it simulates (2^21 tokens), on a card it just misses: a verdict with its
# smallest card and largest batch in a bounded number of runs (0.85 s on a 2-core VM, was
# 1.5 s; about 10 s under the sanitizers). The timeout catches a search gone linear (minutes),
# not a speed target.
timeout 60 "$cugpt" memory gpt2-124m --batch 2048 --seq 1024 --vram 1TiB >"$tmp/out" 2>&1
rc=$?
[ $rc -eq 3 ] && grep -q "^smallest card it fits" "$tmp/out" &&
  grep -q "^largest batch that fits this card at T=1024: 1701$" "$tmp/out" && ok ||
  bad "memory verdict at the edge of the simulation: rc $rc $(tail -3 "$tmp/out")"
timeout 20 "$cugpt" memory gpt2-tiny --batch 1000000000 --max-seq >"$tmp/out" 2>&1
rc=$?
[ $rc -eq 3 ] && grep -q "longest sequence that fits .*: 0 (T=1 needs at least" "$tmp/out" && ok ||
  bad "memory --max-seq for a huge batch: rc $rc $(cat "$tmp/out")"
# train: the plan of one step, the host ids and the data are checked before anything is built.
kib=$(rss "$cugpt" train gpt2-bytes-tiny --data "$tmp/text.txt" --steps 1 --batch 20000000 --seq 16 --arena 64MiB)
[ -z "$kib" ] || [ "$kib" -lt $((base_kib + 524288)) ] && ok ||
  bad "train huge batch: peak RSS $kib KiB (the binary alone: $base_kib)"
expect_fail "train batch above the arena" "train: one step of B=20000000 x T=16 needs at least .* more than the 64.0 MiB arena on cpu \(see .cugpt memory gpt2-bytes-tiny --mode train" \
  - timeout 20 "$cugpt" train gpt2-bytes-tiny --data "$tmp/text.txt" --steps 1 --batch 20000000 --seq 16 --arena 64MiB
expect_fail "train step plan above the arena" "train: one step of B=2000 x T=16 peaks at .* during '.*', .* more than the 64.0 MiB arena" \
  - "$cugpt" train gpt2-bytes-tiny --data "$tmp/text.txt" --steps 1 --batch 2000 --seq 16 --arena 64MiB
expect_fail "train batch out of range" "train: --batch 999999999999999 is out of range" \
  - "$cugpt" train gpt2-bytes-tiny --data "$tmp/text.txt" --steps 1 --batch 999999999999999
head -c 300 "$tmp/text.txt" >"$tmp/short.txt"
head -c 20 "$tmp/text.txt" >"$tmp/shorter.txt"
expect_fail "validation split shorter than a sequence" "the validation split has 30 tokens, fewer than one sequence of 32 .*--eval-every 0" \
  - "$cugpt" train gpt2-bytes-tiny --data "$tmp/short.txt" --steps 1 --batch 2 --seq 32 --eval-every 1 --out "$tmp/ck_short"
grep -q "^step" "$tmp/out" && bad "validation split: a step ran before the error" || ok
expect_ok "validation split unused without --eval-every" "^step +1/1" \
  "$cugpt" train gpt2-bytes-tiny --data "$tmp/short.txt" --steps 1 --batch 2 --seq 32
expect_fail "training split shorter than a sequence" "the training split has 18 tokens, fewer than one sequence of 32" \
  - "$cugpt" train gpt2-bytes-tiny --data "$tmp/shorter.txt" --steps 1 --batch 2 --seq 32
expect_fail "data is a directory" "data '$tmp': is a directory" - "$cugpt" train gpt2-bytes-tiny --data "$tmp" --steps 1

# inspect --out is one unit: a full disk leaves the previous set whole and adds nothing.
insp() { "$cugpt" inspect gpt2-tiny --weights "$w" --tokens "1,2,3" --out "$@"; }
insp "$tmp/insp" >/dev/null 2>&1 && [ -s "$tmp/insp/stats.json" ] && ok || bad "inspect: no output"
ls "$tmp/insp" >"$tmp/insp.before"
rm -rf "$tmp/insp2" && insp "$tmp/insp2" --layers 0 >/dev/null 2>&1  # a different set of files
(trap '' XFSZ; ulimit -f 2; exec "$cugpt" inspect gpt2-tiny --weights "$w" --tokens "1,2,3" \
  --out "$tmp/insp" --hook '*') >/dev/null 2>"$tmp/err"
rc=$?
ls "$tmp/insp" >"$tmp/insp.after"
[ $rc -ne 0 ] && [ $rc -lt 128 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && cmp -s "$tmp/insp.before" "$tmp/insp.after" &&
  ! compgen -G "$tmp/.insp.*" >/dev/null && ok ||
  bad "inspect on a full disk: rc $rc $(cat "$tmp/err"); $(diff "$tmp/insp.before" "$tmp/insp.after")"
# A second run replaces the whole set: files of the first that the second does not write go.
insp "$tmp/insp2" >/dev/null 2>&1 && insp "$tmp/insp2" --layers 0 >/dev/null 2>&1 &&
  [ ! -e "$tmp/insp2/layer1_residual.npy" ] && [ -s "$tmp/insp2/layer0_residual.npy" ] &&
  ! compgen -G "$tmp/.insp2.*" >/dev/null && ok || bad "inspect over an earlier set: $(ls -a "$tmp/insp2")"
mkdir -p "$tmp/notours" && echo keep >"$tmp/notours/mine.txt"
expect_fail "inspect over a directory it did not write" "cannot write '$tmp/notours': a directory with files and no stats.json" \
  - insp "$tmp/notours"
[ -s "$tmp/notours/mine.txt" ] && ok || bad "inspect touched a directory it did not write"
expect_fail "inspect over a file" "cannot write '$tmp/file': it is a regular file, not a directory" - insp "$tmp/file"
ln -sfn "$tmp/insp" "$tmp/insp_link"
expect_fail "inspect over a symlink" "cannot write '$tmp/insp_link': it is a symbolic link" - insp "$tmp/insp_link"
expect_fail "inspect over a device" "cannot write '/dev/null': it is a character device" - insp /dev/null

# --- the largest bundled model on the meta device: quick, and no real memory ----------------
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

finish robustness
