#!/usr/bin/env bash
# End-to-end checks of the cugpt command line: the figures the source documents require, and
# one-line errors with a non-zero exit for bad input. Usage: test_cli.sh path/to/cugpt
set -u
cugpt=$1
source "$(dirname "$0")/lib.sh"
# A path below a regular file cannot be created, not even by root (unlike /nonexistent/...).
touch "$tmp/a-file"

expect_out "day18 analytic and exact" 'Total +134,283,264 +134,408,960 +125,696' \
  "$cugpt" params gpt-day18
expect_out "day18 tensors" 'Tensors: +162' "$cugpt" params gpt-day18
expect_out "gpt2-124m total" 'Total parameters: +124,439,808' "$cugpt" params gpt2-124m
expect_out "kantaibert list row 0" '^ +0 +roberta.embeddings.word_embeddings.weight +\[52000, 768\] +39,936,000' \
  "$cugpt" params kantaibert --list
expect_out "kantaibert list row 105" '^ +105 +lm_head.layer_norm.bias +\[768\] +768 +83,504,416' \
  "$cugpt" params kantaibert --list
expect_out "kantaibert list count" '^106 tensors, 83,504,416 parameters' \
  "$cugpt" params kantaibert --list
expect_out "kantaibert json total" '"total": 83504416' "$cugpt" params kantaibert --json
expect_out "kantaibert json tensor 17" '"name": "roberta.encoder.layer.0.output.dense.weight"' \
  "$cugpt" params kantaibert --json
expect_out "tree" 'lm_head \(Linear\) +0 ' "$cugpt" params gpt2-tiny --tree
expect_out "report" 'Total parameters: +134,408,960' "$cugpt" report gpt-day18
"$cugpt" report gpt2-tiny --json >"$tmp/report.json" 2>"$tmp/err"
grep -q '"total": 29472' "$tmp/report.json" && grep -q '"generate": {' "$tmp/report.json" &&
  grep -q '"arena_peak_bytes"' "$tmp/report.json" && ok || bad "report --json: $(head -c 300 "$tmp/report.json")"
grep -q '^report: searching the largest' "$tmp/err" && grep -q '^report: timing' "$tmp/err" && ok ||
  bad "report shows no progress on stderr"

expect_out "init" 'wrote .*tiny.safetensors: gpt2-tiny, 29,472 parameters in 28 tensors' \
  "$cugpt" init gpt2-tiny --out "$tmp/tiny.safetensors" --seed 5
expect_out "forward" 'logits \[2, 3, 101\]' "$cugpt" forward gpt2-tiny \
  --weights "$tmp/tiny.safetensors" --tokens "1,2,3;4,5,6" --out "$tmp/logits.npy"
[ -s "$tmp/logits.npy" ] && ok || bad "forward wrote no file"

# Any checkpoint on any device: a bf16 file (as a GPU run writes) loads into the cpu's f32 model,
# converted, with one note on stderr; the logits are those of the f32 model holding the bf16
# values widened (written here by a few lines of Python, which widening bf16 makes exact).
expect_out "init bf16" 'bf16, seed 5' "$cugpt" init gpt2-tiny --out "$tmp/tiny-bf16.safetensors" \
  --seed 5 --dtype bf16
expect_out "init f64" 'f64, seed 5' "$cugpt" init gpt2-tiny --out "$tmp/tiny-f64.safetensors" \
  --seed 5 --dtype f64
for cmd in forward generate inspect; do
  case $cmd in
    forward) args=(--tokens "1,2,3;4,5,6" --out "$tmp/bf16-logits.npy") ;;
    generate) args=(--tokens "1,2,3" --max-new 3) ;;
    inspect) args=(--tokens "1,2,3" --out "$tmp/bf16-inspect") ;;
  esac
  if "$cugpt" $cmd gpt2-tiny --weights "$tmp/tiny-bf16.safetensors" "${args[@]}" >"$tmp/out" 2>"$tmp/err" &&
    [ "$(grep -c 'converted 28 tensor(s) from BF16 to F32' "$tmp/err")" -eq 1 ]; then ok
  else bad "$cmd of a bf16 checkpoint on the cpu: $(cat "$tmp/err")"; fi
done
expect_error "cpu refuses bf16 compute" 'the cpu computes in f32 or f64' "$cugpt" forward gpt2-tiny \
  --weights "$tmp/tiny-bf16.safetensors" --tokens "1,2" --dtype bf16 --out "$tmp/x.npy"
if command -v python3 >/dev/null; then
  python3 - "$tmp/tiny-bf16.safetensors" "$tmp/tiny-widened.safetensors" <<'PY'
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header, data = json.loads(raw[8:8 + n]), raw[8 + n:]
out, body = {}, b""
for name, e in header.items():
    if name == "__metadata__":
        out[name] = e
        continue
    a, b = e["data_offsets"]
    chunk = b"".join(b"\0\0" + data[i:i + 2] for i in range(a, b, 2))  # bf16 = f32's top half
    out[name] = {"dtype": "F32", "shape": e["shape"], "data_offsets": [len(body), len(body) + len(chunk)]}
    body += chunk
h = json.dumps(out).encode()
open(sys.argv[2], "wb").write(struct.pack("<Q", len(h)) + h + body)
PY
  "$cugpt" forward gpt2-tiny --weights "$tmp/tiny-widened.safetensors" --tokens "1,2,3;4,5,6" \
    --out "$tmp/widened-logits.npy" >/dev/null 2>"$tmp/err"
  cmp -s "$tmp/bf16-logits.npy" "$tmp/widened-logits.npy" && ok ||
    bad "bf16 checkpoint's logits differ from the f32-widened model's"
  grep -q converted "$tmp/err" && bad "an f32 file into an f32 model said it converted" || ok
else
  echo "skip: no python3 to widen the bf16 checkpoint by hand"
fi

golden="$(dirname "$0")/../data/golden"
expect_out "generate greedy" '^[0-9]+(,[0-9]+){4}$' "$cugpt" generate gpt2-tiny \
  --weights "$golden/gpt2-tiny/weights.safetensors" --tokens "1,2,3" --max-new 5
expect_out "generate two prompts" '^3,3,50,94,94' "$cugpt" generate gpt2-tiny \
  --weights "$golden/gpt2-tiny/weights.safetensors" --tokens "1,2,3;7,8,9" --max-new 5
expect_error "generate encoder" "is an encoder" "$cugpt" generate roberta-tiny \
  --weights "$golden/roberta-tiny/weights.safetensors" --tokens "0,5" --max-new 2
expect_error "generate too long" "exceeds the 24 positions" "$cugpt" generate gpt2-tiny \
  --weights "$golden/gpt2-tiny/weights.safetensors" --tokens "1,2,3" --max-new 30
expect_out "bench json" '"tokens_per_s": [0-9.e+]+' "$cugpt" bench gpt-day18-tiny --batch 2 \
  --seq 8 --iters 2 --decode 4 --json
expect_out "bench decode" 'host +batch 1, 3 steps: [0-9.]+ us a step, [0-9.]+ tokens/s' "$cugpt" \
  bench gpt2-tiny --seq 8 --iters 2 --decode 4
# Every decode path in one run, batched; kernel counts only where a graph was captured (cuda).
"$cugpt" bench gpt2-tiny --seq 8 --iters 1 --decode 5 --decode-batch 3 \
  --decode-modes host,device,graph >"$tmp/out" 2>"$tmp/err"
[ "$(grep -Ec '^    (host|device|graph) +batch 3, 4 steps: ' "$tmp/out")" = 3 ] &&
  ! grep -q 'kernels (' "$tmp/out" && ok || bad "bench --decode-modes: $(cat "$tmp/out" "$tmp/err")"
expect_error "bench --decode-modes" "'gpu' is not one of host, device, graph, fused" "$cugpt" bench \
  gpt2-tiny --seq 8 --decode-modes host,gpu
# --decode beyond the model's positions: said, with the steps actually timed.
"$cugpt" bench gpt2-tiny --seq 16 --iters 1 --decode 100 >"$tmp/out" 2>"$tmp/err"
grep -q 'decode 100 after a 16-token prompt exceeds the 24 positions of gpt2-tiny: timing 7 decode steps' \
  "$tmp/err" && grep -q 'batch 1, 7 steps' "$tmp/out" && ok || bad "bench --decode 100: $(cat "$tmp/err")"
# No figure is a percentage above 100 of its ceiling: over the ceiling it is marked instead.
for cfg in gpt2-tiny gpt-day18-tiny; do
  "$cugpt" bench $cfg --seq 8 --iters 2 --decode 4 >"$tmp/out" 2>&1
  if grep -Eo '[0-9]+\.[0-9]% of' "$tmp/out" | awk '$1 + 0 > 100 { exit 1 }'; then ok
  else bad "bench $cfg printed a fraction over 100%: $(grep '%' "$tmp/out")"; fi
done

# The decode step on the device: its buffers and the captured graph's are counted.
expect_out "memory --decode graph" "device sampler's buffers and the captured graph's" "$cugpt" \
  memory gpt2-tiny --mode generate --batch 2 --seq 16 --decode graph
expect_error "memory --decode train" "--decode applies to --mode generate" "$cugpt" memory \
  gpt2-tiny --mode train --decode graph
expect_out "memory fits" '^FITS with' "$cugpt" memory gpt-day18 --mode train --batch 8 --seq 256 \
  --dtype bf16
expect_out "memory smallest card" '^smallest card it fits, with this reserve: [0-9.]+ GiB$' \
  "$cugpt" memory gpt-day18 --mode train --batch 8 --seq 256 --dtype bf16
"$cugpt" memory gpt-day18 --mode train --batch 16 --seq 256 >"$tmp/mem" 2>&1
if [ $? -eq 3 ] && grep -q '^largest batch that fits this card at T=256: 11$' "$tmp/mem"; then ok
else bad "memory: the batch that would fit"; fi
"$cugpt" memory gpt2-355m --mode train --batch 1 --seq 1024 >"$tmp/mem" 2>&1
rc=$?
if [ $rc -eq 3 ] && grep -q '^DOES NOT FIT: .* short' "$tmp/mem"; then ok; else bad "memory no-fit: rc $rc"; fi
# Optimizer offload: the card's and the host's arenas and verdicts, the bus (docs/memory.md).
expect_out "memory offload" '^verdict: the card fits, the host fits$' "$cugpt" memory gpt2-774m \
  --mode train --batch 1 --seq 1024 --dtype bf16 --recompute 3 --offload optimizer --host-ram 16GiB
expect_out "memory offload bus" '^bus per step: 1.44 GiB to the host \(gradients\), 1.44 GiB to the card' \
  "$cugpt" memory gpt2-774m --mode train --batch 1 --seq 1024 --dtype bf16 --recompute 3 \
  --offload optimizer --host-ram 16GiB --pcie 8GB/s
"$cugpt" memory gpt2-774m --mode train --batch 1 --seq 1024 --dtype bf16 --recompute 3 \
  --offload optimizer --host-ram 8GiB >"$tmp/mem" 2>&1
rc=$?
if [ $rc -eq 3 ] && grep -q '^host: DOES NOT FIT: .* short' "$tmp/mem"; then ok
else bad "memory offload, host too small: rc $rc"; fi
expect_out "memory offload max batch" 'largest batch that fits 4.00 GiB: 24$' "$cugpt" memory \
  gpt2-355m --mode train --seq 1024 --dtype bf16 --recompute 3 --offload optimizer \
  --host-ram 8GiB --max-batch
expect_error "memory --pcie" "--pcie: 'fast' is not a bandwidth" "$cugpt" memory gpt2-124m \
  --offload optimizer --pcie fast
expect_error "memory --host-ram alone" 'describe the host of --offload' "$cugpt" memory gpt2-124m \
  --host-ram 1GiB
expect_error "memory --offload forward" '--offload is for --mode train' "$cugpt" memory gpt2-124m \
  --mode forward --offload optimizer
printf 'the cat sat on the mat %.0s' {1..300} >"$tmp/offload.txt"
expect_out "train --offload" '^offload optimizer\+gradients: host arena' "$cugpt" train \
  gpt2-bytes-tiny --data "$tmp/offload.txt" --steps 2 --batch 2 --seq 32 \
  --offload optimizer+gradients --host-ram 64MiB
expect_error "train --offload, host too small" "the host's part of one step peaks at" "$cugpt" \
  train gpt2-bytes-tiny --data "$tmp/offload.txt" --steps 2 --batch 2 --seq 32 \
  --offload optimizer --host-ram 1MiB
expect_out "memory encoder, its longest sequence" 'forward \(full logits\), B=1 T=512:' \
  "$cugpt" memory kantaibert --mode forward
expect_out "memory: infer is generate's old name" 'generate \(prefill \+ KV-cache decode\), B=1' \
  "$cugpt" memory gpt2-tiny --mode infer
expect_error "memory: unknown mode" 'train, forward or generate' "$cugpt" memory gpt2-tiny \
  --mode inference
# forward is what `bench` and `forward` run: bench's measured cpu arena peak is memory's
# prediction for the same case, byte for byte (generate, with its KV cache, is another figure).
json_field() { grep -Eo "\"$1\": [0-9]+" | head -1 | grep -Eo '[0-9]+$'; }
for cfg in gpt-day18-tiny gpt2-tiny roberta-tiny; do
  measured=$("$cugpt" bench $cfg --batch 8 --seq 16 --iters 1 --warmup 0 --decode 0 --json |
    json_field arena_peak_bytes)
  predicted=$("$cugpt" memory $cfg --mode forward --batch 8 --seq 16 --json | json_field peak_bytes)
  [ -n "$measured" ] && [ "$measured" = "$predicted" ] && ok ||
    bad "$cfg: bench measured an arena peak of '$measured', memory --mode forward predicts '$predicted'"
done
predicted=$("$cugpt" memory gpt2-tiny --mode generate --batch 8 --seq 16 --json | json_field peak_bytes)
[ "$predicted" != "$measured" ] && ok || bad "generate and forward predict the same peak"
expect_out "memory forward: the logits' edge" 'largest batch that fits 4.00 GiB: 219$' \
  "$cugpt" memory gpt-day18 --mode forward --dtype bf16 --seq 256 --max-batch
expect_out "report: three verdicts" 'train AdamW recompute 0: +[0-9]+\+?  train AdamW recompute 3: +[0-9]+\+?  forward: +[0-9]+\+?  generate: +[0-9]+' \
  "$cugpt" report gpt-day18-tiny
expect_out "report: an encoder's verdict says why" 'no train or generate verdict: roberta-tiny is an encoder' \
  "$cugpt" report roberta-tiny
expect_out "memory end of step" '^optimizer_state +1.00 GiB +1.00 GiB$' "$cugpt" memory gpt-day18 \
  --mode train --batch 8 --seq 256 --dtype bf16
expect_error "memory: optimizer in generate" 'apply to --mode train' "$cugpt" memory gpt-day18 \
  --mode generate --optimizer adamw
expect_error "memory: two searches" 'excludes' "$cugpt" memory gpt-day18 --max-batch --max-seq
expect_error "memory: --batch with --max-batch" '--max-batch searches the batch' "$cugpt" memory \
  gpt-day18 --max-batch --batch 8
expect_error "memory: --seq with --max-seq" '--max-seq searches the sequence' "$cugpt" memory \
  gpt-day18 --max-seq --seq 64
expect_error "memory: no optimizer to train" 'a training step needs adamw or sgd' "$cugpt" memory \
  gpt-day18 --optimizer none
"$cugpt" memory gpt-day18 --help | grep -- '--optimizer' | grep -q 'none' && bad "memory --help advertises --optimizer none" || ok
expect_error "memory: a size without a unit" '--vram 4: give a unit' "$cugpt" memory gpt-day18 --vram 4
"$cugpt" memory gpt2-tiny --vram 4096B --reserve 0 >"$tmp/mem" 2>&1
[ $? -eq 3 ] && grep -q 'DOES NOT FIT' "$tmp/mem" && ok || bad "memory --vram 4096B: $(tail -1 "$tmp/mem")"
"$cugpt" memory gpt-day18 --mode train --seq 256 --dtype bf16 --max-batch --json >"$tmp/mem"
for field in '"config": "gpt-day18"' '"dtype": "bf16"' '"mode": "train"' '"seq": 256' '"max_batch": 22' \
  '"vram_bytes": 4294967296'; do
  grep -q "$field" "$tmp/mem" && ok || bad "memory --max-batch --json lacks $field"
done
"$cugpt" memory gpt2-tiny --mode forward --batch 3 --seq 8 --json >"$tmp/mem"
for field in '"config": "gpt2-tiny"' '"mode": "forward"' '"batch": 3' '"seq": 8' '"dtype": "f32"'; do
  grep -q "$field" "$tmp/mem" && ok || bad "memory --json lacks $field"
done
expect_error "memory: f64" 'f32, bf16 or f16' "$cugpt" memory gpt-day18 --dtype f64
expect_out "memory: the model's end" "longest sequence that fits 4.00 GiB: 32 \\(the model's longest\\)$" \
  "$cugpt" memory roberta-tiny --mode forward --max-seq --batch 4
"$cugpt" memory gpt2-1558m --mode train --seq 1024 --max-batch >"$tmp/mem" 2>&1
rc=$?
if [ $rc -eq 3 ] && grep -q 'largest batch that fits 4.00 GiB: 0$' "$tmp/mem"; then ok; else
  bad "memory max batch 0: rc $rc"; fi
expect_out "memory json" '"fits": true' "$cugpt" memory gpt2-tiny --mode generate --batch 2 --seq 8 --json
"$cugpt" memory gpt2-355m --mode train --batch 1 --seq 1024 --json >"$tmp/mem" 2>&1
rc=$?
if [ $rc -eq 3 ] && grep -q '"fits": false' "$tmp/mem"; then ok; else bad "memory json no-fit: rc $rc"; fi
expect_out "memory max batch" 'largest batch that fits 4.00 GiB: 22$' "$cugpt" memory gpt-day18 \
  --mode train --seq 256 --dtype bf16 --max-batch

head -c 30000 /dev/urandom | base64 >"$tmp/text.txt"
expect_out "train" '^step +20/20 \| loss [0-9.]+' "$cugpt" train gpt2-bytes-tiny --data "$tmp/text.txt" \
  --steps 20 --batch 4 --seq 32 --log-every 10 --out "$tmp/run"
[ -s "$tmp/run/model.safetensors" ] && [ -s "$tmp/run/optimizer.safetensors" ] && ok || bad "train wrote no checkpoint"
expect_out "resume" '^resumed from .* at step 20' "$cugpt" train gpt2-bytes-tiny \
  --data "$tmp/text.txt" --steps 25 --batch 4 --seq 32 --resume "$tmp/run" --allow-change steps
expect_error "train encoder" "roberta encoder" "$cugpt" train roberta-tiny --data "$tmp/text.txt"
expect_error "train byte text small vocab" "at least 256" "$cugpt" train gpt2-tiny --data "$tmp/text.txt"
# Ctrl-C: a checkpoint, then a clean exit with 130.
"$cugpt" train gpt2-bytes-tiny --data "$tmp/text.txt" --steps 100000 --batch 4 --seq 32 \
  --log-every 1000 --out "$tmp/interrupted" >"$tmp/int.out" 2>&1 &
pid=$!
# Only once training runs: a background job of a script starts with SIGINT ignored, so a signal
# that arrived before train installs its handler would be lost (and the run would go on).
for _ in $(seq 300); do grep -q '^training' "$tmp/int.out" && break; sleep 0.1; done
kill -INT $pid
wait $pid
rc=$?
if [ $rc -eq 130 ] && grep -q '^interrupted at step' "$tmp/int.out" && [ -s "$tmp/interrupted/model.safetensors" ]; then
  ok
else
  bad "ctrl-c: rc $rc, $(tail -2 "$tmp/int.out")"
fi
ls "$tmp/interrupted" | grep -q '\.tmp\.' && bad "ctrl-c left a temporary file" || ok

expect_error "unknown config" "neither a file nor a bundled name" "$cugpt" params gpt5
echo '{"model_type": "gpt2", "vocab_size": 10' >"$tmp/broken.json"
expect_error "invalid json" "invalid JSON" "$cugpt" params "$tmp/broken.json"
echo '{"model_type": "gpt2", "vocab_size": 10, "n_positions": 8, "n_embd": 30, "n_layer": 1, "n_head": 4}' >"$tmp/heads.json"
expect_error "heads" "n_embd 30 is not divisible by n_head 4" "$cugpt" params "$tmp/heads.json"
expect_error "token out of range" "token id 101 at batch 0, position 1 is outside the vocabulary" \
  "$cugpt" forward gpt2-tiny --weights "$tmp/tiny.safetensors" --tokens "1,101" --out "$tmp/x.npy"
expect_error "negative token" "token id -3 " \
  "$cugpt" forward gpt2-tiny --weights "$tmp/tiny.safetensors" --tokens "-3" --out "$tmp/x.npy"
expect_error "empty tokens" "empty input" \
  "$cugpt" forward gpt2-tiny --weights "$tmp/tiny.safetensors" --tokens "" --out "$tmp/x.npy"
expect_error "ragged gpt" "different lengths" \
  "$cugpt" forward gpt2-tiny --weights "$tmp/tiny.safetensors" --tokens "1,2;3" --out "$tmp/x.npy"
expect_error "too long" "longer than the 24 positions" \
  "$cugpt" forward gpt2-tiny --weights "$tmp/tiny.safetensors" \
  --tokens "$(seq -s, 1 25)" --out "$tmp/x.npy"
expect_error "wrong checkpoint" "model tensor\(s\) missing from the file" \
  "$cugpt" forward roberta-tiny --weights "$tmp/tiny.safetensors" --tokens "0,5" --out "$tmp/x.npy"
head -c 100 "$tmp/tiny.safetensors" >"$tmp/truncated.safetensors"
expect_error "truncated checkpoint" "truncated.safetensors" \
  "$cugpt" forward gpt2-tiny --weights "$tmp/truncated.safetensors" --tokens "1" --out "$tmp/x.npy"
expect_error "unwritable output" "cannot write" \
  "$cugpt" init gpt2-tiny --out "$tmp/a-file/x.safetensors"
[ ! -e "$tmp/x.npy" ] && ok || bad "a failed forward left $tmp/x.npy behind"
expect_error "bad dtype" "unknown dtype 'int8'" "$cugpt" init gpt2-tiny --out "$tmp/y" --dtype int8

expect_out "memory plot" 'plot written to .*/m\.png$' "$cugpt" memory gpt-day18-tiny --mode train \
  --batch 2 --seq 16 --plot "$tmp/m.png"
[ "$(head -c 8 "$tmp/m.png" 2>/dev/null | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] && ok ||
  bad "memory plot: $tmp/m.png does not start with the PNG signature"
expect_error "memory plot unwritable" "cannot write '$tmp/a-file/x.png'" "$cugpt" memory \
  gpt-day18-tiny --mode train --batch 2 --seq 16 --plot "$tmp/a-file/x.png"

# Text prompts through a tokenizer (byte by default): ids, then the decoded continuation.
expect_out "init bytes" 'gpt2-bytes-tiny' "$cugpt" init gpt2-bytes-tiny --out "$tmp/bytes.safetensors" --seed 3
expect_out "generate text ids" '^[0-9]+(,[0-9]+){3}$' "$cugpt" generate gpt2-bytes-tiny \
  --weights "$tmp/bytes.safetensors" --text "Hello" --max-new 4 --ids
expect_out "generate text decoded" '^Hello' "$cugpt" generate gpt2-bytes-tiny \
  --weights "$tmp/bytes.safetensors" --text "Hello" --max-new 4
by_text=$("$cugpt" generate gpt2-bytes-tiny --weights "$tmp/bytes.safetensors" --text "Hello" \
  --max-new 6 --ids 2>/dev/null)
by_ids=$("$cugpt" generate gpt2-bytes-tiny --weights "$tmp/bytes.safetensors" \
  --tokens "72,101,108,108,111" --max-new 6 2>/dev/null)
[ -n "$by_text" ] && [ "$by_text" = "$by_ids" ] && ok || bad "--text 'Hello' != --tokens of its bytes: '$by_text' vs '$by_ids'"
expect_out "generate tokens with tokenizer" '^Hi' "$cugpt" generate gpt2-bytes-tiny \
  --weights "$tmp/bytes.safetensors" --tokens "72,105" --tokenizer byte --max-new 3
expect_error "text and tokens" "mutually exclusive" "$cugpt" generate gpt2-bytes-tiny \
  --weights "$tmp/bytes.safetensors" --text "Hi" --tokens "1,2" --max-new 2
expect_error "no prompt" "no prompt" "$cugpt" generate gpt2-bytes-tiny \
  --weights "$tmp/bytes.safetensors" --max-new 2
expect_error "text beyond vocab" "token id 104 at batch 0, position 0 is outside the vocabulary" \
  "$cugpt" generate gpt2-tiny --weights "$golden/gpt2-tiny/weights.safetensors" --text "hi" --max-new 2
expect_error "bad tokenizer" "expected 'byte' or a directory" "$cugpt" generate gpt2-bytes-tiny \
  --weights "$tmp/bytes.safetensors" --text "Hi" --tokenizer "$tmp/none" --max-new 2
expect_error "train tokenizer vocab" "needs a vocabulary of at least 278" "$cugpt" train \
  gpt2-bytes-tiny --data "$tmp/text.txt" --tokenizer "$(dirname "$0")/../data/bpe" --steps 1

# tokenize: text to ids and back, with any tokenizer, no model needed.
bpe="$(dirname "$0")/../data/bpe"
expect_out "tokenize golden" '^72,83,266,220,66,64,77,267$' "$cugpt" tokenize --tokenizer "$bpe" \
  --text "it's can't"
expect_out "tokenize shows the tokens" '^tokens: \["i","t","'"'"'s","Ġ","c","a","n","'"'"'t"\]$' \
  "$cugpt" tokenize --tokenizer "$bpe" --text "it's can't"
expect_out "tokenize json" '"ids": \[' "$cugpt" tokenize --tokenizer "$bpe" --text "the world" --json
expect_out "tokenize decode" '^it'"'"'s can'"'"'t$' "$cugpt" tokenize --tokenizer "$bpe" \
  --decode "72,83,266,220,66,64,77,267"
expect_out "tokenize brackets stay text" '^58,' "$cugpt" tokenize --tokenizer "$bpe" \
  --text "[citation needed]"
[ "$("$cugpt" tokenize --text "[1,2,3]" 2>/dev/null | head -1)" = "91,49,44,50,44,51,93" ] && ok ||
  bad "tokenize --text '[1,2,3]' is not its 7 bytes"
[ "$("$cugpt" tokenize --text "" 2>/dev/null | head -1)" = "" ] && ok || bad "tokenize empty text"
"$cugpt" tokenize --text "" --json >"$tmp/tok.json" 2>&1 && grep -q '"count": 0' "$tmp/tok.json" && ok ||
  bad "tokenize --text '' --json: $(cat "$tmp/tok.json")"
[ "$(printf 'ab' | "$cugpt" tokenize --file - 2>/dev/null | head -1)" = "97,98" ] && ok || bad "tokenize stdin"
mkdir -p "$tmp/openai"
cp "$bpe/vocab.json" "$tmp/openai/encoder.json"
cp "$bpe/merges.txt" "$tmp/openai/vocab.bpe"
expect_out "tokenize OpenAI's file names" '^72,83,266,220,66,64,77,267$' "$cugpt" tokenize \
  --tokenizer "$tmp/openai" --text "it's can't"
expect_error "tokenize: no input" 'give --text' "$cugpt" tokenize
expect_error "tokenize: two inputs" 'mutually exclusive' "$cugpt" tokenize --text a --decode 1
expect_error "tokenize: id outside" 'not in the vocabulary' "$cugpt" tokenize --decode 300
expect_error "tokenize: not an id" "'x' is not a token id" "$cugpt" tokenize --decode "1,x"

# inspect: activations, attention maps and statistics of one forward.
expect_out "inspect" 'wrote .*stats.json' "$cugpt" inspect gpt2-bytes-tiny \
  --weights "$tmp/bytes.safetensors" --text "Hi there" --out "$tmp/inspect" --heads 0,1
for f in embeddings.npy layer0_residual.npy layer1_probs.npy layer1_head1.png stats.csv; do
  [ -s "$tmp/inspect/$f" ] && ok || bad "inspect wrote no $f"
done
[ "$(head -c 8 "$tmp/inspect/layer0_head0.png" | od -An -tx1 | tr -d ' ')" = "89504e470d0a1a0a" ] \
  && ok || bad "inspect heatmap is not a PNG"
[ "$(wc -l <"$tmp/inspect/stats.csv")" -eq 3 ] && ok || bad "stats.csv: not a header + 2 layers"
[ ! -e "$tmp/inspect/layer0_head2.png" ] && ok || bad "inspect drew a head not asked for"
expect_out "inspect hook glob" 'wrote' "$cugpt" inspect gpt2-bytes-tiny \
  --weights "$tmp/bytes.safetensors" --tokens "72,105" --out "$tmp/inspect2" --layers 1 \
  --hook 'transformer.h.*.attn.c_attn'
[ -s "$tmp/inspect2/hook_transformer.h.0.attn.c_attn.npy" ] && ok || bad "--hook capture missing"
grep -q 'matches no module' "$tmp/err" && bad "a matching --hook warned" || ok
"$cugpt" inspect gpt2-bytes-tiny --weights "$tmp/bytes.safetensors" --tokens "72,105" \
  --out "$tmp/inspect4" --layers 1 --hook 'nomatch.*' >/dev/null 2>"$tmp/err"
grep -q "warning: --hook 'nomatch.\*' matches no module" "$tmp/err" && ok ||
  bad "inspect --hook 'nomatch.*' did not warn: $(cat "$tmp/err")"
expect_error "inspect layer range" "layer 5 out of range" "$cugpt" inspect gpt2-bytes-tiny \
  --weights "$tmp/bytes.safetensors" --tokens "72,105" --out "$tmp/inspect3" --layers 5
expect_error "inspect two inputs" "one way" "$cugpt" inspect gpt2-bytes-tiny \
  --weights "$tmp/bytes.safetensors" --tokens "72" --text "H" --out "$tmp/inspect3"

# train --batch auto: the largest batch whose step fits the arena, found before training.
expect_out "train batch auto" '^batch auto: [0-9]+, the largest whose step fits the 64.0 MiB arena' \
  "$cugpt" train gpt2-bytes-tiny --data "$tmp/text.txt" --steps 1 --seq 16 --batch auto --arena 64MiB
expect_error "train batch auto too small" "not even batch 1" "$cugpt" train gpt2-bytes-tiny \
  --data "$tmp/text.txt" --steps 1 --seq 16 --batch auto --arena 1MiB
expect_error "train batch zero" "positive integer or 'auto'" "$cugpt" train gpt2-bytes-tiny \
  --data "$tmp/text.txt" --steps 1 --batch 0
expect_error "train out of arena" "train: one step of B=4000 x T=16 peaks at .* more than the 64.0 MiB arena on cpu" "$cugpt" train gpt2-bytes-tiny \
  --data "$tmp/text.txt" --steps 1 --seq 16 --batch 4000 --arena 64MiB

finish cli
