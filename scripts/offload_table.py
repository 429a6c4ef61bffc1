#!/usr/bin/env python3
"""The "what trains on a 4 GiB card" table of docs/memory.md, from `cugpt memory --json`.

For each model and sequence length: the largest batch whose bf16 AdamW training step (full
recompute) fits a 4 GiB card with the default reserve, without offload and with each
--offload mode, and the host memory the offload takes (its arena's peak at batch 1; it does not
grow with the batch). Every figure is a meta-device run of the real step.
Usage: scripts/offload_table.py [path/to/cugpt]   (default build/tools/cugpt)
"""
import json
import subprocess
import sys

CUGPT = sys.argv[1] if len(sys.argv) > 1 else "build/tools/cugpt"
MODELS = ["gpt-day18", "gpt2-124m", "gpt2-355m", "gpt2-774m", "gpt2-1558m"]
MODES = ["none", "optimizer", "optimizer+gradients"]
HOST = "64GiB"  # generous: the table reports what the host needs, not whether this one has it


def memory(model, seq, mode, *extra):
    args = [CUGPT, "memory", model, "--mode", "train", "--dtype", "bf16", "--recompute", "3",
            "--seq", str(seq), "--json", *extra]
    if mode != "none":
        args += ["--offload", mode, "--host-ram", HOST]
    out = subprocess.run(args, capture_output=True, text=True)
    if out.returncode not in (0, 3):
        sys.exit(f"{' '.join(args)}: {out.stderr.strip()}")
    return json.loads(out.stdout)


def gib(n):
    return f"{n / 2**30:.2f} GiB"


print("| model | T | no offload | --offload optimizer (host) | --offload optimizer+gradients (host) |")
print("|---|---|---|---|---|")
for model in MODELS:
    for seq in (1024, 256):
        cells = []
        for mode in MODES:
            try:
                most = memory(model, seq, mode, "--max-batch")["max_batch"]
            except SystemExit as e:
                if "longer than" in str(e) or "positions" in str(e):
                    cells = None
                    break
                raise
            cell = str(most) if most else "does not fit"
            if mode != "none":
                one = memory(model, seq, mode, "--batch", "1")
                cell += f" ({gib(one['offload']['host_peak_bytes'])})"
            cells.append(cell)
        if cells is None:
            continue  # the model's positions end before seq
        print(f"| {model} | {seq} | " + " | ".join(cells) + " |")
