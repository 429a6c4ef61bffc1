#!/usr/bin/env bash
# Installs the Debian packages cugpt builds with, skipping those already present.
# The CUDA toolkit is not a Debian package here: it is expected at /usr/local/cuda (optional;
# without it cugpt builds for the cpu and meta devices only).
set -euo pipefail

# unicode-data: not for the build (text/unicode_tables.cpp is committed) but for
# scripts/gen_unicode_tables.py and the test that checks that table against every code point.
# openmpi-bin, libopenmpi-dev: optional for the build (without them `mpirun -n N cugpt train`
# says cugpt was built without MPI), needed by the data-parallel tests (test_distributed).
# time: GNU time's peak RSS, by which tests/cli/test_inputs.sh holds tokenize and bench to
# bounded memory (without it those checks cannot measure and pass).
packages=(cmake g++ make libeigen3-dev nlohmann-json3-dev libcli11-dev libgtest-dev
          libbenchmark-dev libstb-dev unicode-data openmpi-bin libopenmpi-dev time)
# --fuzz (CI): also clang and its libFuzzer runtime, for scripts/fuzz.sh. The quick start
# needs neither.
if [ "${1:-}" = "--fuzz" ]; then
  packages+=(clang libclang-rt-dev)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends \
    "${missing[@]}"
else
  echo "install-deps: all Debian packages present"
fi
if [ -x /usr/local/cuda/bin/nvcc ]; then
  echo "install-deps: CUDA toolkit $(/usr/local/cuda/bin/nvcc --version | sed -n 's/.*release \([0-9.]*\).*/\1/p')"
else
  echo "install-deps: no CUDA toolkit at /usr/local/cuda: building for cpu and meta only"
fi
