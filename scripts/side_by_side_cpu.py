#!/usr/bin/env python3
"""cugpt against PyTorch on the cpu: forward, a training step and batch-1 decode, f32.

Same weights (`cugpt init`, loaded into scripts/side_by_side.py's Gpt), same thread count
(`cugpt --threads N`, torch.set_num_threads(N)), same machine, one run. Prints one table of
times and cugpt's time as a multiple of PyTorch's (below 1: cugpt is faster).

    /usr/bin/python3 scripts/side_by_side_cpu.py --cugpt build-cpu/tools/cugpt --threads 2

Forward: `cugpt bench` (median of --iters forwards) against torch.no_grad() forwards (median).
Training: `cugpt train` (median step time of its progress lines, after two) against the same
model with requires_grad, cross-entropy, backward and torch.optim.AdamW (f32, foreach). Decode:
`cugpt bench --decode` against a KV-cache decode of the Day-18 GPT written here in PyTorch.
Wait policies, printed with the table: PyTorch's OpenMP (libgomp) runs with OMP_WAIT_POLICY
(passive unless set, since libgomp's default spinning collapses on a machine shared with other
work); cugpt runs on its own pool, whose workers spin 50 us, yield their core up to 1 ms and
then sleep, whatever the environment says (kernels/cpu/threads.h).
"""
import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("OMP_WAIT_POLICY", "passive")  # before torch loads libgomp

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from side_by_side import Gpt, ROOT, parse_case, read_weights  # noqa: E402


def median_s(fn, iters, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cugpt_bench(args, name, B, T, decode):
    out = subprocess.run([args.cugpt, "--threads", str(args.threads), "bench", name, "--batch",
                          str(B), "--seq", str(T), "--device", "cpu", "--iters", str(args.iters),
                          "--decode", str(decode), "--json"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def cugpt_train_step_s(args, name, data, B, T, steps):
    out = subprocess.run([args.cugpt, "--threads", str(args.threads), "train", name, "--data",
                          data, "--steps", str(steps), "--batch", str(B), "--seq", str(T),
                          "--device", "cpu", "--dtype", "f32", "--warmup", "1", "--log-every", "1"],
                         check=True, capture_output=True, text=True).stdout
    rates = [float(m.group(1)) for m in re.finditer(r"\| +([0-9.]+) tok/s", out)]
    return B * T / statistics.median(rates[2:]) if len(rates) > 3 else float("nan")


def torch_train_step_s(model, ids, steps):
    for p in model.parameters():
        p.requires_grad_(True)
    opt = torch.optim.AdamW(list(model.parameters()), lr=3e-4, betas=(0.9, 0.95),
                            weight_decay=0.1)
    i = [0]

    def step():
        x = ids[i[0] % len(ids)]
        i[0] += 1
        logits = model(x[:, :-1])
        loss = F.cross_entropy(logits.flatten(0, 1), x[:, 1:].flatten())
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return median_s(step, steps)


def torch_decode_s(model, cfg, prompt, steps):
    """Seconds per token of greedy batch-1 decode with a KV cache (the Day-18 GPT)."""
    C, H = cfg["n_embd"], cfg["n_head"]
    p = model.p

    def run(idx, cache, pos0):
        T = idx.shape[1]
        x = p("token_embedding_table.weight")[idx] + p("position_embedding_table.weight")[
            pos0:pos0 + T]
        for i in range(cfg["n_layer"]):
            b = f"blocks.{i}."
            h = model.ln(x, b + "ln1")
            q, k, v = (F.linear(h, p(b + f"sa.{n}.weight")) for n in ("query", "key", "value"))
            split = lambda t: t.view(1, T, H, C // H).transpose(1, 2)
            q, k, v = split(q), split(k), split(v)
            if i in cache:
                k = torch.cat([cache[i][0], k], 2)
                v = torch.cat([cache[i][1], v], 2)
            cache[i] = (k, v)
            s = (q @ k.transpose(-1, -2)) / math.sqrt(C // H)
            if T > 1:
                s = s.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf"))
            y = (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(1, T, C)
            x = x + F.linear(y, p(b + "sa.proj.weight"), p(b + "sa.proj.bias"))
            h = F.relu(F.linear(model.ln(x, b + "ln2"), p(b + "ffwd.net.0.weight"),
                                p(b + "ffwd.net.0.bias")))
            x = x + F.linear(h, p(b + "ffwd.net.2.weight"), p(b + "ffwd.net.2.bias"))
        x = model.ln(x[:, -1:], "ln_f")
        return F.linear(x, p("lm_head.weight"), p("lm_head.bias"))

    with torch.no_grad():
        cache = {}
        logits = run(prompt, cache, 0)
        pos = prompt.shape[1]
        start = time.perf_counter()
        for _ in range(steps):
            nxt = logits[:, -1].argmax(-1, keepdim=True)
            logits = run(nxt, cache, pos)
            pos += 1
        return (time.perf_counter() - start) / steps


def blas_in_use():
    """The BLAS library PyTorch's products went through (Debian's torch links libblas.so.3, an
    alternative: the reference BLAS unless OpenBLAS is installed, which is ~40x slower and
    would make any ratio meaningless)."""
    with open("/proc/self/maps") as maps:
        libs = {line.split()[-1] for line in maps if "blas" in line.split()[-1]}
    names = sorted(os.path.realpath(p) for p in libs)
    if any("openblas" in n or "blis" in n or "mkl" in n for n in names):
        return ", ".join(os.path.basename(os.path.dirname(n)) + "/" + os.path.basename(n)
                         for n in names)
    sys.exit("side_by_side_cpu: PyTorch uses the reference BLAS (" + ", ".join(names) +
             "): install libopenblas0-pthread for a fair comparison")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cugpt", default=os.path.join(ROOT, "build-cpu", "tools", "cugpt"))
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--forward", default="gpt-day18:1:128")
    ap.add_argument("--train", nargs="*", default=["gpt-day18-tiny:8:16", "gpt2-124m:1:64"])
    ap.add_argument("--decode", default="gpt-day18:1:64", help="CONFIG:1:PROMPT (Day-18 GPT)")
    ap.add_argument("--decode-steps", type=int, default=16)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.mm(torch.ones(64, 64), torch.ones(64, 64))  # loads the BLAS library
    blas = blas_in_use()  # before minutes of timing, not after
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        def weights_of(name):
            path = os.path.join(tmp, name + ".safetensors")
            if not os.path.exists(path):
                subprocess.run([args.cugpt, "init", name, "--out", path, "--seed", "1"],
                               check=True, stdout=subprocess.DEVNULL)
            return path

        # Forward.
        name, B, T, cfg = parse_case(args.forward)
        model = Gpt(cfg, read_weights(weights_of(name))).eval()
        idx = torch.randint(0, cfg["vocab_size"], (B, T), generator=torch.Generator().manual_seed(0))
        ours = cugpt_bench(args, name, B, T, 0)["ms_median"] / 1e3
        with torch.no_grad():
            theirs = median_s(lambda: model(idx), args.iters)
        rows.append((f"forward {args.forward}", ours, theirs, 0.8))

        # Training steps.
        for case in args.train:
            name, B, T, cfg = parse_case(case)
            rng = np.random.default_rng(0)
            tokens = rng.integers(0, cfg["vocab_size"], size=B * (T + 1) * (args.steps + 8) * 12)
            data = os.path.join(tmp, name + ".bin")
            tokens.astype("<u2").tofile(data)
            ours = cugpt_train_step_s(args, name, data, B, T, args.steps + 3)
            ids = [torch.from_numpy(tokens[i * B * (T + 1):(i + 1) * B * (T + 1)].astype(np.int64))
                   .view(B, T + 1) for i in range(8)]
            model = Gpt(cfg, read_weights(weights_of(name)))
            theirs = torch_train_step_s(model, ids, args.steps)
            rows.append((f"train step {case}", ours, theirs, 1.0))

        # Batch-1 decode.
        name, _, T, cfg = parse_case(args.decode)
        bench = cugpt_bench(args, name, 1, T, args.decode_steps)
        ours = 1.0 / bench["decode"]["tokens_per_s"]
        model = Gpt(cfg, read_weights(weights_of(name))).eval()
        prompt = torch.randint(0, cfg["vocab_size"], (1, T),
                               generator=torch.Generator().manual_seed(0))
        theirs = torch_decode_s(model, cfg, prompt, args.decode_steps)
        rows.append((f"decode {args.decode} (+{args.decode_steps})", ours, theirs, None))
        roofline = bench["decode"]["fraction_of_roofline"]

    print(f"cpu, f32, {args.threads} threads, PyTorch {torch.__version__} with {blas}, "
          f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}; cugpt: its own pool "
          f"(spin 50 us, yield up to 1 ms, then sleep)")
    print(f"{'case':34} {'cugpt ms':>10} {'torch ms':>10} {'ratio':>7} {'target':>7}")
    for case, ours, theirs, target in rows:
        t = f"<={target:.1f}x" if target else ""
        print(f"{case:34} {ours * 1e3:10.2f} {theirs * 1e3:10.2f} {ours / theirs:6.2f}x {t:>7}")
    print(f"cugpt decode: {100 * roofline:.1f}% of the measured bandwidth roofline "
          f"({bench['peaks']['bandwidth_gbs']:.1f} GB/s, {bench['peaks']['source']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
