#!/usr/bin/env bash
# Checkpoints that describe themselves, end to end: the tokenizer travels with the weights; a
# resumed run that differs from the recorded one is refused naming the difference (unless
# allowed); --steps is the total; --init-from starts from weights; --save-every and --keep.
# Usage: test_train.sh path/to/cugpt
set -u
cugpt=$1
source "$(dirname "$0")/lib.sh"
bpe="$(dirname "$0")/../data/bpe"

# A model whose vocabulary holds the test BPE's 278 tokens.
sed 's/"vocab_size": 256/"vocab_size": 320/' "$(dirname "$0")/../../configs/gpt2-bytes-tiny.json" \
  >"$tmp/bpe-tiny.json"
head -c 20000 /dev/urandom | base64 >"$tmp/text.txt"
head -c 20000 /dev/urandom | base64 >"$tmp/other.txt"
train=("$cugpt" train "$tmp/bpe-tiny.json" --batch 2 --seq 16)

expect_out "train with a BPE tokenizer" '^step +8/8' "${train[@]}" --data "$tmp/text.txt" \
  --tokenizer "$bpe" --steps 8 --out "$tmp/run"
# What the checkpoint records: the tokenizer's files in the weights, the arguments in the manifest.
grep -aq '"tokenizer_vocab"' "$tmp/run/model.safetensors" && ok || bad "no tokenizer in the weights"
grep -q '"train.lr": "0.00029999999999999997"' "$tmp/run/manifest.json" &&
  grep -q '"train.batch": "2"' "$tmp/run/manifest.json" &&
  grep -q '"config_json"' "$tmp/run/manifest.json" && ok ||
  bad "manifest lacks the training arguments: $(head -c 600 "$tmp/run/manifest.json")"

# The recorded tokenizer is used without --tokenizer, and can be named as one.
want=$("$cugpt" tokenize --tokenizer "$bpe" --text "hello world" | head -1)
got=$("$cugpt" tokenize --tokenizer "$tmp/run/model.safetensors" --text "hello world" | head -1)
[ -n "$want" ] && [ "$want" = "$got" ] && ok || bad "tokenize with the checkpoint's tokenizer: '$got' vs '$want'"
got=$("$cugpt" tokenize --tokenizer "$tmp/run" --text "hello world" | head -1)
[ "$want" = "$got" ] && ok || bad "tokenize with a train --out directory: '$got' vs '$want'"
# generate and inspect decode with it without being told (before: bytes, and garbage).
expect_out "generate uses the recorded tokenizer" '"tokenizer": "gpt2 BPE \(278 tokens, .*model.safetensors \[recorded\]\)"' \
  "$cugpt" generate "$tmp/bpe-tiny.json" --weights "$tmp/run/model.safetensors" --text "hello" \
  --max-new 2 --json
expect_out "generate --tokens decodes with it" '"prompt_text": "hello world"' "$cugpt" generate \
  "$tmp/bpe-tiny.json" --weights "$tmp/run/model.safetensors" --tokens "257,274,78,265" \
  --max-new 2 --json
"$cugpt" inspect "$tmp/bpe-tiny.json" --weights "$tmp/run/model.safetensors" --text "hello world" \
  --out "$tmp/insp" >"$tmp/insp.out" 2>&1
grep -q 'Ġworld' "$tmp/insp/stats.json" "$tmp/insp.out" 2>/dev/null && ok ||
  bad "inspect labels are not the recorded tokenizer's tokens: $(head -c 300 "$tmp/insp.out")"
# Resuming without --tokenizer takes the recorded one (the data is text: it must encode alike).
expect_out "resume takes the recorded tokenizer" '^resumed from .* at step 8' "${train[@]}" \
  --data "$tmp/text.txt" --steps 10 --resume "$tmp/run" --allow-change steps --out "$tmp/run"
# A tokenizer other than the recorded one is a difference.
expect_error "resume with another tokenizer" '--tokenizer byte \(recorded: the tokenizer of' \
  "${train[@]}" --data "$tmp/text.txt" --tokenizer byte --steps 12 --resume "$tmp/run"

# Differences from the recorded run are refused, each named, unless allowed.
expect_error "resume with another lr" 'differs from the recorded run: --lr 0.001 \(recorded: 0.0003\)' \
  "${train[@]}" --data "$tmp/text.txt" --steps 12 --resume "$tmp/run" --lr 1e-3
expect_error "resume with another batch and seq" '--batch 4 \(recorded: 2\); --seq 8 \(recorded: 16\)' \
  "$cugpt" train "$tmp/bpe-tiny.json" --batch 4 --seq 8 --data "$tmp/text.txt" --steps 12 \
  --resume "$tmp/run"
expect_error "resume with other data" '--data other data \(recorded: the data of .*text.txt\)' \
  "${train[@]}" --data "$tmp/other.txt" --steps 12 --resume "$tmp/run"
# The same data under another name is the same data.
cp "$tmp/text.txt" "$tmp/moved.txt"
expect_out "resume with moved data" '^step +11/11' "${train[@]}" --data "$tmp/moved.txt" \
  --steps 11 --resume "$tmp/run" --allow-change steps
expect_out "allowed lr change" '^resuming with changes \(--allow-change\): --lr 0.001 \(recorded: 0.0003\)' \
  "${train[@]}" --data "$tmp/text.txt" --steps 12 --resume "$tmp/run" --lr 1e-3 \
  --allow-change lr,steps --out "$tmp/run"
expect_error "unknown allowed name" "'learning_rate' is not an argument" "${train[@]}" \
  --data "$tmp/text.txt" --steps 20 --resume "$tmp/run" --allow-change learning_rate

# --steps is the total: more steps than the schedule is a changed schedule, fewer is nothing to do.
expect_error "steps changes the schedule" '--steps 20 \(recorded: 12\)' "${train[@]}" \
  --data "$tmp/text.txt" --steps 20 --lr 1e-3 --resume "$tmp/run"
expect_out "allowed schedule change says so" 'schedule now ends at step 20 \(recorded: 12\)' \
  "${train[@]}" --data "$tmp/text.txt" --steps 20 --lr 1e-3 --resume "$tmp/run" \
  --allow-change steps --out "$tmp/run"
expect_error "steps below the checkpoint's" 'is at step 20 and --steps 15 is the total, not more steps: nothing to train' \
  "${train[@]}" --data "$tmp/text.txt" --steps 15 --resume "$tmp/run"
expect_error "steps equal to the checkpoint's" 'nothing to train' "${train[@]}" \
  --data "$tmp/text.txt" --steps 20 --lr 1e-3 --resume "$tmp/run"

# --init-from: training starts from the weights (a fine-tuning run): its first loss is the trained
# model's, below a fresh run's.
first_loss() { sed -nE 's/^step +1\/[0-9]+ \| loss ([0-9.]+).*/\1/p' "$1"; }
"${train[@]}" --data "$tmp/text.txt" --steps 1 >"$tmp/fresh.out" 2>&1
"${train[@]}" --data "$tmp/text.txt" --steps 1 --init-from "$tmp/run/model.safetensors" \
  >"$tmp/tuned.out" 2>&1
fresh=$(first_loss "$tmp/fresh.out")
tuned=$(first_loss "$tmp/tuned.out")
grep -q '^starting from the weights of' "$tmp/tuned.out" && [ -n "$fresh" ] && [ -n "$tuned" ] &&
  awk -v a="$tuned" -v b="$fresh" 'BEGIN { exit !(a < b - 0.2) }' && ok ||
  bad "--init-from: first loss $tuned, fresh $fresh ($(tail -1 "$tmp/tuned.out"))"
expect_error "init-from and resume" 'give one of them' "${train[@]}" --data "$tmp/text.txt" \
  --steps 30 --resume "$tmp/run" --init-from "$tmp/run/model.safetensors"
expect_error "init-from a missing file" "nowhere.safetensors" "${train[@]}" --data "$tmp/text.txt" \
  --steps 3 --init-from "$tmp/nowhere.safetensors"

# --save-every N: a checkpoint every N steps; --keep K complete ones stay.
expect_out "save every" '^checkpoint: .*periodic \(step 9\)' "${train[@]}" --data "$tmp/text.txt" \
  --tokenizer "$bpe" --steps 10 --save-every 3 --keep 3 --out "$tmp/periodic"
steps=$(cd "$tmp/periodic" && ls -d step-* | sort -t- -k2 -n | tr '\n' ' ')
[ "$steps" = "step-6 step-9 step-10 " ] && ok || bad "--save-every 3 --keep 3 left: $steps"
grep -q '"step": 10' "$tmp/periodic/manifest.json" && ok || bad "the last checkpoint is not step 10"
expect_error "save-every without out" 'needs --out' "${train[@]}" --data "$tmp/text.txt" \
  --steps 3 --save-every 1
expect_error "keep below two" '--keep' "${train[@]}" --data "$tmp/text.txt" --steps 3 \
  --out "$tmp/k" --keep 1

# --batch auto is bounded by the data: no step covers the training split more than once; an explicit
# batch that would is warned about.
head -c 1500 /dev/urandom | base64 -w 0 >"$tmp/small.txt"
expect_out "batch auto bounded by the data" "^batch auto: 112, the training split's 1800 tokens in whole sequences" \
  "$cugpt" train gpt2-bytes-tiny --data "$tmp/small.txt" --steps 1 --seq 16 --batch auto --arena 256MiB
"$cugpt" train gpt2-bytes-tiny --data "$tmp/small.txt" --steps 1 --seq 16 --batch 200 \
  >/dev/null 2>"$tmp/err"
grep -q "warning: a step of 200 x 16 tokens covers the 1800 training tokens of .*small.txt more than once" \
  "$tmp/err" && ok || bad "no warning for a step larger than the data: $(cat "$tmp/err")"

finish "cli train"
