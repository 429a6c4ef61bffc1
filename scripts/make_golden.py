#!/usr/bin/python3
"""Golden data for cugpt's model tests, computed with PyTorch.

For the tiny config of each family (configs/gpt-day18-tiny.json, gpt2-tiny.json,
roberta-tiny.json) this writes, under tests/data/golden/<config>/:

  weights.safetensors  float32 weights under cugpt's registry names (tied tensors once)
  input.json           {"tokens": [[...]], and for roberta "attention_mask": [[...]]}
  logits.npy           float32 [B, T, V]
  probs_layer0.npy     float32 [B, H, T, T], layer 0's attention probabilities

The three architectures are written out here in plain PyTorch (no transformers package),
following the originals' math. Weights are drawn deliberately large (LayerNorm weights
included) so that a wrong op shows; they are rounded to float32 first and the forward runs in
float64, so the logits are the exact answer for the float32 weights, rounded once.

Run with Debian's PyTorch:  /usr/bin/python3 scripts/make_golden.py [OUT_DIR]
The output is deterministic: running it again gives identical bytes.
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
F64 = torch.float64


def load_config(name):
    with open(os.path.join(ROOT, "configs", name + ".json")) as f:
        return json.load(f)


class Params:
    """Draws named parameters in registry order, float32-rounded, kept in float64."""

    def __init__(self, seed):
        self.gen = torch.Generator().manual_seed(seed)
        self.tensors = {}

    def _draw(self, name, shape, mean, std):
        t = torch.randn(*shape, generator=self.gen, dtype=F64) * std + mean
        self.tensors[name] = t.float().double()
        return self.tensors[name]

    def matrix(self, name, shape):
        fan_in = shape[1] if len(shape) == 2 else shape[0]
        return self._draw(name, shape, 0.0, 1.0 / math.sqrt(fan_in))

    def conv1d(self, name, shape):  # [in, out]
        return self._draw(name, shape, 0.0, 1.0 / math.sqrt(shape[0]))

    def bias(self, name, n):
        return self._draw(name, (n,), 0.0, 0.1)

    def table(self, name, shape):
        return self._draw(name, shape, 0.0, 0.5)

    def layernorm(self, prefix, n):
        return (self._draw(prefix + ".weight", (n,), 1.0, 0.2),
                self._draw(prefix + ".bias", (n,), 0.0, 0.1))


def layer_norm(x, wb, eps):
    return torch.nn.functional.layer_norm(x, x.shape[-1:], wb[0], wb[1], eps)


def gelu_tanh(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def gelu_erf(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def attention(q, k, v, H, causal, key_mask=None):
    """q, k, v: (B, T, C). Returns (B, T, C) and the (B, H, T, T) probabilities."""
    B, T, C = q.shape
    D = C // H
    split = lambda t: t.view(B, T, H, D).transpose(1, 2)
    q, k, v = split(q), split(k), split(v)
    scores = q @ k.transpose(-1, -2) / math.sqrt(D)
    if causal:
        future = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        scores = scores.masked_fill(future, float("-inf"))
    if key_mask is not None:
        scores = scores.masked_fill(key_mask[:, None, None, :] == 0, float("-inf"))
    probs = torch.softmax(scores, dim=-1)
    y = (probs @ v).transpose(1, 2).reshape(B, T, C)
    return y, probs


def day18(cfg, p, tokens):
    V, P, C, L, H = (cfg["vocab_size"], cfg["block_size"], cfg["n_embd"], cfg["n_layer"],
                     cfg["n_head"])
    eps = cfg.get("layer_norm_epsilon", 1e-5)
    wte = p.table("token_embedding_table.weight", (V, C))
    wpe = p.table("position_embedding_table.weight", (P, C))
    blocks = []
    for i in range(L):
        b = f"blocks.{i}."
        blocks.append(dict(
            q=p.matrix(b + "sa.query.weight", (C, C)),
            k=p.matrix(b + "sa.key.weight", (C, C)),
            v=p.matrix(b + "sa.value.weight", (C, C)),
            proj_w=p.matrix(b + "sa.proj.weight", (C, C)), proj_b=p.bias(b + "sa.proj.bias", C),
            fc_w=p.matrix(b + "ffwd.net.0.weight", (4 * C, C)),
            fc_b=p.bias(b + "ffwd.net.0.bias", 4 * C),
            out_w=p.matrix(b + "ffwd.net.2.weight", (C, 4 * C)),
            out_b=p.bias(b + "ffwd.net.2.bias", C),
            ln1=p.layernorm(b + "ln1", C), ln2=p.layernorm(b + "ln2", C)))
    ln_f = p.layernorm("ln_f", C)
    head_w = p.matrix("lm_head.weight", (V, C))
    head_b = p.bias("lm_head.bias", V)

    T = tokens.shape[1]
    x = wte[tokens] + wpe[torch.arange(T)]
    probs0 = None
    for i, b in enumerate(blocks):
        h = layer_norm(x, b["ln1"], eps)
        y, probs = attention(h @ b["q"].T, h @ b["k"].T, h @ b["v"].T, H, causal=True)
        probs0 = probs if i == 0 else probs0
        x = x + y @ b["proj_w"].T + b["proj_b"]
        h = layer_norm(x, b["ln2"], eps)
        x = x + torch.relu(h @ b["fc_w"].T + b["fc_b"]) @ b["out_w"].T + b["out_b"]
    return layer_norm(x, ln_f, eps) @ head_w.T + head_b, probs0


def gpt2(cfg, p, tokens):
    V, P, C, L, H = (cfg["vocab_size"], cfg["n_positions"], cfg["n_embd"], cfg["n_layer"],
                     cfg["n_head"])
    eps = cfg.get("layer_norm_epsilon", 1e-5)
    wte = p.table("transformer.wte.weight", (V, C))
    wpe = p.table("transformer.wpe.weight", (P, C))
    blocks = []
    for i in range(L):
        b = f"transformer.h.{i}."
        blocks.append(dict(
            ln1=p.layernorm(b + "ln_1", C),
            attn_w=p.conv1d(b + "attn.c_attn.weight", (C, 3 * C)),
            attn_b=p.bias(b + "attn.c_attn.bias", 3 * C),
            proj_w=p.conv1d(b + "attn.c_proj.weight", (C, C)),
            proj_b=p.bias(b + "attn.c_proj.bias", C),
            ln2=p.layernorm(b + "ln_2", C),
            fc_w=p.conv1d(b + "mlp.c_fc.weight", (C, 4 * C)),
            fc_b=p.bias(b + "mlp.c_fc.bias", 4 * C),
            out_w=p.conv1d(b + "mlp.c_proj.weight", (4 * C, C)),
            out_b=p.bias(b + "mlp.c_proj.bias", C)))
    ln_f = p.layernorm("transformer.ln_f", C)

    T = tokens.shape[1]
    x = wte[tokens] + wpe[torch.arange(T)]
    probs0 = None
    for i, b in enumerate(blocks):
        qkv = layer_norm(x, b["ln1"], eps) @ b["attn_w"] + b["attn_b"]
        y, probs = attention(qkv[..., :C], qkv[..., C:2 * C], qkv[..., 2 * C:], H, causal=True)
        probs0 = probs if i == 0 else probs0
        x = x + y @ b["proj_w"] + b["proj_b"]
        h = layer_norm(x, b["ln2"], eps)
        x = x + gelu_tanh(h @ b["fc_w"] + b["fc_b"]) @ b["out_w"] + b["out_b"]
    return layer_norm(x, ln_f, eps) @ wte.T, probs0  # lm_head tied to wte


def roberta(cfg, p, tokens, mask):
    V, P, TV, C, L, H, I = (cfg["vocab_size"], cfg["max_position_embeddings"],
                            cfg["type_vocab_size"], cfg["hidden_size"],
                            cfg["num_hidden_layers"], cfg["num_attention_heads"],
                            cfg["intermediate_size"])
    eps, pad = cfg.get("layer_norm_eps", 1e-12), cfg["pad_token_id"]
    e = "roberta.embeddings."
    word = p.table(e + "word_embeddings.weight", (V, C))
    pos = p.table(e + "position_embeddings.weight", (P, C))
    ttype = p.table(e + "token_type_embeddings.weight", (TV, C))
    emb_ln = p.layernorm(e + "LayerNorm", C)
    layers = []
    for i in range(L):
        b = f"roberta.encoder.layer.{i}."
        layers.append(dict(
            q_w=p.matrix(b + "attention.self.query.weight", (C, C)),
            q_b=p.bias(b + "attention.self.query.bias", C),
            k_w=p.matrix(b + "attention.self.key.weight", (C, C)),
            k_b=p.bias(b + "attention.self.key.bias", C),
            v_w=p.matrix(b + "attention.self.value.weight", (C, C)),
            v_b=p.bias(b + "attention.self.value.bias", C),
            o_w=p.matrix(b + "attention.output.dense.weight", (C, C)),
            o_b=p.bias(b + "attention.output.dense.bias", C),
            ln1=p.layernorm(b + "attention.output.LayerNorm", C),
            i_w=p.matrix(b + "intermediate.dense.weight", (I, C)),
            i_b=p.bias(b + "intermediate.dense.bias", I),
            out_w=p.matrix(b + "output.dense.weight", (C, I)),
            out_b=p.bias(b + "output.dense.bias", C),
            ln2=p.layernorm(b + "output.LayerNorm", C)))
    head_b = p.bias("lm_head.bias", V)
    dense_w = p.matrix("lm_head.dense.weight", (C, C))
    dense_b = p.bias("lm_head.dense.bias", C)
    head_ln = p.layernorm("lm_head.layer_norm", C)

    not_pad = (tokens != pad).long()
    position_ids = torch.cumsum(not_pad, dim=1) * not_pad + pad
    x = layer_norm(word[tokens] + pos[position_ids] + ttype[torch.zeros_like(tokens)], emb_ln,
                   eps)
    probs0 = None
    for i, b in enumerate(layers):
        y, probs = attention(x @ b["q_w"].T + b["q_b"], x @ b["k_w"].T + b["k_b"],
                             x @ b["v_w"].T + b["v_b"], H, causal=False, key_mask=mask)
        probs0 = probs if i == 0 else probs0
        a = layer_norm(x + y @ b["o_w"].T + b["o_b"], b["ln1"], eps)
        h = gelu_erf(a @ b["i_w"].T + b["i_b"])
        x = layer_norm(a + h @ b["out_w"].T + b["out_b"], b["ln2"], eps)
    h = layer_norm(gelu_erf(x @ dense_w.T + dense_b), head_ln, eps)
    return h @ word.T + head_b, probs0  # decoder tied to word embeddings, bias to lm_head.bias


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, t in tensors.items():
        data = t.float().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    header["__metadata__"] = {"format": "pt", "generator": "scripts/make_golden.py"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def read_safetensors(path):
    """{name: float32 numpy array} of an F32 safetensors file (cugpt init, write_safetensors)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        assert e["dtype"] == "F32", f"{path}: {name} is {e['dtype']}, expected F32"
        b, t = e["data_offsets"]
        out[name] = np.frombuffer(data[b:t], dtype="<f4").reshape(e["shape"]).copy()
    return out


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests", "data", "golden")
    torch.use_deterministic_algorithms(True)
    for name, seed in (("gpt-day18-tiny", 1801), ("gpt2-tiny", 1802), ("roberta-tiny", 1803)):
        cfg = load_config(name)
        p = Params(seed)
        gen = torch.Generator().manual_seed(seed + 100)
        inputs = {}
        if cfg["model_type"] == "roberta":
            B, T, pad = 2, 13, cfg["pad_token_id"]
            tokens = torch.randint(3, cfg["vocab_size"], (B, T), generator=gen)
            tokens[:, 0] = 0  # <s>
            mask = torch.ones(B, T, dtype=torch.long)
            tokens[1, -4:] = pad
            mask[1, -4:] = 0
            logits, probs = roberta(cfg, p, tokens, mask)
            inputs["attention_mask"] = mask.tolist()
            expected_tensors = 5 + 16 * cfg["num_hidden_layers"] + 5
        else:
            B, T = 2, 11
            tokens = torch.randint(0, cfg["vocab_size"], (B, T), generator=gen)
            if cfg["model_type"] == "gpt2":
                logits, probs = gpt2(cfg, p, tokens)
                expected_tensors = 2 + 12 * cfg["n_layer"] + 2
            else:
                logits, probs = day18(cfg, p, tokens)
                expected_tensors = 2 + 13 * cfg["n_layer"] + 4
        inputs = {"tokens": tokens.tolist(), **inputs}
        assert len(p.tensors) == expected_tensors, (name, len(p.tensors), expected_tensors)

        d = os.path.join(out_dir, name)
        os.makedirs(d, exist_ok=True)
        write_safetensors(os.path.join(d, "weights.safetensors"), p.tensors)
        with open(os.path.join(d, "input.json"), "w") as f:
            json.dump(inputs, f)
            f.write("\n")
        np.save(os.path.join(d, "logits.npy"), logits.float().numpy())
        np.save(os.path.join(d, "probs_layer0.npy"), probs.float().numpy())
        count = sum(t.numel() for t in p.tensors.values())
        print(f"{name}: {len(p.tensors)} tensors, {count:,} parameters, logits "
              f"{list(logits.shape)}, |logits| max {logits.abs().max().item():.3f}")


if __name__ == "__main__":
    main()
