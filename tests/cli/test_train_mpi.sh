#!/usr/bin/env bash
# `mpirun -n 2 cugpt train` with bad options or inputs (issue 29): exactly one line of cugpt's,
# from rank 0, an exit code in [1, 127] (2 for option errors), and no MPI_ABORT banner; before,
# each rank repeated the error and Open MPI's abort banner followed. Arguments are checked before
# MPI starts; the rest of the setup is agreed on by every rank (tools/rank_agreement.h), so an
# error on one rank (a lock only rank 0 takes, data only rank 1 lacks) ends both in one line too.
# Open MPI's own report of a non-zero exit ("Primary job terminated normally, but 1 process
# returned a non-zero exit code ...") is mpirun's, not cugpt's: the cases run as a user would,
# without -q, and allow those lines only; one case runs with -q, where stderr is one line in all.
# Skips (exit 0, with the reason) without mpirun or an MPI build.
# Usage: test_train_mpi.sh path/to/cugpt
set -u
cugpt=$1
source "$(dirname "$0")/lib.sh"

if ! command -v mpirun >/dev/null; then
  echo "cli train mpi: skipped: mpirun is not installed (apt-get install openmpi-bin)"
  exit 0
fi
# As tests/test_distributed.cpp launches it: oversubscribed (2 ranks on any machine), as root
# where that is who runs the tests, no leak check of Open MPI's plugins under ASan.
launcher=(env ASAN_OPTIONS=detect_leaks=0 mpirun --oversubscribe)
[ "$(id -u)" -eq 0 ] && launcher+=(--allow-run-as-root)
mpi=("${launcher[@]}" -n 2)
# The lines of mpirun's report of a non-zero exit (not cugpt's, and not the MPI_ABORT banner).
mpirun_report='^(-+|Primary job +terminated normally, but [0-9]+ process(es)? returned|a non-zero exit code\. Per user-direction, the job has been aborted\.|mpirun detected that one or more processes exited with non-zero status, thus causing|the job to be terminated\. The first process to do so was:|  Process name: .*|  Exit code: +[0-9]+|)$'

head -c 20000 /dev/urandom | base64 >"$tmp/text.txt"
train=("$cugpt" train gpt2-bytes-tiny --data "$tmp/text.txt" --batch 2 --seq 16)
if ! out=$("${mpi[@]}" "${train[@]}" --steps 1 --out "$tmp/good" 2>&1); then
  if grep -q "built without MPI" <<<"$out"; then
    echo "cli train mpi: skipped: this cugpt was built without MPI"
    exit 0
  fi
  bad "two ranks do not train: $out"
fi
grep -q '^data parallel: 2 ranks' <<<"$out" && ok || bad "no 'data parallel: 2 ranks' in: $out"

# expect_ranks_error NAME CODE PATTERN LAUNCH...: the launch exits CODE (1: any in [1, 127] but
# 2) with exactly one stderr line of cugpt's, matching PATTERN, besides mpirun's exit report.
expect_ranks_error() {
  local name=$1 code=$2 pattern=$3; shift 3
  timeout 120 "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [ "$code" = 2 ] && [ $rc -ne 2 ]; then bad "$name: exit $rc, not 2"; return; fi
  if [ $rc -lt 1 ] || [ $rc -gt 127 ]; then bad "$name: exit $rc"; return; fi
  local ours
  ours=$(grep -Evc -- "$mpirun_report" "$tmp/err")
  if [ "$ours" -ne 1 ]; then bad "$name: $ours lines besides mpirun's report: $(cat "$tmp/err")"; return; fi
  if grep -Ev -- "$mpirun_report" "$tmp/err" | grep -Eq -- "$pattern"; then ok; else bad "$name: stderr '$(cat "$tmp/err")'"; fi
}

# Found from the arguments, before MPI starts.
expect_ranks_error "batch 0" 1 "^cugpt: error: train: --batch must be a positive integer or 'auto', not '0'$" \
  "${mpi[@]}" "$cugpt" train gpt2-bytes-tiny --data "$tmp/text.txt" --batch 0 --seq 16 --steps 1
expect_ranks_error "zero 2" 2 "^cugpt: error: --zero: .*2.* \(see cugpt --help\)$" "${mpi[@]}" "${train[@]}" --steps 1 --zero 2
expect_ranks_error "bucket 0" 2 "^cugpt: error: --bucket: " "${mpi[@]}" "${train[@]}" --steps 1 --bucket 0
expect_ranks_error "lr nan" 2 "^cugpt: error: --lr: 'nan' is not a finite number" "${mpi[@]}" "${train[@]}" --steps 1 --lr nan
expect_ranks_error "keep without out" 1 "^cugpt: error: train: --keep needs --out" "${mpi[@]}" "${train[@]}" --steps 1 --keep 3
# Found after MPI starts, on every rank: agreed, said once.
expect_ranks_error "seq past the positions" 1 "^cugpt: error: --seq 65 is longer than the 64 positions of gpt2-bytes-tiny$" \
  "${mpi[@]}" "$cugpt" train gpt2-bytes-tiny --data "$tmp/text.txt" --batch 2 --seq 65 --steps 1
expect_ranks_error "missing data" 1 "^cugpt: error: data '$tmp/nowhere.txt': " \
  "${mpi[@]}" "$cugpt" train gpt2-bytes-tiny --data "$tmp/nowhere.txt" --batch 2 --seq 16 --steps 1
# Rank 0's --batch auto search, between the two collectives that carry its answer.
expect_ranks_error "batch auto fits nothing" 1 "^cugpt: error: train: --batch auto: not even batch 1 at T=16 fits the 300.0 KiB arena of every rank" \
  "${mpi[@]}" "$cugpt" train gpt2-bytes-tiny --data "$tmp/text.txt" --batch auto --seq 16 --steps 1 --arena 300KiB
mkfifo "$tmp/fifo"
expect_ranks_error "data from a FIFO" 1 "^cugpt: error: data '$tmp/fifo': is a FIFO" \
  "${mpi[@]}" "$cugpt" train gpt2-bytes-tiny --data "$tmp/fifo" --batch 2 --seq 16 --steps 1
cp -r "$tmp/good" "$tmp/flipped"
model="$tmp/flipped/$(sed -nE 's/.*"directory": "([^"]+)".*/\1/p' "$tmp/flipped/manifest.json")/model.safetensors"
printf '\x55' | dd of="$model" bs=1 seek=4000 conv=notrunc status=none
expect_ranks_error "a flipped byte in the checkpoint" 1 "^cugpt: error: checkpoint '$tmp/flipped': step-1/model.safetensors does not match its checksum" \
  "${mpi[@]}" "${train[@]}" --steps 2 --resume "$tmp/flipped"
# On rank 0 alone: the lock of --out, held by this script (a description of its own).
mkdir -p "$tmp/held"
exec 9>"$tmp/held/.lock"
flock -n 9 || bad "cannot take the lock for the held-lock case"
expect_ranks_error "a held lock" 1 "^cugpt: error: checkpoint directory '$tmp/held' is in use by another cugpt process" \
  "${mpi[@]}" "${train[@]}" --steps 1 --out "$tmp/held"
exec 9>&-
# On rank 1 alone (its own data path): rank 0 says it, naming the rank.
expect_ranks_error "data missing on rank 1" 1 "^cugpt: error: rank 1: data '$tmp/nowhere.txt': " \
  "${launcher[@]}" -n 1 "${train[@]}" --steps 1 : -n 1 "$cugpt" train gpt2-bytes-tiny \
  --data "$tmp/nowhere.txt" --batch 2 --seq 16 --steps 1
# With -q, mpirun adds nothing: stderr is the one line.
"${launcher[@]}" -q -n 2 "$cugpt" train gpt2-bytes-tiny --data "$tmp/nowhere.txt" --batch 2 --seq 16 \
  --steps 1 >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 1 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q "^cugpt: error: data '$tmp/nowhere.txt'" "$tmp/err" &&
  ok || bad "with -q: exit $rc, stderr: $(cat "$tmp/err")"

finish "cli train mpi"
