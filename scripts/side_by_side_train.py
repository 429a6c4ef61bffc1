#!/usr/bin/env python3
"""One training step of cugpt against PyTorch eager and torch.compile, on the same configs.

cugpt: `cugpt train` in bf16 (bf16 parameters with f32 master weights, f32 AdamW states), its
tokens/s read from the progress lines (median over the steps after the first few). PyTorch:
the same architecture (scripts/side_by_side.py's Gpt) with f32 parameters under bf16
autocast, cross-entropy, backward and fused AdamW (the usual mixed-precision recipe), eager
and torch.compile. Both train on the same random token ids.

    python3 scripts/side_by_side_train.py --cugpt build/tools/cugpt
    python3 scripts/side_by_side_train.py --cases gpt-day18:8:256 gpt2-124m:4:1024
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from side_by_side import Gpt, ROOT, parse_case, read_weights  # noqa: E402


def cugpt_tokens_per_s(cugpt, name, data, B, T, steps):
    out = subprocess.run([cugpt, "train", name, "--data", data, "--steps", str(steps), "--batch",
                          str(B), "--seq", str(T), "--device", "cuda", "--dtype", "bf16",
                          "--warmup", "2", "--log-every", "1"],
                         check=True, capture_output=True, text=True).stdout
    rates = [float(m.group(2)) for m in re.finditer(r"step +(\d+)/\d+ .*?\| +([0-9.]+) tok/s", out)]
    return statistics.median(rates[3:]) if len(rates) > 4 else float("nan")


def torch_tokens_per_s(model, ids, B, T, steps, compiled):
    params = [p for p in model.parameters()]
    opt = torch.optim.AdamW(params, lr=3e-4, betas=(0.9, 0.95), weight_decay=0.1, fused=True)
    fwd = torch.compile(model) if compiled else model

    def step(i):
        x = ids[i % len(ids)]
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = fwd(x[:, :-1])
            loss = F.cross_entropy(logits.float().flatten(0, 1), x[:, 1:].flatten())
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for i in range(3):
        step(i)
    torch.cuda.synchronize()
    times = []
    for i in range(steps):
        start = time.perf_counter()
        step(i)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return B * T / statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cugpt", default=os.path.join(ROOT, "build", "tools", "cugpt"))
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--cases", nargs="*", default=["gpt-day18:8:256", "gpt2-124m:4:1024"])
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in args.cases:
            name, B, T, cfg = parse_case(case)
            rng = np.random.default_rng(0)
            tokens = rng.integers(0, cfg["vocab_size"], size=B * (T + 1) * (args.steps + 8) * 12)
            data = os.path.join(tmp, name + ".bin")
            tokens.astype("<u2").tofile(data)
            ours = cugpt_tokens_per_s(args.cugpt, name, data, B, T, args.steps + 4)
            weights = os.path.join(tmp, name + ".safetensors")
            subprocess.run([args.cugpt, "init", name, "--out", weights, "--seed", "1"], check=True,
                           stdout=subprocess.DEVNULL)
            ids = [torch.from_numpy(tokens[i * B * (T + 1):(i + 1) * B * (T + 1)].astype(np.int64))
                   .view(B, T + 1).cuda() for i in range(8)]
            results = []
            for compiled in (False, True):
                model = Gpt(cfg, read_weights(weights)).cuda()
                for p in model.parameters():
                    p.requires_grad_(True)
                results.append(torch_tokens_per_s(model, ids, B, T, args.steps, compiled))
            rows.append((case, ours, *results))
    print(f"{torch.cuda.get_device_name()}, training step, bf16, PyTorch {torch.__version__}")
    print(f"{'case':20} {'cugpt tok/s':>12} {'eager tok/s':>12} {'compile tok/s':>14} "
          f"{'vs eager':>9} {'vs compile':>11}")
    for case, ours, eager, compiled in rows:
        print(f"{case:20} {ours:12.0f} {eager:12.0f} {compiled:14.0f} {ours / eager:8.2f}x "
              f"{ours / compiled:10.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
