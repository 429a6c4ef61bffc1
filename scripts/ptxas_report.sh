#!/usr/bin/env bash
# Resource summary of CUDA files from ptxas (no GPU, no nvdisasm needed): for each file and
# architecture, the kernels compiled, the most registers one uses, how many have any stack or
# spill (must be 0), and the static shared memory sizes seen. Dynamic shared memory is the
# launch's, not ptxas's: see each file's plan.
#   scripts/ptxas_report.sh [file.cu ...]     (default: kernels/cuda/ln_gemv.cu)
set -euo pipefail
cd "$(dirname "$0")/.."
nvcc=${NVCC:-/usr/local/cuda/bin/nvcc}
files=("$@")
[ ${#files[@]} -eq 0 ] && files=(kernels/cuda/ln_gemv.cu)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "| file | arch | kernels | most registers | with stack or spills | static smem |"
echo "| --- | --- | --- | --- | --- | --- |"
for f in "${files[@]}"; do
  for sm in 86 90; do
    log=$("$nvcc" -std=c++17 -O3 --expt-relaxed-constexpr -I. -arch=sm_$sm -Xptxas -v -c "$f" \
      -o "$tmp/out.o" 2>&1)
    kernels=$(grep -c "Compiling entry" <<<"$log" || true)
    regs=$(grep -oE "Used [0-9]+ registers" <<<"$log" | awk '{print $2}' | sort -n | tail -1 || true)
    bad=$(grep -cE "[1-9][0-9]* bytes stack frame|[1-9][0-9]* bytes spill" <<<"$log" || true)
    smem=$(grep -oE "[0-9]+ bytes smem" <<<"$log" | awk '{print $1}' | sort -n | uniq | paste -sd/ - || true)
    echo "| $f | sm_$sm | $kernels | $regs | $bad | ${smem:-0} B |"
  done
done
