#!/usr/bin/python3
"""Golden data for cugpt's analyses (analysis/: lens, ablation, patching, attribution, pattern
scores), computed with PyTorch on the tiny GPT configs with the weights of
tests/data/golden/<config>/weights.safetensors (written by scripts/make_golden.py).

Writes tests/data/golden/internals/<config>.json with the inputs it chose (tokens, the
reference batch, a corrupted prompt, target and distractor tokens, a repeated random
sequence) and every number tests/test_analysis_golden.cpp compares:

  lens         log-probability and rank of the target per (layer, position), L + 1 rows
  ablation     change of the loss and of the logit difference when each head / MLP is zero-
               or mean-ablated (means over every position of the reference batch)
  patching     fraction of the clean-minus-corrupted logit difference restored by patching
               each (residual point, position) and each head's output
  attribution  each part's direct contribution to the logit difference at the last position
  patterns     previous-token and induction scores per head

The definitions are the ones documented in analysis/*.h; the forward is written out in plain
PyTorch, in float64 on the float32 weights, so the numbers are the exact answer rounded once.

Run with Debian's PyTorch:  /usr/bin/python3 scripts/make_golden_internals.py [OUT_DIR]
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import ROOT, attention, gelu_tanh, layer_norm, load_config, read_safetensors  # noqa: E402

F64 = torch.float64


class Gpt:
    """Either naming scheme, as one set of tensors: w_o is [in, out], w_u is [V, C]."""

    def __init__(self, name):
        cfg = load_config(name)
        w = {k: torch.from_numpy(v).to(F64)
             for k, v in read_safetensors(os.path.join(ROOT, "tests", "data", "golden", name,
                                                       "weights.safetensors")).items()}
        self.gpt2 = cfg["model_type"] == "gpt2"
        self.V, self.C, self.L, self.H = (cfg["vocab_size"], cfg["n_embd"], cfg["n_layer"],
                                          cfg["n_head"])
        self.eps = cfg.get("layer_norm_epsilon", 1e-5)
        self.blocks = []
        if self.gpt2:
            self.wte, self.wpe = w["transformer.wte.weight"], w["transformer.wpe.weight"]
            for i in range(self.L):
                b = f"transformer.h.{i}."
                self.blocks.append(dict(
                    ln1=(w[b + "ln_1.weight"], w[b + "ln_1.bias"]),
                    ln2=(w[b + "ln_2.weight"], w[b + "ln_2.bias"]),
                    qkv=lambda h, b=b: h @ w[b + "attn.c_attn.weight"] + w[b + "attn.c_attn.bias"],
                    w_o=w[b + "attn.c_proj.weight"], b_o=w[b + "attn.c_proj.bias"],
                    mlp=lambda h, b=b: gelu_tanh(h @ w[b + "mlp.c_fc.weight"] + w[b + "mlp.c_fc.bias"])
                    @ w[b + "mlp.c_proj.weight"] + w[b + "mlp.c_proj.bias"]))
            self.ln_f = (w["transformer.ln_f.weight"], w["transformer.ln_f.bias"])
            self.w_u, self.b_u = self.wte, torch.zeros(self.V, dtype=F64)
        else:
            self.wte = w["token_embedding_table.weight"]
            self.wpe = w["position_embedding_table.weight"]
            for i in range(self.L):
                b = f"blocks.{i}."
                self.blocks.append(dict(
                    ln1=(w[b + "ln1.weight"], w[b + "ln1.bias"]),
                    ln2=(w[b + "ln2.weight"], w[b + "ln2.bias"]),
                    qkv=lambda h, b=b: torch.cat([h @ w[b + "sa." + n + ".weight"].T
                                                  for n in ("query", "key", "value")], -1),
                    w_o=w[b + "sa.proj.weight"].T, b_o=w[b + "sa.proj.bias"],
                    mlp=lambda h, b=b: torch.relu(h @ w[b + "ffwd.net.0.weight"].T
                                                  + w[b + "ffwd.net.0.bias"])
                    @ w[b + "ffwd.net.2.weight"].T + w[b + "ffwd.net.2.bias"]))
            self.ln_f = (w["ln_f.weight"], w["ln_f.bias"])
            self.w_u, self.b_u = w["lm_head.weight"], w["lm_head.bias"]

    def unembed(self, x):
        return layer_norm(x, self.ln_f, self.eps) @ self.w_u.T + self.b_u

    def forward(self, tokens, writes=None):
        """tokens (B, T). writes: {(kind, layer): f(tensor) -> tensor}, kind in resid (layer 0
        the embeddings, l + 1 block l's output), heads (before the projection), mlp. Returns
        the logits and every activation (after the writes)."""
        writes = writes or {}
        act = {}

        def hook(key, t):
            t = writes[key](t.clone()) if key in writes else t
            act[key] = t
            return t

        C = self.C
        T = tokens.shape[1]
        x = hook(("resid", 0), self.wte[tokens] + self.wpe[torch.arange(T)])
        for i, b in enumerate(self.blocks):
            qkv = b["qkv"](layer_norm(x, b["ln1"], self.eps))
            y, probs = attention(qkv[..., :C], qkv[..., C:2 * C], qkv[..., 2 * C:], self.H, True)
            act[("probs", i)] = probs
            y = hook(("heads", i), y)
            x = x + y @ b["w_o"] + b["b_o"]
            x = x + hook(("mlp", i), b["mlp"](layer_norm(x, b["ln2"], self.eps)))
            x = hook(("resid", i + 1), x)
        return self.unembed(x), act


def loss(logits, tokens):
    lp = torch.log_softmax(logits, -1)
    return -lp[:, :-1].gather(-1, tokens[:, 1:, None]).mean().item()


def logit_diff(logits, target, distractor, pos=-1):
    return (logits[:, pos, target] - logits[:, pos, distractor]).mean().item()


def zero_cols(lo, hi, values=None, pos=None):
    def f(t):
        sel = (slice(None), slice(None) if pos is None else pos, slice(lo, hi))
        t[sel] = 0.0 if values is None else values[sel] if values.dim() == 3 else values[lo:hi]
        return t
    return f


def lens(m, tokens, target):
    _, act = m.forward(tokens)
    logprob, rank = [], []
    for l in range(m.L + 1):
        lp = torch.log_softmax(m.unembed(act[("resid", l)])[0], -1)  # (T, V)
        mine = lp[:, target]
        logprob.append(mine.tolist())
        ties_before = (lp == mine[:, None]) & (torch.arange(m.V) < target)
        rank.append(((lp > mine[:, None]) | ties_before).sum(-1).tolist())
    return {"logprob": logprob, "rank": rank}


def ablation(m, tokens, reference, target, distractor):
    D = m.C // m.H
    _, ref = m.forward(reference)
    metrics = {"loss": lambda lg: loss(lg, tokens),
               "logit": lambda lg: logit_diff(lg, target, distractor)}
    out = {}
    for kind in ("zero", "mean"):
        for mname, metric in metrics.items():
            base = metric(m.forward(tokens)[0])
            heads, mlps = [], []
            for l in range(m.L):
                for h in range(m.H):
                    mean = ref[("heads", l)].reshape(-1, m.C).mean(0) if kind == "mean" else None
                    lg, _ = m.forward(tokens, {("heads", l): zero_cols(h * D, (h + 1) * D, mean)})
                    heads.append(metric(lg) - base)
                mean = ref[("mlp", l)].reshape(-1, m.C).mean(0) if kind == "mean" else None
                lg, _ = m.forward(tokens, {("mlp", l): zero_cols(0, m.C, mean)})
                mlps.append(metric(lg) - base)
            out[f"{kind}_{mname}"] = {"baseline": base, "heads": heads, "mlps": mlps}
    return out


def patching(m, clean, corrupt, target, distractor):
    D = m.C // m.H
    lg, act = m.forward(clean)
    ld_clean = logit_diff(lg, target, distractor)
    ld_corrupt = logit_diff(m.forward(corrupt)[0], target, distractor)
    frac = lambda lg: (logit_diff(lg, target, distractor) - ld_corrupt) / (ld_clean - ld_corrupt)
    resid = [[frac(m.forward(corrupt, {("resid", l): zero_cols(0, m.C, act[("resid", l)], t)})[0])
              for t in range(clean.shape[1])] for l in range(m.L + 1)]
    heads = [frac(m.forward(corrupt, {("heads", l): zero_cols(h * D, (h + 1) * D,
                                                              act[("heads", l)])})[0])
             for l in range(m.L) for h in range(m.H)]
    return {"clean": ld_clean, "corrupted": ld_corrupt, "resid": resid, "heads": heads}


def attribution(m, tokens, target, distractor):
    D = m.C // m.H
    lg, act = m.forward(tokens)
    x = act[("resid", m.L)][0, -1]
    sigma = torch.sqrt(x.var(unbiased=False) + m.eps)
    u = (m.w_u[target] - m.w_u[distractor]) * m.ln_f[0]
    term = lambda part: (u @ (part - part.mean())).item() / sigma.item()
    heads, bias, mlps = [], [], []
    for l, b in enumerate(m.blocks):
        z = act[("heads", l)][0, -1]
        heads += [term(z[h * D:(h + 1) * D] @ b["w_o"][h * D:(h + 1) * D]) for h in range(m.H)]
        bias.append(term(b["b_o"]))
        mlps.append(term(act[("mlp", l)][0, -1]))
    w = m.w_u[target] - m.w_u[distractor]
    const = (w @ m.ln_f[1]).item() + (m.b_u[target] - m.b_u[distractor]).item()
    return {"embeddings": term(act[("resid", 0)][0, -1]), "heads": heads, "attn_bias": bias,
            "mlps": mlps, "constant": const, "logit": logit_diff(lg, target, distractor)}


def patterns(m, tokens):
    n = tokens.shape[1] // 2
    _, act = m.forward(tokens)
    prev, ind = [], []
    for l in range(m.L):
        a = act[("probs", l)][0]  # (H, T, T)
        i = torch.arange(1, 2 * n)
        prev += a[:, i, i - 1].mean(-1).tolist()
        i = torch.arange(n, 2 * n)
        ind += a[:, i, i - n + 1].mean(-1).tolist()
    return {"tokens": tokens[0].tolist(), "previous": prev, "induction": ind}


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests", "data", "golden",
                                                                 "internals")
    os.makedirs(out_dir, exist_ok=True)
    torch.use_deterministic_algorithms(True)
    for name, seed in (("gpt-day18-tiny", 2201), ("gpt2-tiny", 2202)):
        m = Gpt(name)
        with open(os.path.join(ROOT, "tests", "data", "golden", name, "input.json")) as f:
            reference = torch.tensor(json.load(f)["tokens"])
        tokens = reference[:1]
        clean_logits = m.forward(tokens)[0][0, -1]
        target = int(clean_logits.argmax())
        # The corruption (one token changed) and distractor with the widest clean-minus-
        # corrupted gap: the fractions patching reports divide by it, so a narrow gap would
        # magnify rounding.
        best = None
        for pos in range(tokens.shape[1] - 1):
            corrupt = tokens.clone()
            corrupt[0, pos] = (corrupt[0, pos] + 1) % m.V
            corrupt_logits = m.forward(corrupt)[0][0, -1]
            for distractor in corrupt_logits.argsort(descending=True)[:2].tolist():
                if distractor == target:
                    continue
                gap = (clean_logits[target] - clean_logits[distractor]) - \
                    (corrupt_logits[target] - corrupt_logits[distractor])
                if best is None or abs(gap) > best[0]:
                    best = (abs(gap), corrupt, distractor)
        _, corrupt, distractor = best
        gen = torch.Generator().manual_seed(seed)
        half = torch.randint(0, m.V, (1, 7), generator=gen)
        repeated = torch.cat([half, half], 1)
        data = {
            "config": name, "tokens": tokens[0].tolist(), "reference": reference.tolist(),
            "corrupted": corrupt[0].tolist(), "target": target, "distractor": distractor,
            "lens": lens(m, tokens, target),
            "ablation": ablation(m, tokens, reference, target, distractor),
            "patching": patching(m, tokens, corrupt, target, distractor),
            "attribution": attribution(m, tokens, target, distractor),
            "patterns": patterns(m, repeated),
        }
        path = os.path.join(out_dir, name + ".json")
        with open(path, "w") as f:
            json.dump(data, f)
            f.write("\n")
        a = data["attribution"]
        parts = a["embeddings"] + sum(a["heads"]) + sum(a["attn_bias"]) + sum(a["mlps"]) + \
            a["constant"]
        print(f"{name}: target {target}, distractor {distractor}, logit difference "
              f"{a['logit']:.6f} = parts {parts:.6f}; patch gap "
              f"{data['patching']['clean'] - data['patching']['corrupted']:.4f}; "
              f"{os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
