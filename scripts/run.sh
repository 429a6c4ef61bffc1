#!/usr/bin/env bash
# The README's quick start. `scripts/run.sh report` installs dependencies, builds, and runs
# `cugpt report gpt-day18`; `scripts/run.sh test` does the same and runs the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-report}
bash scripts/install-deps.sh
# CUGPT_CUDA_ARCHITECTURES (e.g. 86): the CUDA code for those architectures only (CI), else
# sm_86 and sm_90.
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release \
  ${CUGPT_CUDA_ARCHITECTURES:+-DCMAKE_CUDA_ARCHITECTURES=$CUGPT_CUDA_ARCHITECTURES} >/dev/null
cmake --build build -j"$(nproc)"
case "$what" in
  report) ./build/tools/cugpt report gpt-day18 ;;
  test) ctest --test-dir build --output-on-failure -j"$(nproc)" ;;
  *) echo "usage: scripts/run.sh [report|test]" >&2; exit 2 ;;
esac
