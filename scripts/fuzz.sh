#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/: clang, ASan + UBSan) in build-fuzz and runs each for
# SECONDS (default 60) from its seeds in fuzz/corpus/<target>/. New inputs go to
# build-fuzz/corpus/<target>/ (the committed seeds stay small); a crash, leak, sanitizer report
# or broken invariant stops that target and leaves the input in build-fuzz/crashes/<target>/.
# Commit such an input under tests/data/fuzz/<target>/ (test_robustness replays it in the normal
# build) and fix the bug. Needs clang and libFuzzer: scripts/install-deps.sh --fuzz.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(config safetensors npy tokenizer manifest options dataset)

# FUZZ_BUILD: a tree configured with CUGPT_FUZZ=ON and the fuzzer instrumentation already (the
# asan preset is one: CI builds it once for the sanitizer tests and the fuzzers); by default
# build-fuzz, configured here.
build=${FUZZ_BUILD:-build-fuzz}
if [ -z "${FUZZ_BUILD:-}" ]; then
  clangxx=$(command -v clang++ || true)
  [ -n "$clangxx" ] || { echo "fuzz: no clang++ (scripts/install-deps.sh --fuzz)" >&2; exit 2; }
  # -O1 and assertions on (Debug): the parsers' own checks fire too.
  flags="-O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined"
  flags+=" -fno-omit-frame-pointer"
  cmake -S . -B "$build" -DCMAKE_CXX_COMPILER="$clangxx" -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_CXX_FLAGS="$flags" -DCUGPT_FUZZ=ON -DCUGPT_CUDA=OFF -DCUGPT_BUILD_BENCH=OFF \
    -DCUGPT_BUILD_TESTS=OFF >/dev/null
fi
cmake --build "$build" -j"$(nproc)" --target $(printf 'fuzz_%s ' "${targets[@]}")

export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS=detect_leaks=1
status=0
for t in "${targets[@]}"; do
  mkdir -p "$build/corpus/$t" "$build/crashes/$t"
  echo "fuzz: $t for ${seconds}s"
  # -malloc_limit_mb: a loader that allocates what a header claims is a bug, not a slow input.
  # (The RSS limit is higher: ASan's quarantine alone holds 256 MiB of freed memory.)
  if ! "$build/fuzz/fuzz_$t" "$build/corpus/$t" "fuzz/corpus/$t" \
    -dict="fuzz/$t.dict" -max_total_time="$seconds" -timeout=10 -malloc_limit_mb=1024 \
    -rss_limit_mb=2560 \
    -max_len=8192 -artifact_prefix="$build/crashes/$t/" -print_final_stats=1 \
    >"$build/$t.log" 2>&1; then
    status=1
    echo "fuzz: $t FAILED; input(s): $(ls "$build/crashes/$t/")" >&2
    grep -E "ERROR|SUMMARY|what\(\)|Violation|runtime error" "$build/$t.log" | head -5 >&2
  fi
  grep -E "^stat::number_of_executed_units|^stat::new_units_added" "$build/$t.log" |
    tr '\n' ' ' | sed "s/^/fuzz: $t: /;s/$/\n/"
done
exit $status
