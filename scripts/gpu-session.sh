#!/usr/bin/env bash
# Everything a GPU session checks, in one command on the device machine: the device, the
# CUDA tests, compute-sanitizer, the benchmarks, `cugpt report` and the side-by-side with
# PyTorch. It runs over a build made on the build machine: `scripts/gpu-session.sh pack` (here)
# packs build/'s executables and test lists into .gpucarry/ (about 15 MB: the whole build folder
# is over the device tool's 64 MiB carry limit), with the shared libraries the GPU machine
# lacks; carry .gpucarry there and the other steps unpack it. Logs go to $OUT (or gpu-out/).
#   scripts/gpu-session.sh pack
#   scripts/gpu-session.sh [tests] [sanitize] [memcheck] [bench] [report] [side] [train] [memside] [profile] [memory] [attention2] [decode]
set -uo pipefail
root=$(pwd)
if [ "${1:-}" = pack ]; then
  rm -rf .gpucarry && mkdir -p .gpucarry
  find build -type f \( -name '*.o' -o -name '*.a' -o -name Makefile -o -name '*.make' \) -prune \
    -o -path '*/CMakeFiles' -prune -o -type f -print |
    tar -cf - -T - | xz -T0 -6 >.gpucarry/build.tar.xz
  cp -a /lib/x86_64-linux-gnu/libbenchmark.so.1* .gpucarry/
  du -sh .gpucarry
  echo "cpu kernels: -march=$(sed -n 's/^CUGPT_CPU_ARCH:STRING=//p' build/CMakeCache.txt)" \
    "(x86-64-v4 needs AVX-512 on the GPU machine; the session checks)"
  exit 0
fi
if [ -f .gpucarry/build.tar.xz ]; then rm -rf build && tar -xJf .gpucarry/build.tar.xz; fi
# The cpu kernels are built for the build machine's widest portable level (kernels/CMakeLists.txt):
# x86-64-v4 needs AVX-512 here too. Seconds to check, against a session of SIGILLs.
arch=$(sed -n 's/^CUGPT_CPU_ARCH:STRING=//p' build/CMakeCache.txt)
if [ "$arch" = x86-64-v4 ] && ! grep -qw avx512f /proc/cpuinfo; then
  echo "gpu-session: the build's cpu kernels need AVX-512 (x86-64-v4) and this CPU has none:" \
    "pack a build configured with -DCUGPT_CPU_ARCH=x86-64-v3" >&2
  exit 2
fi
out=${OUT:-$root/gpu-out}
mkdir -p "$out"
# CTest files and the tests' data paths hold the build machine's absolute path.
build_root=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' build/CMakeCache.txt)
if [ "$build_root" != "$root" ] && [ ! -e "$build_root" ]; then
  mkdir -p "$(dirname "$build_root")" && ln -s "$root" "$build_root"
fi
export LD_LIBRARY_PATH=$root/.gpucarry:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(tests report bench side)
cugpt=build/tools/cugpt
nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv | tee "$out/device.txt"
echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $(date -u +%F)" | tee -a "$out/device.txt"
for step in "${steps[@]}"; do
  start=$SECONDS
  case "$step" in
    tests)
      timeout 220 ctest --test-dir build --output-on-failure -j8 --timeout 240 ${CTEST_ARGS:-} >"$out/ctest.log" 2>&1
      grep -E "tests passed|tests failed|\*\*\*Failed|Timeout|Exception|SEGFAULT" "$out/ctest.log"
      for t in build/tests/test_cuda_* build/tests/test_memory; do
        "$t" --gtest_filter='Cuda*' 2>&1 | grep -E "^\[  (FAILED|PASSED|SKIPPED) |Failure|error" | head -20
      done >"$out/cuda-tests.txt"
      cat "$out/cuda-tests.txt" | head -60 ;;
    sanitize)
      # memcheck over every CUDA test executable, racecheck over the kernels that share memory
      # between threads; each bounded (under the sanitizers the tests run 10-100x slower).
      for t in build/tests/test_cuda_*; do
        echo "== memcheck $(basename "$t")"
        timeout "${SANITIZE_TIMEOUT:-60}" compute-sanitizer --tool memcheck --error-exitcode 9 "$t" \
          --gtest_brief=1 2>&1 | grep -E "ERROR SUMMARY|Invalid|FAILED|tests? ran" | head -8
        echo "exit ${PIPESTATUS[0]}"
      done 2>&1 | tee "$out/sanitize.txt"
      for pair in "attention:CudaAttention.PaddingMask*:CudaAttention.OtherHeadDims*" \
                  "elementwise:CudaDecodeAttention.*:CudaSoftmax.*" "layernorm:*"; do
        t=build/tests/test_cuda_${pair%%:*} f=${pair#*:}
        echo "== racecheck $(basename "$t") $f"
        timeout "${SANITIZE_TIMEOUT:-60}" compute-sanitizer --tool racecheck --error-exitcode 9 "$t" \
          --gtest_brief=1 --gtest_filter="$f" 2>&1 |
          grep -E "RACECHECK SUMMARY|ERROR SUMMARY|Race|FAILED|tests? ran" | head -8
        echo "exit ${PIPESTATUS[0]}"
      done 2>&1 | tee -a "$out/sanitize.txt" ;;
    memcheck)
      # The short version: the kernels most recently changed, under memcheck.
      for pair in "models:*Tiny*:*Hooks*" "attention:*OtherHeadDims*:*Padding*" \
                  "elementwise:CudaDecodeAttention.*" "matmul:*Staged*"; do
        t=build/tests/test_cuda_${pair%%:*} f=${pair#*:}
        echo "== memcheck $(basename "$t") $f"
        timeout 60 compute-sanitizer --tool memcheck --print-limit 4 --error-exitcode 9 "$t" \
          --gtest_brief=1 --gtest_filter="$f" 2>&1 | grep -vE "^\[|^$" | head -24
        echo "exit ${PIPESTATUS[0]}"
      done 2>&1 | tee "$out/memcheck.txt" ;;
    bench)
      timeout 160 build/bench/cugpt_bench --benchmark_filter="${BENCH_FILTER:-cuda}" --benchmark_min_time=0.3 \
        --benchmark_out="$out/bench.json" --benchmark_out_format=json 2>&1 | tee "$out/bench.txt" |
        grep -v "^-" | cut -c1-160 ;;
    report)
      timeout 120 $cugpt report gpt-day18 2>&1 | tee "$out/report.txt"
      for c in "gpt2-124m 8 1024" "gpt-day18 16 256"; do
        set -- $c
        timeout 60 $cugpt bench "$1" --batch "$2" --seq "$3" --device cuda --dtype bf16
      done 2>&1 | tee -a "$out/report.txt" ;;
    side)
      PYTHONUNBUFFERED=1 timeout 150 python3 scripts/side_by_side.py --cugpt "$cugpt" \
        --device cuda --dtype bf16 2>&1 | tee "$out/side_by_side.txt" | tail -8 ;;
    train)
      PYTHONUNBUFFERED=1 timeout 240 python3 scripts/side_by_side_train.py --cugpt "$cugpt" 2>&1 |
        tee "$out/side_by_side_train.txt" | tail -6 ;;
    memside)
      PYTHONUNBUFFERED=1 timeout 300 python3 scripts/memory_side_by_side.py --cugpt "$cugpt" 2>&1 |
        tee "$out/memory_side_by_side.txt" | tail -5 ;;
    profile)
      # Where a batch-1 decode step's time goes: the sum of its kernels' GPU time (ncu, one
      # metric, so each kernel is replayed once) against the step's wall-clock time.
      w=/tmp/gpt2-124m-bf16.safetensors
      $cugpt init gpt2-124m --dtype bf16 --seed 1 --out $w >/dev/null
      prompt=$(seq -s, 1 128)
      $cugpt generate gpt2-124m --weights $w --tokens "$prompt" --max-new 32 --device cuda \
        --dtype bf16 2>&1 | tail -3 | tee "$out/profile.txt"
      # Prefill and the first steps are skipped; then 4 whole steps of ~125 launches each.
      timeout 90 ncu --metrics gpu__time_duration.sum --csv --launch-skip 600 \
        --launch-count 2000 $cugpt generate gpt2-124m --weights $w --tokens "$prompt" \
        --max-new 24 --device cuda --dtype bf16 >"$out/ncu.csv" 2>&1
      python3 scripts/profile_summary.py "$out/ncu.csv" --marker decode_ --per-step 12 | tee -a "$out/profile.txt"
      # And one gpt2-124m forward at B=8, T=1024 (init and warm-up launches skipped).
      timeout 90 ncu --metrics gpu__time_duration.sum --csv --launch-skip 200 --launch-count 400 \
        $cugpt bench gpt2-124m --batch 8 --seq 1024 --device cuda --dtype bf16 --warmup 2 \
        --iters 2 --decode 0 >"$out/ncu-forward.csv" 2>&1
      python3 scripts/profile_summary.py "$out/ncu-forward.csv" --marker attention_mma_kernel \
        --per-step 12 | tee -a "$out/profile.txt" ;;
    memory)
      timeout 120 ctest --test-dir build -L memory --output-on-failure 2>&1 | tee "$out/memory.txt" | tail -15 ;;
    attention2)
      # Issue 17: the v2 attention kernels (CUGPT_ATTENTION=v2), about 4 minutes. Their own tests;
      # v1's attention and training tests with v2 dispatched; old against new per kernel in one
      # process; memcheck and racecheck on v2; the gpt2-124m forward with each.
      a2=$out/attention2 && mkdir -p "$a2"
      timeout 90 build/tests/test_cuda_attention_v2 >"$a2/tests-v2.txt" 2>&1
      echo "test_cuda_attention_v2 exit $?"
      grep -E "^\[  (FAILED|PASSED|SKIPPED) |^\[       OK|Failure|error|Value of" "$a2/tests-v2.txt" | head -40
      for t in attention training; do
        CUGPT_ATTENTION=v2 timeout 60 build/tests/test_cuda_$t --gtest_filter='Cuda*' \
          >"$a2/tests-$t-with-v2.txt" 2>&1
        echo "CUGPT_ATTENTION=v2 test_cuda_$t exit $?"
        grep -E "^\[  (FAILED|PASSED) |Failure" "$a2/tests-$t-with-v2.txt" | head -10
      done
      timeout 60 build/bench/cugpt_bench --benchmark_filter=attention_kernel \
        --benchmark_min_time=0.2 --benchmark_out="$a2/bench.json" --benchmark_out_format=json \
        >"$a2/bench.txt" 2>&1
      grep attention_kernel "$a2/bench.txt" | cut -c1-160
      for tool in memcheck racecheck; do
        timeout 45 compute-sanitizer --tool $tool --error-exitcode 9 --print-limit 8 \
          build/tests/test_cuda_attention_v2 --gtest_brief=1 \
          --gtest_filter='*BackwardIsBitReproducible*:*UncoveredCases*' >"$a2/$tool.txt" 2>&1
        echo "$tool exit $? (124: timed out, partial)"
        grep -E "ERROR SUMMARY|RACECHECK SUMMARY|Invalid|Race|hazard" "$a2/$tool.txt" | head -6
      done
      for v in v1 v2; do
        CUGPT_ATTENTION=$v timeout 40 $cugpt bench gpt2-124m --batch 8 --seq 1024 --device cuda \
          --dtype bf16 2>&1 | tail -4 | sed "s/^/$v: /"
      done | tee "$a2/gpt2-forward.txt" ;;
    decode)
      # Issue 18, about 3 minutes: the device sampler, the fused LayerNorm + GEMV, the captured
      # decode step (tests first: graph = eager = host), then old against new in one process.
      d18=$out/decode && mkdir -p "$d18"
      for t in "test_cuda_sampling --gtest_filter=CudaSampling.*" \
        "test_generate --gtest_filter=CudaDeviceSampler.*" "test_cuda_ln_gemv" "test_decode_step"; do
        timeout 90 build/tests/$t >"$d18/$(echo "$t" | cut -d' ' -f1).txt" 2>&1
        echo "$t exit $?"
        grep -E "^\[  (FAILED|PASSED|SKIPPED) |Failure|error" "$d18/$(echo "$t" | cut -d' ' -f1).txt" | head -12
      done
      timeout 60 ctest --test-dir build -R 'OpCases.*(held|writing|ln_linear|linear_add).*cuda' 2>&1 | tail -3
      timeout 60 compute-sanitizer --tool memcheck --error-exitcode 9 --print-limit 8 \
        build/tests/test_decode_step --gtest_filter='Cuda*' >"$d18/memcheck.txt" 2>&1
      echo "memcheck test_decode_step exit $?"; grep -E "ERROR SUMMARY|Invalid" "$d18/memcheck.txt" | head -4
      # Prompts of 128 tokens and of the longest the positions allow with 64 new ones (gpt2:
      # ~1000 cached; gpt-day18 has 256 positions).
      for cfg in gpt2-124m gpt-day18; do
        long=960 && [ $cfg = gpt-day18 ] && long=192
        for seq in 128 $long; do
          timeout 60 $cugpt bench $cfg --device cuda --dtype bf16 --seq $seq --decode 64 --iters 2 \
            --decode-modes host,device,graph,fused 2>&1 | sed -n '/decode \|error/,$p' | sed "s/^/$cfg T=$seq: /"
        done
        timeout 60 $cugpt bench $cfg --device cuda --dtype bf16 --seq 128 --decode 64 --iters 2 \
          --decode-batch 16 --decode-modes host,device,graph,fused 2>&1 | sed -n '/decode \|error/,$p' |
          sed "s/^/$cfg B=16: /"
      done | tee "$d18/bench.txt" ;;
    *) echo "unknown step $step" ;;
  esac
  echo "== $step: $((SECONDS - start)) s"
done
