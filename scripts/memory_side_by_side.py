#!/usr/bin/env python3
"""The largest training batch under a memory cap: cugpt against PyTorch on the same GPU.

cugpt: the largest batch `cugpt memory` predicts for an arena of CAP (`--vram CAP --reserve 0`:
the cap holds the allocator's memory, not the CUDA context), then checked for real: `cugpt
train --arena CAP` runs two steps at that batch and runs out at one more. PyTorch: the same
architecture (scripts/side_by_side.py's Gpt) in the usual mixed precision (f32 parameters,
bf16 autocast, fused AdamW: 16 bytes per parameter, as cugpt's bf16 weights + f32 master
weights and AdamW states), capped with torch.cuda.set_per_process_memory_fraction(CAP /
total); each batch is tried in a fresh process, the largest that completes two steps wins.

    python3 scripts/memory_side_by_side.py --cugpt build/tools/cugpt --case gpt-day18:256
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TORCH_STEP = r"""
import json, sys, torch, torch.nn.functional as F
sys.path.insert(0, {scripts!r})
from side_by_side import Gpt, read_weights
cfg = json.load(open({config!r}))
B, T, cap = {batch}, {seq}, {cap}
torch.cuda.set_per_process_memory_fraction(cap / torch.cuda.get_device_properties(0).total_memory)
model = Gpt(cfg, read_weights({weights!r})).cuda()
for p in model.parameters():
    p.requires_grad_(True)
opt = torch.optim.AdamW(model.parameters(), lr=3e-4, fused=True)
x = torch.randint(0, cfg["vocab_size"], (B, T + 1), device="cuda")
try:
    for _ in range(2):
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = model(x[:, :-1])
            loss = F.cross_entropy(logits.float().flatten(0, 1), x[:, 1:].flatten())
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    torch.cuda.synchronize()
    print("ok", torch.cuda.max_memory_allocated())
except torch.cuda.OutOfMemoryError:
    print("oom")
"""


def torch_fits(config, weights, batch, seq, cap):
    code = TORCH_STEP.format(scripts=os.path.join(ROOT, "scripts"), config=config, batch=batch,
                             seq=seq, cap=cap, weights=weights)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    return out.startswith("ok")


def cugpt_trains(cugpt, name, data, batch, seq, cap):
    r = subprocess.run([cugpt, "train", name, "--data", data, "--steps", "2", "--batch",
                        str(batch), "--seq", str(seq), "--device", "cuda", "--dtype", "bf16",
                        "--arena", str(cap)], capture_output=True, text=True)
    return r.returncode == 0


def largest(fits, hi):
    lo = 0
    while lo < hi:  # the largest b in [0, hi] with fits(b); fits(0) is taken as true
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid - 1)
    return lo


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cugpt", default=os.path.join(ROOT, "build", "tools", "cugpt"))
    ap.add_argument("--case", default="gpt-day18:256", help="CONFIG:T")
    ap.add_argument("--cap", type=int, default=4 << 30, help="bytes")
    args = ap.parse_args()
    name, seq = args.case.split(":")
    seq = int(seq)
    config = os.path.join(ROOT, "configs", name + ".json")
    with tempfile.TemporaryDirectory() as tmp:
        predicted = json.loads(subprocess.run(
            [args.cugpt, "memory", name, "--mode", "train", "--seq", str(seq), "--dtype", "bf16",
             "--vram", str(args.cap), "--reserve", "0", "--max-batch", "--json"],
            check=True, capture_output=True, text=True).stdout)["max_batch"]
        data = os.path.join(tmp, "data.bin")
        with open(data, "wb") as f:
            f.write(os.urandom(2 * (predicted + 2) * (seq + 1) * 16))
        with open(config) as f:
            vocab = json.load(f)["vocab_size"]
        with open(data, "r+b") as f:  # ids below the vocabulary
            raw = bytearray(f.read())
            for i in range(0, len(raw), 2):
                v = (raw[i] | raw[i + 1] << 8) % vocab
                raw[i], raw[i + 1] = v & 255, v >> 8
            f.seek(0)
            f.write(raw)
        ours_ok = cugpt_trains(args.cugpt, name, data, predicted, seq, args.cap)
        ours_over = cugpt_trains(args.cugpt, name, data, predicted + 1, seq, args.cap)
        weights = os.path.join(tmp, "w.safetensors")
        subprocess.run([args.cugpt, "init", name, "--out", weights], check=True,
                       stdout=subprocess.DEVNULL)
        theirs = largest(lambda b: torch_fits(config, weights, b, seq, args.cap), 4 * predicted)
    print(f"{name}, T={seq}, bf16 + AdamW, cap {args.cap / 2**30:.2f} GiB of allocator memory")
    print(f"cugpt: predicted largest batch {predicted}; trains: {ours_ok}; "
          f"batch {predicted + 1} runs out: {not ours_over}")
    print(f"PyTorch (AMP, fused AdamW): largest batch {theirs}")
    print(f"ratio: {predicted / theirs:.2f}x" if theirs else "ratio: PyTorch fits no batch")
    return 0 if ours_ok and not ours_over else 1


if __name__ == "__main__":
    sys.exit(main())
