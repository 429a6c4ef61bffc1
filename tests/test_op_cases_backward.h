// The backward rows of the kernel-case table: linear (both layouts, bias or not, with and
// without an input gradient), LayerNorm, every activation, attention (every head dim, causal,
// padded, fused QKV, spare columns that must stay untouched), embedding with and without a
// token-type table, and the fused cross-entropy with ignored targets and chunks (mean_over).
// Parameter gradients start from random values: the ops accumulate into them. Attention's
// reference is the cpu f64 kernel (checked by finite differences in test_kernels_backward);
// the others have plain-loop oracles.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nn/ops_backward.h"
#include "tests/test_op_cases_forward.h"

namespace cugpt::testing {

inline OpCase linear_backward_case(int N, int IC, int OC, bool w_in_out, bool bias, bool need_dx) {
  OpCase c;
  c.name = "linear_backward_" + dims({N, IC, OC}) + (w_in_out ? "_in_out" : "_out_in") +
           (bias ? "_bias" : "") + (need_dx ? "" : "_no_dx");
  c.run = [=](OpRun& r) {
    Tensor x = r.input("x", {N, IC}, 1), dout = r.input("dout", {N, OC}, 3);
    Tensor w = r.param("w", w_in_out ? Shape{IC, OC} : Shape{OC, IC}, 2);
    Tensor dw = r.input("dw", w.shape(), 4, 1, 0, Category::gradient);
    Tensor db = r.input("db", {OC}, 5, 1, 0, Category::gradient);
    Tensor dx = ops::linear_backward(dout, x, w, &dw, bias ? &db : nullptr, w_in_out, need_dx);
    if (need_dx) r.out("dx", dx, rounded);
    r.out("dw", dw, rounded);
    r.out("db", db, bias ? Tol(rounded) : Tol(exact));  // without a bias: left alone
  };
  c.oracle = [=](const OpRun& r) {
    const oracle::LinearGrads g =
        oracle::linear_backward(r.host("dout"), r.host("x"), r.host("w"), r.host("dw"),
                                r.host("db"), N, IC, OC, w_in_out, bias);
    Expected e{{"dw", g.dw}, {"db", g.db}};
    if (need_dx) e["dx"] = g.dx;
    return e;
  };
  return c;
}

inline OpCase layernorm_backward_case(int N, int C) {
  OpCase c;
  c.name = "layernorm_backward_" + dims({N, C});
  c.run = [=](OpRun& r) {
    Tensor x = r.input("x", {N, C}, 1, 2.0f, 0.5f);  // a row mean away from zero
    Tensor w = r.param("w", {C}, 2), b = r.param("b", {C}, 3);
    Tensor dout = r.input("dout", {N, C}, 4);
    Tensor dw = r.input("dw", {C}, 5, 1, 0, Category::gradient);
    Tensor db = r.input("db", {C}, 6, 1, 0, Category::gradient);
    const ops::NormOut f = ops::layernorm_train(x, w, b, 1e-5);
    r.out("dx", ops::layernorm_backward(dout, x, w, f.mean, f.rstd, dw, db), rounded);
    r.out("dw", dw, rounded);
    r.out("db", db, rounded);
  };
  c.oracle = [=](const OpRun& r) {
    const oracle::LinearGrads g = oracle::layernorm_backward(
        r.host("dout"), r.host("x"), r.host("w"), r.host("dw"), r.host("db"), N, C, 1e-5);
    return Expected{{"dx", g.dx}, {"dw", g.dw}, {"db", g.db}};
  };
  return c;
}

inline OpCase activation_backward_case(Activation a, std::int64_t n) {
  OpCase c;
  c.name = std::string("activation_backward_") + act_name(a) + "_" + std::to_string(n);
  c.run = [=](OpRun& r) {
    r.out("dx", ops::activation_backward(r.input("dout", {n}, 2), r.input("x", {n}, 1, 3.0f), a),
          rounded);
  };
  c.oracle = [=](const OpRun& r) {
    oracle::Vec dx = r.host("dout");
    for (std::size_t i = 0; i < dx.size(); ++i) dx[i] *= oracle::act_derivative(r.host("x")[i], a);
    return Expected{{"dx", dx}};
  };
  return c;
}

// Gradients go into poisoned buffers of the inputs' layout (spare columns included), which
// must stay NaN wherever q, k and v were not read from.
inline OpCase attention_backward_case(const AttnShape& s) {
  OpCase c;
  c.name = "attention_backward_" + s.name();
  c.run = [=](OpRun& r) {
    const AttnBuffers a = attention_inputs(r, s);
    Tensor dout = r.input("dout", {s.B, s.T, s.C()}, 20);
    const Shape shape{s.B, s.T, s.width()};
    Tensor dq = r.poisoned(shape);
    Tensor dk = s.fused ? dq : r.poisoned(shape), dv = s.fused ? dq : r.poisoned(shape);
    const std::vector<std::int32_t> mask = key_mask(s.B, s.T);
    ops::attention_backward(dout, a.in(), {&dq, &dk, &dv}, s.H, s.causal,
                            s.padded ? &mask : nullptr);
    r.out("dq", dq, doubled);
    if (s.fused) return;
    r.out("dk", dk, doubled);
    r.out("dv", dv, doubled);
  };
  return c;
}

// Tokens repeat, so the scatter-add must accumulate; with a token-type table every row adds
// into its row 0.
inline OpCase embedding_backward_case(int B, int T, int C, bool types) {
  const int V = 11, P = T + B;
  OpCase c;
  c.name = "embedding_backward_" + dims({B, T, C}) + (types ? "_token_types" : "");
  c.run = [=](OpRun& r) {
    const EmbeddingIds ids = embedding_ids(B, T, V);
    Tensor dout = r.input("dout", {B, T, C}, 1);
    Tensor dwte = r.input("dwte", {V, C}, 2, 1, 0, Category::gradient);
    Tensor dwpe = r.input("dwpe", {P, C}, 3, 1, 0, Category::gradient);
    Tensor dwtt = r.input("dwtt", {2, C}, 4, 1, 0, Category::gradient);
    ops::embedding_backward(dout, ids.tokens, ids.positions, dwte, dwpe, types ? &dwtt : nullptr);
    r.out("dwte", dwte, rounded);
    r.out("dwpe", dwpe, rounded);
    r.out("dwtt", dwtt, types ? Tol(rounded) : Tol(exact));
  };
  c.oracle = [=](const OpRun& r) {
    const EmbeddingIds ids = embedding_ids(B, T, V);
    const oracle::Vec& g = r.host("dout");
    const oracle::Vec dwtt =
        types ? oracle::scatter_add(r.host("dwtt"), g, oracle::Ids(ids.tokens.size(), 0), C)
              : r.host("dwtt");
    return Expected{{"dwte", oracle::scatter_add(r.host("dwte"), g, ids.tokens, C)},
                    {"dwpe", oracle::scatter_add(r.host("dwpe"), g, ids.positions, C)},
                    {"dwtt", dwtt}};
  };
  return c;
}

// Every fourth target ignored (all of them with all_ignored: a chunk that counts no row);
// mean_over 0 divides by the rows counted here, extra > 0 by that many more (a chunk of a
// batch). in_place: cross_entropy_backward_inplace (the logits become their gradient), else
// cross_entropy_loss (the logits stay as they are).
inline OpCase cross_entropy_case(int N, int V, std::int32_t ignore, int extra, bool in_place,
                                 bool all_ignored = false) {
  OpCase c;
  c.name = std::string(in_place ? "cross_entropy_backward_" : "cross_entropy_loss_") +
           dims({N, V}) + "_ignore" + std::to_string(ignore < 0 ? -ignore : ignore) +
           (extra ? "_mean_over_plus" + std::to_string(extra) : "") +
           (all_ignored ? "_all_ignored" : "");
  const auto targets = [=] {
    std::vector<std::int32_t> t(N);
    for (int i = 0; i < N; ++i) t[i] = all_ignored || i % 4 == 3 ? ignore : (i * 7919 + 3) % V;
    return t;
  };
  const auto mean_over = [=] {
    std::int64_t counted = 0;
    for (std::int32_t t : targets()) counted += t != ignore;
    return extra ? counted + extra : 0;
  };
  c.run = [=](OpRun& r) {
    Tensor logits = r.input("logits", {N, V}, 1, 4.0f);
    const double loss =
        in_place ? ops::cross_entropy_backward_inplace(logits, targets(), ignore, 0.25, mean_over())
                 : ops::cross_entropy_loss(logits, targets(), ignore, mean_over());
    r.out("loss", loss, in_f32);
    r.out("logits", logits, in_place ? Tol(rounded) : Tol(exact));
  };
  c.oracle = [=](const OpRun& r) {
    std::int64_t counted = 0;
    for (std::int32_t t : targets()) counted += t != ignore;
    const double over = static_cast<double>(mean_over() ? mean_over() : counted);
    const oracle::Loss l =
        oracle::cross_entropy(r.host("logits"), targets(), V, ignore, 0.25, over);
    return Expected{{"loss", {l.loss}}, {"logits", in_place ? l.grad : r.host("logits")}};
  };
  return c;
}

inline void add_backward_cases(std::vector<OpCase>& cases) {
  cases.push_back(linear_backward_case(1, 1, 1, false, true, true));
  cases.push_back(linear_backward_case(37, 29, 53, false, true, true));
  cases.push_back(linear_backward_case(37, 29, 53, true, true, true));
  cases.push_back(linear_backward_case(13, 96, 20, true, false, false));
  cases.push_back(linear_backward_case(7, 64, 80, false, false, true));
  for (auto [N, C] : {std::pair{1, 7}, std::pair{37, 64}, std::pair{70, 768}, std::pair{130, 100},
                      std::pair{5, 3000}})
    cases.push_back(layernorm_backward_case(N, C));
  for (Activation a : kActivations)
    for (int n : {7, 4099}) cases.push_back(activation_backward_case(a, n));
  for (int D : {8, 32, 64, 80, 128}) {
    cases.push_back(attention_backward_case({2, 17, 2, D, true, true, false, 5}));
    cases.push_back(attention_backward_case({4, 13, 2, D, false, false, true, 3}));
  }
  cases.push_back(attention_backward_case({2, 129, 2, 64, true, true, true, 5}));
  cases.push_back(attention_backward_case({3, 33, 3, 16, true, false, true, 1}));
  cases.push_back(attention_backward_case({1, 1, 1, 32, true, true, false}));
  for (auto [B, T, C] : {std::tuple{3, 13, 37}, std::tuple{2, 3, 200}})
    for (bool types : {false, true}) cases.push_back(embedding_backward_case(B, T, C, types));
  for (auto [N, V] : {std::pair{1, 1}, std::pair{5, 97}, std::pair{37, 1000}, std::pair{3, 50257}})
    cases.push_back(cross_entropy_case(N, V, -1, 0, true));
  cases.push_back(cross_entropy_case(9, 97, -100, 5, true));
  cases.push_back(cross_entropy_case(4, 97, -100, 6, true, true));
  cases.push_back(cross_entropy_case(5, 97, -1, 0, false));
  cases.push_back(cross_entropy_case(9, 97, -100, 5, false));
}

}  // namespace cugpt::testing
