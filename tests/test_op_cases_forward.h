// The forward rows of the kernel-case table: linear (both layouts, bias or not, every activation
// fused), activations, add, LayerNorm with and without statistics or a fused residual,
// embedding with and without token types, attention (every head dim, causal, bidirectional,
// padded, fused QKV, unaligned columns, T = 1), and the copies (write_cache, rows, write_rows,
// last_position); the decode step's ops are in tests/test_op_cases_decode.h. Each row has a
// plain-loop oracle.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "kernels/activation.h"
#include "nn/ops.h"
#include "nn/ops_backward.h"
#include "tests/test_op_cases.h"
#include "tests/test_op_cases_oracles.h"

namespace cugpt::testing {

using kernels::Activation;
constexpr Activation kActivations[] = {Activation::relu, Activation::gelu_tanh,
                                       Activation::gelu_erf};

inline const char* act_name(Activation a) {
  return a == Activation::relu ? "relu" : a == Activation::gelu_tanh ? "gelu_tanh" : "gelu_erf";
}
inline std::string dims(std::initializer_list<std::int64_t> d) {
  std::string s;
  for (std::int64_t v : d) s += (s.empty() ? "" : "x") + std::to_string(v);
  return s;
}
// Values as a tensor of `t` holds them (what an oracle must round where the op stores a sum).
inline oracle::Vec round_as(DType t, oracle::Vec v) {
  for (double& x : v) {
    if (t == DType::f32) x = static_cast<float>(x);
    if (t == DType::bf16) x = bf16_bits_to_float(float_to_bf16_bits(static_cast<float>(x)));
    if (t == DType::f16) x = f16_bits_to_float(float_to_f16_bits(static_cast<float>(x)));
  }
  return v;
}

// linear's bound: the output's rounding (twice in 16-bit types on the cublasGemmEx path or an
// unfused activation) plus the f32 accumulation of IC products in another order than Eigen's,
// which grows like sqrt(IC); cuBLASLt's GELU epilogue uses a hardware tanh (~5e-4) in f32.
// From tests/test_cuda_matmul.cpp, where it held on an H100.
inline Tol linear_tol(int IC, bool gelu_tanh) {
  return [=](DType t, bool cuda) {
    if (t == DType::f64) return tolerance(t);
    const double rounding = tolerance(t) * (t == DType::f32 ? 1 : 2);
    double tol = rounding + tolerance(DType::f32) * std::sqrt(std::max(1.0, IC / 256.0));
    if (cuda && t == DType::f32 && gelu_tanh) tol = std::max(tol, 1e-3);
    return tol;
  };
}

// x (N, IC) (or (2, N/2, IC)), weight [OC, IC] or [IC, OC], optional bias, optional activation.
inline OpCase linear_case(int N, int IC, int OC, bool w_in_out, bool bias, const Activation* act,
                          bool batched = false) {
  const Activation a = act ? *act : Activation::relu;
  OpCase c;
  c.name = std::string(act ? "linear_act_" : "linear_") +
           (act ? act_name(a) + std::string("_") : "") + dims({N, IC, OC}) +
           (w_in_out ? "_in_out" : "_out_in") + (bias ? "_bias" : "") + (batched ? "_batched" : "");
  c.run = [=](OpRun& r) {
    const Shape xs = batched ? Shape{2, N / 2, IC} : Shape{N, IC};
    Tensor x = r.input("x", xs, 1);
    Tensor w = r.param("w", w_in_out ? Shape{IC, OC} : Shape{OC, IC}, 2, 1 / std::sqrt(float(IC)));
    Tensor b = r.param("b", {OC}, 3, 0.5f);
    Tensor out = act ? ops::linear_act(x, w, bias ? &b : nullptr, w_in_out, a)
                     : ops::linear(x, w, bias ? &b : nullptr, w_in_out);
    r.out("out", out, linear_tol(IC, act && a == Activation::gelu_tanh));
  };
  c.oracle = [=](const OpRun& r) {
    oracle::Vec out = oracle::linear(r.host("x"), r.host("w"), bias ? r.host("b") : oracle::Vec{},
                                     N, IC, OC, w_in_out);
    return Expected{{"out", act ? oracle::activation(out, a) : out}};
  };
  return c;
}

inline OpCase activation_case(Activation a, std::int64_t rows, std::int64_t cols) {
  OpCase c;
  c.name = std::string("activation_") + act_name(a) + "_" + dims({rows, cols});
  c.run = [=](OpRun& r) {
    // ReLU passes its input or 0: bit for bit.
    r.out("out", ops::activation(r.input("x", {rows, cols}, 7, 4.0f), a),
          a == Activation::relu ? Tol(exact) : Tol(rounded));
  };
  c.oracle = [=](const OpRun& r) { return Expected{{"out", oracle::activation(r.host("x"), a)}}; };
  return c;
}

inline OpCase add_case(const Shape& s) {
  OpCase c;
  c.name = "add_" + dims({s.numel()});
  c.run = [=](OpRun& r) {
    r.out("out", ops::add(r.input("a", s, 1), r.input("b", s, 2, 3)), exact);
  };
  // The sum of two values of the dtype is exact in f32: rounded once, so bit for bit.
  c.oracle = [](const OpRun& r) {
    return Expected{{"out", round_as(r.values_dtype(), oracle::add(r.host("a"), r.host("b")))}};
  };
  return c;
}

// LayerNorm over C: plain, with its statistics (layernorm_train), or after a fused residual add.
enum class Norm { plain, train, residual };
inline OpCase layernorm_case(Norm kind, int N, int C, float shift = 0) {
  OpCase c;
  const char* names[] = {"layernorm_", "layernorm_train_", "add_layernorm_"};
  c.name = names[static_cast<int>(kind)] + dims({N, C}) + (shift != 0 ? "_shifted" : "");
  c.run = [=](OpRun& r) {
    Tensor x = r.input("x", {N, C}, 4, 2.0f, shift);
    Tensor w = r.param("w", {C}, 5), b = r.param("b", {C}, 6);
    if (kind == Norm::plain) r.out("out", ops::layernorm(x, w, b, 1e-5), rounded);
    if (kind == Norm::train) {
      ops::NormOut o = ops::layernorm_train(x, w, b, 1e-5);
      r.out("out", o.out, rounded);
      // The mean against the inputs' spread: backward subtracts it from them.
      r.out("mean", o.mean, in_f32, 1.0);
      r.out("rstd", o.rstd, in_f32);
    }
    if (kind == Norm::residual) {
      ops::AddNorm o = ops::add_layernorm(x, r.input("r", {N, C}, 7, 2.0f), w, b, 1e-5);
      r.out("sum", o.sum, exact);  // rounded once, as add
      r.out("normed", o.normed, rounded);
    }
  };
  c.oracle = [=](const OpRun& r) {
    // The op normalises the sum as its tensor holds it: rounded once.
    const oracle::Vec sum = kind == Norm::residual
                                ? round_as(r.values_dtype(), oracle::add(r.host("x"), r.host("r")))
                                : r.host("x");
    const oracle::Norm n = oracle::layernorm(sum, r.host("w"), r.host("b"), N, C, 1e-5);
    if (kind == Norm::plain) return Expected{{"out", n.out}};
    if (kind == Norm::train) return Expected{{"out", n.out}, {"mean", n.mean}, {"rstd", n.rstd}};
    return Expected{{"sum", sum}, {"normed", n.out}};
  };
  return c;
}

// Token ids repeating within and across sequences; positions offset per sequence (as RoBERTa's
// padding_idx + 1 start gives).
struct EmbeddingIds {
  std::vector<std::int32_t> tokens, positions;
};
inline EmbeddingIds embedding_ids(int B, int T, int V) {
  EmbeddingIds ids;
  std::mt19937 rng(9);
  for (int i = 0; i < B * T; ++i) {
    ids.tokens.push_back(static_cast<std::int32_t>(rng() % V));
    ids.positions.push_back(i % T + i / T);
  }
  return ids;
}

// held: the ids already on the device (a decode step's, ops::embedding's tensor overload).
inline OpCase embedding_case(int B, int T, int C, bool types, bool held = false) {
  const int V = 11, P = T + B;
  OpCase c;
  c.name = "embedding_" + dims({B, T, C}) + (types ? "_token_types" : "") + (held ? "_held" : "");
  c.run = [=](OpRun& r) {
    const EmbeddingIds ids = embedding_ids(B, T, V);
    Tensor wte = r.param("wte", {V, C}, 10), wpe = r.param("wpe", {P, C}, 11);
    Tensor wtt = r.param("wtt", {2, C}, 12);
    const Tensor* tt = types ? &wtt : nullptr;
    r.out("out",
          held ? ops::embedding(r.ids(ids.tokens), r.ids(ids.positions), B, T, wte, wpe, tt)
               : ops::embedding(ids.tokens, ids.positions, B, T, wte, wpe, tt),
          rounded);
  };
  c.oracle = [=](const OpRun& r) {
    const EmbeddingIds ids = embedding_ids(B, T, V);
    return Expected{
        {"out", oracle::embedding(ids.tokens, ids.positions, r.host("wte"), r.host("wpe"),
                                  types ? r.host("wtt") : oracle::Vec{}, C)}};
  };
  return c;
}

// Sequence b's key mask: right padding, left padding (early causal rows see no key), every key
// padded (the whole sequence gives zeros), then a hole in the middle.
inline std::vector<std::int32_t> key_mask(int B, int T) {
  std::vector<std::int32_t> m(static_cast<std::size_t>(B) * T, 1);
  for (int b = 0; b < B; ++b)
    for (int j = 0; j < T; ++j) {
      std::int32_t& k = m[static_cast<std::size_t>(b) * T + j];
      if (b % 4 == 0) k = j < std::max(1, 2 * T / 3);
      if (b % 4 == 1) k = j >= T / 3;
      if (b % 4 == 2) k = 0;
      if (b % 4 == 3) k = j != T / 2;
    }
  return m;
}

// The layout of q, k and v: one fused (B, T, 3C + pad) buffer, or three (B, T, C + pad)
// buffers read from column `pad` (an odd pad leaves the rows unaligned for 16-byte loads).
struct AttnShape {
  int B, T, H, D;
  bool causal, fused, padded;
  int pad = 0;
  std::string name() const {
    return dims({B, T, H, D}) + (causal ? "_causal" : "_bidirectional") +
           (fused ? "_fused" : "_separate") + (padded ? "_padded" : "") +
           (pad ? "_pad" + std::to_string(pad) : "");
  }
  int C() const { return H * D; }
  int width() const { return fused ? 3 * C() + pad : C() + pad; }
  std::int64_t col(int which) const { return fused ? which * C() : pad; }
};

// The inputs of a case's attention: buffers "qkv" or "q", "k", "v" in the run.
struct AttnBuffers {
  Tensor q, k, v;
  ops::AttentionInputs in() const { return {&q, s.col(0), &k, s.col(1), &v, s.col(2)}; }
  AttnShape s;
};
inline AttnBuffers attention_inputs(OpRun& r, const AttnShape& s) {
  AttnBuffers a{{}, {}, {}, s};
  const Shape shape{s.B, s.T, s.width()};
  if (s.fused) {
    a.q = a.k = a.v = r.input("qkv", shape, 100, 1.5f);
  } else {
    a.q = r.input("q", shape, 100, 1.5f);
    a.k = r.input("k", shape, 101, 1.5f);
    a.v = r.input("v", shape, 102);
  }
  return a;
}
inline oracle::Attn attention_oracle_args(const OpRun& r, const AttnShape& s) {
  const auto& q = r.host(s.fused ? "qkv" : "q");
  const auto& k = r.host(s.fused ? "qkv" : "k");
  const auto& v = r.host(s.fused ? "qkv" : "v");
  const std::size_t w = static_cast<std::size_t>(s.width());
  return {&q,
          std::size_t(s.col(0)),
          w,
          &k,
          std::size_t(s.col(1)),
          w,
          &v,
          std::size_t(s.col(2)),
          w,
          s.B,
          s.T,
          s.T,
          s.H,
          s.D,
          s.causal};
}

// With probs (the cpu keeps the (B, H, T, T) probabilities for hooks): a cpu-only row.
inline OpCase attention_case(const AttnShape& s, bool probs = false) {
  OpCase c;
  c.name = "attention_" + s.name() + (probs ? "_probs" : "");
  c.cpu_only = probs;
  c.run = [=](OpRun& r) {
    const AttnBuffers a = attention_inputs(r, s);
    const std::vector<std::int32_t> mask = key_mask(s.B, s.T);
    Tensor p;
    r.out("out",
          ops::attention(a.in(), s.C(), s.H, s.causal, s.padded ? &mask : nullptr,
                         probs ? &p : nullptr),
          twice_rounded, 0, true);
    if (probs) r.out("probs", p, rounded, 0, true);
  };
  c.oracle = [=](const OpRun& r) {
    const std::vector<std::int32_t> mask = key_mask(s.B, s.T);
    oracle::Attn a = attention_oracle_args(r, s);
    if (s.padded) a.mask = &mask;
    oracle::AttnOut o = oracle::attention(a);
    if (probs) return Expected{{"out", o.out}, {"probs", o.probs}};
    return Expected{{"out", o.out}};
  };
  return c;
}

// The copies, bit for bit. write_cache and write_rows write into poisoned buffers: every
// element they must not touch stays NaN.
// held: ops::write_cache_at, the length on the device; rows past t_max are not written.
inline OpCase write_cache_case(int B, int t_max, int C, int Tq, int W, int col, int past,
                               bool held = false) {
  OpCase c;
  c.name = "write_cache_" + dims({B, t_max, C}) + "_tq" + std::to_string(Tq) + "_w" +
           std::to_string(W) + "_col" + std::to_string(col) + "_past" + std::to_string(past) +
           (held ? "_held" : "");
  c.run = [=](OpRun& r) {
    Tensor cache = r.poisoned({B, t_max, C}, Category::kv_cache);
    const Tensor src = r.input("src", {B, Tq, W}, 21);
    if (held)
      ops::write_cache_at(cache, r.ids({past}), src, col);
    else
      ops::write_cache(cache, past, src, col);
    r.out("cache", cache, exact);
  };
  c.oracle = [=](const OpRun& r) {
    oracle::Vec want(static_cast<std::size_t>(B) * t_max * C, NAN);
    for (int b = 0; b < B; ++b)
      for (int t = 0; t < Tq && past + t < t_max; ++t)
        for (int j = 0; j < C; ++j)
          want[(b * t_max + past + t) * C + j] = r.host("src")[(b * Tq + t) * W + col + j];
    return Expected{{"cache", want}};
  };
  return c;
}

inline OpCase rows_case(int N, int C, int begin, int count, bool write) {
  OpCase c;
  c.name = std::string(write ? "write_rows_" : "rows_") + dims({N, C}) + "_at" +
           std::to_string(begin) + "_count" + std::to_string(count);
  c.run = [=](OpRun& r) {
    if (!write) return r.out("out", ops::rows(r.input("x", {N, C}, 22), begin, count), exact);
    Tensor dst = r.poisoned({N, C});
    ops::write_rows(dst, begin, r.input("x", {count, C}, 23));
    r.out("out", dst, exact);
  };
  c.oracle = [=](const OpRun& r) {
    const oracle::Vec& x = r.host("x");
    if (!write) return Expected{{"out", {x.begin() + begin * C, x.begin() + (begin + count) * C}}};
    oracle::Vec want(static_cast<std::size_t>(N) * C, NAN);
    std::copy(x.begin(), x.end(), want.begin() + begin * C);
    return Expected{{"out", want}};
  };
  return c;
}

inline OpCase last_position_case(int B, int T, int C) {
  OpCase c;
  c.name = "last_position_" + dims({B, T, C});
  c.run = [=](OpRun& r) { r.out("out", ops::last_position(r.input("x", {B, T, C}, 24)), exact); };
  c.oracle = [=](const OpRun& r) {
    oracle::Vec want;
    for (int b = 0; b < B; ++b)
      for (int j = 0; j < C; ++j) want.push_back(r.host("x")[(b * T + T - 1) * C + j]);
    return Expected{{"out", want}};
  };
  return c;
}

inline void add_forward_cases(std::vector<OpCase>& cases) {
  // Every layout ([OC, IC] PyTorch Linear, [IC, OC] GPT-2 Conv1D), bias or not, and the
  // activations cuBLASLt fuses, at sizes that are no multiple of 8 (16-bit rows not 16-byte
  // aligned), one token, and GPT-2 small's width; GELU-erf runs unfused.
  const Activation relu = Activation::relu, gelu = Activation::gelu_tanh;
  for (auto [N, IC, OC] : {std::tuple{7, 37, 29}, std::tuple{1, 37, 29}, std::tuple{7, 768, 768}})
    for (bool io : {false, true})
      for (bool bias : {false, true})
        for (const Activation* a : {static_cast<const Activation*>(nullptr), &relu, &gelu})
          cases.push_back(linear_case(N, IC, OC, io, bias, a));
  const Activation erf = Activation::gelu_erf;
  cases.push_back(linear_case(7, 37, 29, false, true, &erf));
  cases.push_back(linear_case(1, 64, 96, true, true, &erf));
  cases.push_back(linear_case(13, 37, 29, true, false, &erf));
  cases.push_back(linear_case(10, 300, 17, false, true, nullptr, true));
  for (Activation a : kActivations)
    for (auto [rows, cols] : {std::pair{1, 1}, std::pair{7, 37}, std::pair{1, 4099}})
      cases.push_back(activation_case(a, rows, cols));
  for (const Shape& s : {Shape{1}, Shape{7, 37}, Shape{3, 1365}}) cases.push_back(add_case(s));
  // Widths on both sides of each cuda kernel tier (a warp per row up to 1024, 256 threads up to
  // 8192, 512 up to 16384) and of 16-byte packs (770, 772).
  for (auto [N, C] :
       {std::pair{1, 1}, std::pair{7, 37}, std::pair{130, 64}, std::pair{1, 770}, std::pair{3, 772},
        std::pair{7, 1023}, std::pair{1, 1024}, std::pair{7, 1025}, std::pair{2, 3073},
        std::pair{2, 8192}, std::pair{2, 8200}, std::pair{1, 16384}})
    cases.push_back(layernorm_case(Norm::plain, N, C));
  cases.push_back(layernorm_case(Norm::plain, 5, 768, 30.0f));
  for (auto [N, C] : {std::pair{7, 37}, std::pair{130, 100}, std::pair{1, 768}})
    cases.push_back(layernorm_case(Norm::train, N, C));
  for (auto [N, C] : {std::pair{1, 1}, std::pair{1, 37}, std::pair{7, 768}, std::pair{130, 1023},
                      std::pair{13, 1025}, std::pair{2, 3073}, std::pair{1, 16384}})
    cases.push_back(layernorm_case(Norm::residual, N, C));
  for (auto [B, T, C] : {std::tuple{2, 7, 37}, std::tuple{1, 1, 768}, std::tuple{3, 13, 772}})
    for (bool types : {false, true}) cases.push_back(embedding_case(B, T, C, types));
  // Every head dim the models use (8: the tiny configs; 32..128 the tiled kernels; 80 odd).
  for (int D : {8, 32, 64, 80, 96, 128}) {
    cases.push_back(attention_case({2, 13, 3, D, true, true, false}));
    cases.push_back(attention_case({4, 13, 3, D, false, false, true}));
    cases.push_back(attention_case({2, 65, 1, D, true, false, true}));
  }
  cases.push_back(attention_case({2, 1, 3, 64, true, true, false}));
  cases.push_back(attention_case({3, 1, 3, 32, false, false, true}));
  cases.push_back(attention_case({2, 13, 3, 32, true, false, false, 1}));
  cases.push_back(attention_case({3, 13, 5, 64, false, true, true, 3}));
  cases.push_back(attention_case({3, 63, 5, 96, true, true, true}));
  cases.push_back(attention_case({3, 200, 5, 64, false, true, false}));
  cases.push_back(attention_case({4, 13, 3, 8, true, false, true}, true));
  cases.push_back(attention_case({4, 13, 3, 32, false, true, true}, true));
  cases.push_back(write_cache_case(2, 9, 37, 3, 3 * 37 + 2, 37, 4));
  cases.push_back(write_cache_case(1, 5, 8, 1, 8, 0, 4));
  cases.push_back(write_cache_case(3, 9, 37, 1, 3 * 37 + 2, 37, 6, true));
  cases.push_back(write_cache_case(2, 9, 16, 3, 48, 16, 7, true));  // one row past the end
  cases.push_back(embedding_case(3, 1, 24, false, true));
  cases.push_back(rows_case(7, 37, 2, 3, false));
  cases.push_back(rows_case(5, 8, 0, 5, false));
  cases.push_back(rows_case(7, 37, 2, 3, true));
  cases.push_back(rows_case(4, 5, 3, 1, true));
  cases.push_back(last_position_case(2, 7, 37));
  cases.push_back(last_position_case(3, 1, 8));
}

}  // namespace cugpt::testing
