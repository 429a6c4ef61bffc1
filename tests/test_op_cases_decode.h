// The decode step's rows of the kernel-case table (models/decode_step.h): attention_decode
// against the cache (the length from the host or held on the device), the cache writes inside
// the attention, and the fused step's products — the LayerNorm + product of kernels/ln_gemv.h
// (with an activation, over Day-18's three q/k/v weights) and the residual added in the GEMM.
// Each row has a plain-loop oracle.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "tests/test_op_cases_forward.h"

namespace cugpt::testing {

// Queries (B, Tq, 3C) from a fused QKV buffer at positions [past, past + Tq) against caches
// (B, t_max, C) whose first past + Tq rows hold the keys and values. 2 x the rounding, as in
// tests/test_cuda_elementwise.cpp's decode test (f32 included: f32 sums over long caches).
// held: the length on the device (a captured decode step's), the host's past given as 0 so
// that a kernel reading the launch's value fails; a held length beyond t_max - Tq reads as
// t_max - Tq (the kernel's guard).
inline OpCase decode_case(int D, int past, int Tq, int t_max, bool held = false) {
  const int B = 2, H = 3, C = H * D;
  OpCase c;
  c.name = "attention_decode_" + dims({B, H, D}) + "_past" + std::to_string(past) + "_tq" +
           std::to_string(Tq) + "_tmax" + std::to_string(t_max) + (held ? "_held" : "");
  c.run = [=](OpRun& r) {
    Tensor q = r.input("qkv", {B, Tq, 3 * C}, 11);
    Tensor k = r.input("k", {B, t_max, C}, 12, 1, 0, Category::kv_cache);
    Tensor v = r.input("v", {B, t_max, C}, 13, 1, 0, Category::kv_cache);
    const Tensor length = r.ids({past});
    r.out("out",
          held ? ops::attention_decode(q, 0, k, v, 0, H, &length)
               : ops::attention_decode(q, 0, k, v, past, H),
          doubled);
  };
  c.oracle = [=](const OpRun& r) {
    oracle::Attn a{&r.host("qkv"),
                   0,
                   std::size_t(3 * C),
                   &r.host("k"),
                   0,
                   std::size_t(C),
                   &r.host("v"),
                   0,
                   std::size_t(C),
                   B,
                   Tq,
                   t_max,
                   H,
                   D,
                   true,
                   std::min(past, t_max - Tq)};
    return Expected{{"out", oracle::attention(a).out}};
  };
  return c;
}

// A decode step's cache writes folded into its attention (ops::attention_decode_writing): one
// query per row at the held length; the new key and value come from the fused QKV buffer (GPT-2)
// or from two tensors (Day-18). The caches after the op (the new row written, the others kept)
// and the output against the oracle's attention over them.
inline OpCase decode_writing_case(int D, int past, int t_max, bool fused) {
  const int B = 2, H = 3, C = H * D;
  OpCase c;
  c.name = "attention_decode_writing_" + dims({B, H, D}) + "_past" + std::to_string(past) +
           "_tmax" + std::to_string(t_max) + (fused ? "_qkv" : "_separate");
  c.run = [=](OpRun& r) {
    Tensor qkv = r.input("qkv", {B, 1, 3 * C}, 41);
    Tensor k_new = r.input("k_new", {B, 1, C}, 42), v_new = r.input("v_new", {B, 1, C}, 43);
    Tensor k = r.input("k", {B, t_max, C}, 44, 1, 0, Category::kv_cache);
    Tensor v = r.input("v", {B, t_max, C}, 45, 1, 0, Category::kv_cache);
    const ops::NewKv kv =
        fused ? ops::NewKv{&qkv, C, &qkv, 2 * C} : ops::NewKv{&k_new, 0, &v_new, 0};
    r.out("out", ops::attention_decode_writing(k, v, kv, qkv, 0, 0, r.ids({past}), H), doubled);
    r.out("k", k, exact);
    r.out("v", v, exact);
  };
  c.oracle = [=](const OpRun& r) {
    oracle::Vec k = r.host("k"), v = r.host("v");
    for (int b = 0; b < B; ++b)
      for (int j = 0; j < C; ++j) {
        const std::size_t row = (static_cast<std::size_t>(b) * t_max + past) * C + j;
        k[row] = fused ? r.host("qkv")[b * 3 * C + C + j] : r.host("k_new")[b * C + j];
        v[row] = fused ? r.host("qkv")[b * 3 * C + 2 * C + j] : r.host("v_new")[b * C + j];
      }
    oracle::Attn a{&r.host("qkv"),
                   0,
                   std::size_t(3 * C),
                   &k,
                   0,
                   std::size_t(C),
                   &v,
                   0,
                   std::size_t(C),
                   B,
                   1,
                   t_max,
                   H,
                   D,
                   true,
                   past};
    return Expected{{"out", oracle::attention(a).out}, {"k", k}, {"v", v}};
  };
  return c;
}

// residual + x W (+ bias) as one op (ops::linear_add: on cuda the sum inside the GEMM).
inline OpCase linear_add_case(int N, int IC, int OC, bool w_in_out, bool bias) {
  OpCase c;
  c.name = "linear_add_" + dims({N, IC, OC}) + (w_in_out ? "_in_out" : "_out_in") +
           (bias ? "_bias" : "");
  c.run = [=](OpRun& r) {
    Tensor x = r.input("x", {N, 1, IC}, 51);
    Tensor w = r.param("w", w_in_out ? Shape{IC, OC} : Shape{OC, IC}, 52, 1 / std::sqrt(float(IC)));
    Tensor b = r.param("b", {OC}, 53, 0.5f);
    Tensor res = r.input("res", {N, 1, OC}, 54, 2.0f);
    r.out("out", ops::linear_add(x, w, bias ? &b : nullptr, w_in_out, res), linear_tol(IC, false));
  };
  c.oracle = [=](const OpRun& r) {
    return Expected{
        {"out", oracle::add(oracle::linear(r.host("x"), r.host("w"),
                                           bias ? r.host("b") : oracle::Vec{}, N, IC, OC, w_in_out),
                            r.host("res"))}};
  };
  return c;
}

// LayerNorm then a product as one op (ops::ln_linear, the fused decode kernel on cuda): x (N, K)
// shifted off zero, gamma, beta, weight [OC, K] or [K, OC], optional bias, optional activation
// (the kernel's epilogue). The cuda kernel keeps the normalised row in f32 and the cpu rounds it
// to the dtype: linear's bound holds either way.
inline OpCase ln_linear_case(int N, int K, int OC, bool w_in_out, bool bias,
                             const Activation* act = nullptr) {
  const Activation a = act ? *act : Activation::relu;
  OpCase c;
  c.name = std::string("ln_linear_") + (act ? std::string("act_") + act_name(a) + "_" : "") +
           dims({N, K, OC}) + (w_in_out ? "_in_out" : "_out_in") + (bias ? "_bias" : "");
  c.run = [=](OpRun& r) {
    Tensor x = r.input("x", {N, 1, K}, 31, 2.0f, 0.5f);
    Tensor g = r.param("g", {K}, 32), be = r.param("be", {K}, 33);
    Tensor w = r.param("w", w_in_out ? Shape{K, OC} : Shape{OC, K}, 34, 1 / std::sqrt(float(K)));
    Tensor b = r.param("b", {OC}, 35, 0.5f);
    r.out("out", ops::ln_linear(x, g, be, 1e-5, w, bias ? &b : nullptr, w_in_out, act),
          linear_tol(K, act && a == Activation::gelu_tanh));
  };
  c.oracle = [=](const OpRun& r) {
    const oracle::Norm n = oracle::layernorm(r.host("x"), r.host("g"), r.host("be"), N, K, 1e-5);
    oracle::Vec out =
        oracle::linear(n.out, r.host("w"), bias ? r.host("b") : oracle::Vec{}, N, K, OC, w_in_out);
    return Expected{{"out", act ? oracle::activation(out, a) : out}};
  };
  return c;
}

// The same over three out_in weights [OC, K] side by side (ops::ln_linear_parts: the Day-18
// attention's q, k and v as one product): out (N, 3 OC), part p in columns [p OC, (p + 1) OC).
inline OpCase ln_linear_parts_case(int N, int K, int OC, bool bias) {
  OpCase c;
  c.name = "ln_linear_parts_" + dims({N, K, OC}) + (bias ? "_bias" : "");
  c.run = [=](OpRun& r) {
    Tensor x = r.input("x", {N, 1, K}, 41, 2.0f, 0.5f);
    Tensor g = r.param("g", {K}, 42), be = r.param("be", {K}, 43);
    ops::LinearParts p;
    p.count = 3;
    Tensor w[3], b[3];
    for (int i = 0; i < 3; ++i) {
      const std::string n = std::to_string(i);
      w[i] = r.param("w" + n, {OC, K}, 44 + i, 1 / std::sqrt(float(K)));
      b[i] = r.param("b" + n, {OC}, 47 + i, 0.5f);
      p.w[i] = &w[i], p.bias[i] = bias ? &b[i] : nullptr;
    }
    r.out("out", ops::ln_linear_parts(x, g, be, 1e-5, p), linear_tol(K, false));
  };
  c.oracle = [=](const OpRun& r) {
    const oracle::Norm n = oracle::layernorm(r.host("x"), r.host("g"), r.host("be"), N, K, 1e-5);
    oracle::Vec out(static_cast<std::size_t>(N) * 3 * OC);
    for (int i = 0; i < 3; ++i) {
      const std::string s = std::to_string(i);
      const oracle::Vec y = oracle::linear(n.out, r.host("w" + s),
                                           bias ? r.host("b" + s) : oracle::Vec{}, N, K, OC, false);
      for (int row = 0; row < N; ++row)
        std::copy(y.begin() + row * OC, y.begin() + (row + 1) * OC,
                  out.begin() + (row * 3 + i) * OC);
    }
    return Expected{{"out", out}};
  };
  return c;
}

inline void add_decode_cases(std::vector<OpCase>& cases) {
  for (int D : {8, 32, 64, 80, 128}) {
    cases.push_back(decode_case(D, 0, 5, 9));    // prefill
    cases.push_back(decode_case(D, 70, 1, 80));  // one token against a long cache
  }
  cases.push_back(decode_case(64, 33, 3, 40));
  // The decode step's length held on the device (models/decode_step.h), and its guard.
  for (int D : {8, 64, 80}) cases.push_back(decode_case(D, 70, 1, 80, true));
  cases.push_back(decode_case(64, 95, 1, 80, true));
  for (int D : {8, 64, 80}) cases.push_back(decode_writing_case(D, 41, 50, true));
  cases.push_back(decode_writing_case(64, 0, 7, false));
  // The decode step's fused LayerNorm + product (kernels/ln_gemv.h): GPT-2's K at B = 1 (K
  // split over blocks), a head-like odd width, one pass of 4 rows, a K of element loads; 16 rows
  // (over one pass) take the unfused ops.
  cases.push_back(ln_linear_case(1, 768, 384, true, true));
  cases.push_back(ln_linear_case(3, 64, 101, false, false));
  cases.push_back(ln_linear_case(4, 256, 96, true, true));
  cases.push_back(ln_linear_case(16, 256, 96, true, true));
  cases.push_back(ln_linear_case(2, 40, 37, false, true));
  // ... with the activation in its epilogue: GPT-2's K in c_fc's layout with ln_2 folded in (K
  // split), the Day-18 FFN's ReLU, BERT's erf GELU; 5 rows take the unfused ops.
  static const Activation kGelu = Activation::gelu_tanh, kRelu = Activation::relu,
                          kErf = Activation::gelu_erf;
  cases.push_back(ln_linear_case(1, 768, 1024, true, true, &kGelu));
  cases.push_back(ln_linear_case(3, 64, 101, false, true, &kRelu));
  cases.push_back(ln_linear_case(2, 40, 37, true, false, &kErf));
  cases.push_back(ln_linear_case(5, 32, 24, true, true, &kGelu));
  // ... over Day-18's separate q, k and v: its K at B = 1 (K split), odd sizes, 4 rows.
  cases.push_back(ln_linear_parts_case(1, 768, 256, true));
  cases.push_back(ln_linear_parts_case(3, 37, 50, false));
  cases.push_back(ln_linear_parts_case(4, 64, 24, true));
  cases.push_back(linear_add_case(1, 64, 48, true, true));
  cases.push_back(linear_add_case(5, 96, 40, false, false));
  cases.push_back(linear_add_case(3, 40, 37, true, true));  // odd width: cublasGemmEx's path
}

}  // namespace cugpt::testing
