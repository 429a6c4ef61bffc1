#!/usr/bin/env python3
"""The per-rank memory table of docs/distributed.md, from `cugpt memory --world N` (meta runs).

Usage: scripts/distributed_table.py path/to/cugpt > table.md
For each model, world size N and ZeRO stage: the bytes a rank holds between steps (parameters,
gradients, optimizer states, master weights, exchange buffers) at per-rank batch 1, and the
largest per-rank batch on a 4 GiB card (default reserve), with the global batch it makes.
"""
import json
import subprocess
import sys

MODELS = [("gpt-day18", 256), ("gpt2-124m", 1024), ("gpt2-355m", 1024), ("gpt2-774m", 1024),
          ("gpt2-1558m", 1024)]
WORLDS = [1, 2, 4, 8]
DTYPE = "bf16"


def memory(cugpt, *args):
    out = subprocess.run([cugpt, "memory", *args, "--json"], capture_output=True, text=True)
    if out.returncode not in (0, 3):
        sys.exit(f"cugpt memory {' '.join(args)}: {out.stderr.strip()}")
    return json.loads(out.stdout)


def mib(n):
    return f"{n / 2**20:,.0f} MiB"


def main():
    cugpt = sys.argv[1]
    print(f"4 GiB cards, {DTYPE} parameters (f32 AdamW states and master weights), AdamW, "
          "recompute 0. *held*: a rank's bytes between steps at B=1 (parameters, gradients, "
          "optimizer states, master weights, exchange buffers); *max B*: the largest per-rank "
          "batch whose step fits (0: none), and the global batch N x B.\n")
    print("| model | T | N | ZeRO | held per rank | of which states + masters | max B per rank | "
          "global batch |")
    print("|---|---|---|---|---|---|---|---|")
    for model, seq in MODELS:
        for world in WORLDS:
            for zero in ([0] if world == 1 else [0, 1]):
                extra = ["--world", str(world), "--zero", str(zero)] if world > 1 else []
                base = [model, "--seq", str(seq), "--dtype", DTYPE, *extra]
                r = memory(cugpt, *base, "--batch", "1", "--vram", "1TiB")
                cats = r["categories"]
                held = sum(c["current"] for c in cats.values())
                states = cats["optimizer_state"]["current"] + cats["master_weight"]["current"]
                m = memory(cugpt, *base, "--max-batch")
                b = m["max_batch"]
                print(f"| {model} | {seq} | {world} | {zero} | {mib(held)} | {mib(states)} | "
                      f"{b} | {b * world} |")


if __name__ == "__main__":
    main()
