#!/usr/bin/env python3
"""cugpt against PyTorch eager and torch.compile, on the same configs with the same weights.

For each case the script writes random weights with `cugpt init`, loads them into a plain
PyTorch implementation of the same architecture (scaled_dot_product_attention where PyTorch
has it), checks that cugpt's logits (`cugpt forward`) agree with PyTorch's, times all three,
and prints one table of tokens/s and cugpt's ratio to each.

    python3 scripts/side_by_side.py --cugpt build/tools/cugpt --device cuda --dtype bf16
    python3 scripts/side_by_side.py --device cpu --dtype f32 --cases gpt2-tiny:2:16  # smoke test

Cases are CONFIG:B:T; the defaults are the CUDA forward issue's targets. Needs PyTorch and
numpy; torch.compile needs PyTorch 2 (reported as n/a otherwise).
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DTYPES = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}


def parse_case(case):
    """CONFIG:B:T -> (config name, B, T, the bundled config as a dict)."""
    name, B, T = case.split(":")
    with open(os.path.join(ROOT, "configs", name + ".json")) as f:
        return name, int(B), int(T), json.load(f)


def read_weights(path):
    """The tensors of a safetensors file (F32, BF16 or F16) as torch tensors."""
    with open(path, "rb") as f:
        data = f.read()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    kinds = {"F32": (np.float32, None), "BF16": (np.int16, torch.bfloat16),
             "F16": (np.float16, None)}
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, t = e["data_offsets"]
        np_dtype, view = kinds[e["dtype"]]
        a = np.frombuffer(data[8 + n + b:8 + n + t], dtype=np_dtype).reshape(e["shape"]).copy()
        out[name] = torch.from_numpy(a).view(view) if view else torch.from_numpy(a)
    return out


def attend(q, k, v, heads):
    B, T, C = q.shape
    split = lambda t: t.view(B, T, heads, C // heads).transpose(1, 2)
    q, k, v = split(q), split(k), split(v)
    if hasattr(F, "scaled_dot_product_attention"):
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    else:  # PyTorch 1.x
        s = (q @ k.transpose(-1, -2)) / math.sqrt(C // heads)
        s = s.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool, device=q.device), 1),
                          float("-inf"))
        y = torch.softmax(s.float(), -1).to(q.dtype) @ v
    return y.transpose(1, 2).reshape(B, T, C)


class Gpt(torch.nn.Module):
    """The Day-18 GPT or GPT-2, computing exactly what cugpt's models/gpt.cpp computes."""

    def __init__(self, cfg, w):
        super().__init__()
        self.cfg, self.gpt2 = cfg, cfg["model_type"] == "gpt2"
        self.w = torch.nn.ParameterDict({k.replace(".", "__"): torch.nn.Parameter(v, False)
                                         for k, v in w.items()})

    def p(self, name):
        return self.w[name.replace(".", "__")]

    def ln(self, x, name):
        eps = self.cfg.get("layer_norm_epsilon", 1e-5)
        return F.layer_norm(x, x.shape[-1:], self.p(name + ".weight"), self.p(name + ".bias"), eps)

    def forward(self, idx):
        c, T = self.cfg, idx.shape[1]
        pre = "transformer." if self.gpt2 else ""
        wte = self.p(pre + ("wte.weight" if self.gpt2 else "token_embedding_table.weight"))
        wpe = self.p(pre + ("wpe.weight" if self.gpt2 else "position_embedding_table.weight"))
        x = wte[idx] + wpe[:T]
        C, H = c["n_embd"], c["n_head"]
        for i in range(c["n_layer"]):
            if self.gpt2:
                b = f"transformer.h.{i}."
                qkv = F.linear(self.ln(x, b + "ln_1"), self.p(b + "attn.c_attn.weight").T,
                               self.p(b + "attn.c_attn.bias"))
                y = attend(qkv[..., :C], qkv[..., C:2 * C], qkv[..., 2 * C:], H)
                x = x + F.linear(y, self.p(b + "attn.c_proj.weight").T, self.p(b + "attn.c_proj.bias"))
                h = F.gelu(F.linear(self.ln(x, b + "ln_2"), self.p(b + "mlp.c_fc.weight").T,
                                    self.p(b + "mlp.c_fc.bias")), approximate="tanh")
                x = x + F.linear(h, self.p(b + "mlp.c_proj.weight").T, self.p(b + "mlp.c_proj.bias"))
            else:
                b = f"blocks.{i}."
                h = self.ln(x, b + "ln1")
                y = attend(F.linear(h, self.p(b + "sa.query.weight")),
                           F.linear(h, self.p(b + "sa.key.weight")),
                           F.linear(h, self.p(b + "sa.value.weight")), H)
                x = x + F.linear(y, self.p(b + "sa.proj.weight"), self.p(b + "sa.proj.bias"))
                h = F.relu(F.linear(self.ln(x, b + "ln2"), self.p(b + "ffwd.net.0.weight"),
                                    self.p(b + "ffwd.net.0.bias")))
                x = x + F.linear(h, self.p(b + "ffwd.net.2.weight"), self.p(b + "ffwd.net.2.bias"))
        x = self.ln(x, pre + "ln_f")
        if self.gpt2:
            return F.linear(x, wte)
        return F.linear(x, self.p("lm_head.weight"), self.p("lm_head.bias"))


def time_tokens_per_s(fn, tokens, device, iters):
    for _ in range(2):
        fn()
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    sync()
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return tokens / sorted(times)[len(times) // 2]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cugpt", default=os.path.join(ROOT, "build", "tools", "cugpt"))
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dtype", default="bf16", choices=DTYPES)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--cases", nargs="*", default=["gpt2-124m:8:1024", "gpt-day18:16:256"])
    args = ap.parse_args()
    dt = DTYPES[args.dtype]
    rows, ok, device_name = [], True, args.device
    with tempfile.TemporaryDirectory() as tmp:
        for case in args.cases:
            name, B, T, cfg = parse_case(case)
            weights = os.path.join(tmp, name + ".safetensors")
            subprocess.run([args.cugpt, "init", name, "--out", weights, "--seed", "1", "--dtype",
                            args.dtype], check=True,
                           stdout=subprocess.DEVNULL)
            gen = torch.Generator().manual_seed(0)
            idx = torch.randint(0, cfg["vocab_size"], (B, T), generator=gen)
            tokens = ";".join(",".join(str(t) for t in row) for row in idx.tolist())
            w = read_weights(weights)
            model = Gpt(cfg, w).to(args.device, dt).eval()
            idx_dev = idx.to(args.device)

            logits_path = os.path.join(tmp, "logits.npy")
            subprocess.run([args.cugpt, "forward", name, "--weights", weights, "--tokens", tokens,
                            "--device", args.device, "--dtype", args.dtype, "--out", logits_path],
                           check=True, stdout=subprocess.DEVNULL)
            ours = torch.from_numpy(np.load(logits_path))
            with torch.no_grad():
                ref = model(idx_dev).float().cpu()
            err = ((ours - ref).abs().max() / ref.abs().max()).item()
            tol = 1e-4 if args.dtype == "f32" else 5e-2
            ok &= err <= tol

            bench = json.loads(subprocess.run(
                [args.cugpt, "bench", name, "--batch", str(B), "--seq", str(T), "--device",
                 args.device, "--dtype", args.dtype, "--iters", str(args.iters), "--decode", "0",
                 "--json"], check=True, capture_output=True, text=True).stdout)
            with torch.no_grad():
                eager = time_tokens_per_s(lambda: model(idx_dev), B * T, args.device, args.iters)
                compiled = None
                if hasattr(torch, "compile"):
                    cmodel = torch.compile(model)
                    compiled = time_tokens_per_s(lambda: cmodel(idx_dev), B * T, args.device,
                                                 args.iters)
            rows.append((case, bench["tokens_per_s"], eager, compiled, err, tol))
            device_name = bench["device_name"]
    print(f"{device_name}, {args.dtype}, PyTorch {torch.__version__}")
    print(f"{'case':22} {'cugpt tok/s':>12} {'eager tok/s':>12} {'compile tok/s':>14} "
          f"{'vs eager':>9} {'vs compile':>11} {'logits err':>11}")
    for case, ours, eager, compiled, err, tol in rows:
        comp = f"{compiled:14.0f}" if compiled else f"{'n/a':>14}"
        vs_comp = f"{ours / compiled:10.2f}x" if compiled else f"{'n/a':>11}"
        flag = "" if err <= tol else "  MISMATCH"
        print(f"{case:22} {ours:12.0f} {eager:12.0f} {comp} {ours / eager:8.2f}x {vs_comp} "
              f"{err:11.2e}{flag}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
