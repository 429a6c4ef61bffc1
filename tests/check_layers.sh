#!/usr/bin/env bash
# The layering rule as a test: a file in one folder includes project headers only from its own
# folder and the folders below it (docs/design.md, "Layers"); no host file outside kernels/
# includes the CUDA runtime; no layer includes the optimizer. Prints every violation and exits
# 1 if there is one.
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"

# What each folder may include besides itself. tests/, bench/ and fuzz/ sit on top.
declare -A allowed=(
  [kernels]=""
  [nn]="kernels"
  [io]="kernels nn"
  [text]="kernels"
  [models]="kernels nn io"
  [analysis]="kernels nn io text models"
  [train]="kernels nn io text models"
  [viz]="kernels nn io text models train"
  [tools]="kernels nn io text models analysis train viz"
)
bad=0
for dir in "${!allowed[@]}"; do
  [ -d "$dir" ] || continue
  while IFS= read -r hit; do
    file=${hit%%:*}
    inc=$(sed -E 's/.*#include "([^"]+)".*/\1/' <<<"$hit")
    top=${inc%%/*}
    [ "$top" = "$inc" ] && continue  # a header beside the file
    [ "$top" = "$dir" ] && continue
    ok=0
    for a in ${allowed[$dir]}; do [ "$a" = "$top" ] && ok=1; done
    if [ $ok -eq 0 ]; then
      echo "layers: $file includes $inc: $dir/ may include only from: ${allowed[$dir]:-nothing}"
      bad=1
    fi
  done < <(grep -rHE '^#include "' "$dir" --include='*.h' --include='*.cpp' --include='*.cu' \
             --include='*.cuh' || true)
done
# Only kernels/ sees the CUDA runtime (host code goes through kernels/runtime.h).
while IFS= read -r hit; do
  echo "layers: ${hit%%:*} includes the CUDA runtime: only kernels/ may"
  bad=1
done < <(grep -rlE '#include <(cuda_runtime|cublas|cublasLt|cuda_bf16|cuda_fp16)' \
           --include='*.h' --include='*.cpp' nn io text models analysis train viz tools \
           2>/dev/null || true)
# Layers never see the optimizer: their backward writes into the gradient store.
for f in nn/linear.h nn/linear.cpp nn/layernorm.h nn/layernorm.cpp nn/embedding.h \
         nn/embedding.cpp nn/attention.h nn/attention.cpp nn/mlp.h nn/mlp.cpp; do
  if [ -f "$f" ] && grep -q '#include "nn/optimizer.h"' "$f"; then
    echo "layers: $f includes nn/optimizer.h: a layer's backward takes the gradient store"
    bad=1
  fi
done
if [ $bad -eq 0 ]; then echo "layers: every include points down"; fi
exit $bad
