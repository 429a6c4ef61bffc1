#!/usr/bin/env bash
# The SASS table of the v2 attention kernels (docs/attention-kernel.md): for each kernel
# instance and arch, registers, spills and stack (ptxas -v), shared memory (static from ptxas,
# dynamic from the launch formulas below, which must follow the .cu files), and the counts of
# the instructions that make the design: HMMA (mma.sync), LDSM (ldmatrix; MT = .trans), LDGSTS
# (cp.async) and LDL/STL (local memory: must be 0). Compiles each file to a cubin per arch and
# disassembles it; prints a markdown table.
#   scripts/sass_report.sh [file.cu ...]     (default: the two v2 files)
# nvdisasm: $NVDISASM, else on PATH, else /usr/local/cuda/bin. The CUDA 13 toolkit here has
# none; Debian bookworm's non-free nvidia-cuda-toolkit 11.8 has one (apt-get download, then
# dpkg-deb -x, no install). It predates the CUDA 12.8 cubin header, so a copy of each cubin gets
# the old header (OS/ABI 0x33, ABI version 7, e_flags sm << 16 | 0x500 | sm); the instruction
# encoding is the hardware's either way.
set -euo pipefail
cd "$(dirname "$0")/.."
nvcc=${NVCC:-/usr/local/cuda/bin/nvcc}
nvdisasm=${NVDISASM:-$(command -v nvdisasm || echo /usr/local/cuda/bin/nvdisasm)}
if [ ! -x "$nvdisasm" ]; then
  echo "sass_report: no nvdisasm (set NVDISASM=/path/to/nvdisasm)" >&2
  exit 1
fi
files=("$@")
[ ${#files[@]} -eq 0 ] && files=(kernels/cuda/attention_fa2.cu kernels/cuda/attention_backward_fa2.cu)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "| kernel | arch | registers | spill st/ld | stack | smem static + dynamic | HMMA | LDSM (MT) | LDGSTS | LDL/STL |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for f in "${files[@]}"; do
  for sm in 86 90; do
    base=$tmp/$(basename "$f" .cu)_$sm
    "$nvcc" -std=c++17 -O3 -I. --expt-relaxed-constexpr -cubin -arch=sm_$sm -Xptxas -v \
      "$f" -o "$base.cubin" 2>"$base.ptxas"
    if ! "$nvdisasm" -c "$base.cubin" >"$base.sass" 2>/dev/null; then
      python3 - "$base.cubin" "$sm" <<'EOF'
import struct, sys
b = bytearray(open(sys.argv[1], 'rb').read())
sm = int(sys.argv[2])
b[7], b[8] = 0x33, 7
struct.pack_into('<I', b, 48, (sm << 16) | 0x500 | sm)
open(sys.argv[1], 'wb').write(b)
EOF
      "$nvdisasm" -c "$base.cubin" >"$base.sass"
    fi
    python3 - "$base.ptxas" "$base.sass" "$sm" <<'EOF'
import re, subprocess, sys
ptxas, sass, sm = open(sys.argv[1]).read(), open(sys.argv[2]).read(), sys.argv[3]
res, name = {}, None
for line in ptxas.splitlines():
    m = re.search(r"Compiling entry function '(\w+)'", line)
    if m: name = m.group(1); res[name] = {}
    m = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", line)
    if m and name: res[name].update(stack=m.group(1), st=m.group(2), ld=m.group(3))
    m = re.search(r"Used (\d+) registers", line)
    if m and name:
        res[name]['regs'] = m.group(1)
        s = re.search(r"(\d+) bytes smem", line)
        res[name]['smem'] = s.group(1) if s else '0'
counts, name = {}, None
for line in sass.splitlines():
    m = re.match(r"\s*\.text\.(\w+):", line)
    if m: name = m.group(1); counts[name] = dict(HMMA=0, LDSM=0, MT=0, LDGSTS=0, LOCAL=0); continue
    if not name: continue
    c = counts[name]
    if re.search(r"\bHMMA\.", line): c['HMMA'] += 1
    if re.search(r"\bLDSM\.", line): c['LDSM'] += 1
    if re.search(r"\bLDSM\.16\.MT", line): c['MT'] += 1
    if re.search(r"\bLDGSTS\b", line): c['LDGSTS'] += 1
    if re.search(r"\b(LDL|STL)\b", line): c['LOCAL'] += 1
def pretty(mangled):
    d = subprocess.run(['c++filt', mangled], capture_output=True, text=True).stdout
    m = re.search(r"(\w+_kernel)(<[^>]*>)?", d)
    d = m.group(0) if m else mangled
    return d.replace('__nv_bfloat16', 'bf16').replace('__half', 'f16').replace(' ', '')
def dynamic(n):  # the launch formulas of attention_fa2.cu and attention_backward_fa2.cu
    m = re.search(r"Li(\d+)E", n)
    if not m: return 0
    D = int(m.group(1)); LD = D + 8; B = 32 if D == 128 else 64
    if 'fa2_forward_kernel' in n: return 2 * 128 * LD * 2
    if 'query_pass_kernel' in n: return (2 * 64 + 4 * B) * LD * 2
    if 'dkdv_kernel' in n: return (2 * 64 * LD + 2 * (2 * B * LD + 4 * B)) * 2
    return 0
for n in sorted(res, key=pretty):
    r, c = res[n], counts.get(n, dict(HMMA='?', LDSM='?', MT='?', LDGSTS='?', LOCAL='?'))
    print(f"| `{pretty(n)}` | sm_{sm} | {r.get('regs')} | {r.get('st')}/{r.get('ld')} | {r.get('stack')} | "
          f"{r.get('smem')} + {dynamic(n)} B | {c['HMMA']} | {c['LDSM']} ({c['MT']}) | {c['LDGSTS']} | {c['LOCAL']} |")
EOF
  done
done
