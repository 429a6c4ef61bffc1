#!/usr/bin/env bash
# Checkpoints that describe themselves, end to end: the tokenizer travels with the weights; a
# resumed run that differs from the recorded one is refused naming the difference (unless
# allowed); --steps is the total; --init-from starts from weights; --save-every and --keep; --out
# never deletes or replaces what this run did not write (issue 29); the header is flushed before
# the first step.
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

# --- issue 29: --out deletes or replaces nothing this run did not write -----------------------
tiny=("$cugpt" train gpt2-bytes-tiny --data "$tmp/text.txt" --batch 2 --seq 16)
mkdir -p "$tmp/user1/step-1" "$tmp/user7/step-7"
echo x >"$tmp/user1/step-1/precious.txt"
echo "It was a dark night." >"$tmp/user7/step-7/chapter1.txt"
expect_error "out over a user's step-1" "holds what cugpt did not write: step-1/ \(with precious.txt\)\. .*give an empty or new --out" \
  "${tiny[@]}" --steps 2 --out "$tmp/user1"
[ "$(cat "$tmp/user1/step-1/precious.txt")" = x ] && [ ! -e "$tmp/user1/.lock" ] && ok ||
  bad "out over a user's step-1: $(ls -a "$tmp/user1" "$tmp/user1/step-1")"
expect_error "out over a user's step-7" "did not write: step-7/ \(with chapter1.txt\)" \
  "${tiny[@]}" --steps 8 --save-every 1 --out "$tmp/user7"
[ "$(cat "$tmp/user7/step-7/chapter1.txt")" = "It was a dark night." ] && ok ||
  bad "out over a user's step-7 lost the chapter"
mkdir -p "$tmp/userfile" "$tmp/usermanifest"
echo mine >"$tmp/userfile/model.safetensors"
echo '{"tool": "another", "entries": []}' >"$tmp/usermanifest/manifest.json"
expect_error "out over a user's model.safetensors" "did not write: model.safetensors\." \
  "${tiny[@]}" --steps 1 --out "$tmp/userfile"
[ ! -L "$tmp/userfile/model.safetensors" ] && [ "$(cat "$tmp/userfile/model.safetensors")" = mine ] &&
  ok || bad "the user's model.safetensors was replaced"
expect_error "out over another tool's manifest.json" "manifest.json \(not a cugpt checkpoint's: manifest.json: missing field 'format'\)" \
  "${tiny[@]}" --steps 1 --out "$tmp/usermanifest"
grep -q '"tool": "another"' "$tmp/usermanifest/manifest.json" && ok || bad "another tool's manifest was overwritten"

# Another run's finished checkpoint: refused without --resume (it deleted step-4 at the second
# save); --overwrite replaces it, removing only the step directories its manifest listed.
"${tiny[@]}" --steps 4 --save-every 2 --seed 2 --out "$tmp/R" >/dev/null 2>&1
expect_error "out over another run's checkpoint" "checkpoint directory '$tmp/R' holds the checkpoint of another run \(step 4, step-4/\): continue it with --resume $tmp/R, give another --out, or replace its checkpoints with --overwrite" \
  "${tiny[@]}" --steps 3 --save-every 1 --out "$tmp/R"
[ -d "$tmp/R/step-4" ] && grep -q '"step": 4' "$tmp/R/manifest.json" && ok ||
  bad "the first run's step-4 is gone: $(ls "$tmp/R")"
expect_out "its own run continues with --resume" '^step +6/6' "${tiny[@]}" --steps 6 --seed 2 \
  --save-every 2 --resume "$tmp/R" --allow-change steps --out "$tmp/R"
expect_out "overwrite replaces another run's checkpoints" '^checkpoint: .*R \(step 3\)' \
  "${tiny[@]}" --steps 3 --save-every 1 --out "$tmp/R" --overwrite
steps=$(cd "$tmp/R" && ls -d step-* | sort -t- -k2 -n | tr '\n' ' ')
[ "$steps" = "step-2 step-3 " ] && grep -q '"step": 3' "$tmp/R/manifest.json" && ok ||
  bad "--overwrite left: $steps"
echo mine >"$tmp/R/notes.txt"
expect_error "overwrite still refuses what no manifest lists" "did not write: notes.txt\." \
  "${tiny[@]}" --steps 3 --out "$tmp/R" --overwrite
[ -f "$tmp/R/notes.txt" ] && ok || bad "--overwrite removed notes.txt"
# A manifest with a key twice (JSON readers keep the last one silently) is refused.
cp -r "$tmp/R" "$tmp/dup" && rm "$tmp/dup/notes.txt"
sed -i '0,/{/s//{"step": 999,/' "$tmp/dup/manifest.json"
expect_error "resume a manifest with a duplicate step" "checkpoint '$tmp/dup': manifest.json: field 'step' appears twice" \
  "${tiny[@]}" --steps 9 --resume "$tmp/dup"
expect_error "keep without out" '--keep needs --out' "${tiny[@]}" --steps 3 --keep 3
expect_error "overwrite without out" '--overwrite needs --out' "${tiny[@]}" --steps 3 --overwrite

# The header is written before the first step computes, not with its line (issue 29: a minute of
# silence through a pipe on gpt2-124m). A first step of ~1.5 s here: the first bytes that
# reach the file are the header alone; before the fix they were the header and step 1 together,
# in one write. (Flushing is what is tested: the step's duration only has to exceed the polling.)
head -c 300000 /dev/urandom | base64 >"$tmp/big.txt"
"$cugpt" train gpt2-bytes-tiny --data "$tmp/big.txt" --batch 1024 --seq 64 --steps 2 \
  >"$tmp/header.out" 2>/dev/null &
pid=$!
first=
for _ in $(seq 3000); do
  [ -s "$tmp/header.out" ] && { first=$(cat "$tmp/header.out"); break; }
  kill -0 $pid 2>/dev/null || break
  sleep 0.01
done
kill $pid 2>/dev/null; wait $pid 2>/dev/null
grep -q '^training gpt2-bytes-tiny' <<<"$first" && ! grep -q '^step' <<<"$first" && ok ||
  bad "the first output was not the header alone: '$first'"

finish "cli train"
