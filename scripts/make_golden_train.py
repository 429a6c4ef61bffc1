#!/usr/bin/python3
"""Golden data for one training step, computed with PyTorch autograd and torch.optim.AdamW.

For gpt-day18-tiny and gpt2-tiny, starting from the weights make_golden.py wrote
(tests/data/golden/<config>/weights.safetensors), this computes the mean cross-entropy of a
fixed batch, its gradients, and the parameters after one AdamW step, all in float64, and
writes tests/data/golden/<config>/train_step.safetensors (keys "loss", "grad.<name>",
"updated.<name>") and train_input.json (tokens, targets, hyper-parameters).

AdamW's parameter groups follow cugpt's rule: weight decay on weight matrices only; biases,
LayerNorm parameters and embedding tables (so GPT-2's tied lm_head) are not decayed.

Run with Debian's PyTorch after make_golden.py:  /usr/bin/python3 scripts/make_golden_train.py
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_golden as g  # noqa: E402

HYPER = {"lr": 1e-2, "beta1": 0.9, "beta2": 0.95, "eps": 1e-8, "weight_decay": 0.1}


class Given:
    """Stands in for make_golden.Params: hands out the given tensors by name, in order."""

    def __init__(self, tensors):
        self.tensors = tensors

    def _get(self, name, *unused):
        return self.tensors[name]

    matrix = conv1d = bias = table = _get

    def layernorm(self, prefix, n):
        return self.tensors[prefix + ".weight"], self.tensors[prefix + ".bias"]


def decayed(name, t):
    embedding = ("embedding_table" in name) or name.endswith("wte.weight") or \
        name.endswith("wpe.weight")
    return t.dim() >= 2 and not embedding


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(g.ROOT, "tests", "data", "golden")
    for name, seed in (("gpt-day18-tiny", 2801), ("gpt2-tiny", 2802)):
        cfg = g.load_config(name)
        d = os.path.join(out_dir, name)
        params = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True)
                  for k, v in g.read_safetensors(os.path.join(d, "weights.safetensors")).items()}
        gen = torch.Generator().manual_seed(seed)
        B, T = 3, 9
        tokens = torch.randint(0, cfg["vocab_size"], (B, T), generator=gen)
        targets = torch.randint(0, cfg["vocab_size"], (B, T), generator=gen)
        forward = g.gpt2 if cfg["model_type"] == "gpt2" else g.day18
        logits, _ = forward(cfg, Given(params), tokens)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                 targets.reshape(-1))
        loss.backward()
        grads = {k: v.grad.detach().clone() for k, v in params.items()}
        decay = [v for k, v in params.items() if decayed(k, v)]
        rest = [v for k, v in params.items() if not decayed(k, v)]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": HYPER["weight_decay"]},
                                 {"params": rest, "weight_decay": 0.0}],
                                lr=HYPER["lr"], betas=(HYPER["beta1"], HYPER["beta2"]),
                                eps=HYPER["eps"])
        opt.step()
        tensors = {"loss": loss.detach().reshape(1)}
        for k, v in params.items():
            tensors["grad." + k] = grads[k]
            tensors["updated." + k] = v.detach()
        g.write_safetensors(os.path.join(d, "train_step.safetensors"), tensors)
        with open(os.path.join(d, "train_input.json"), "w") as f:
            json.dump({"tokens": tokens.tolist(), "targets": targets.tolist(), **HYPER,
                       "decayed": sorted(k for k, v in params.items() if decayed(k, v))}, f)
            f.write("\n")
        print(f"{name}: loss {loss.item():.6f}, {len(decay)} decayed tensors of {len(params)}")


if __name__ == "__main__":
    main()
