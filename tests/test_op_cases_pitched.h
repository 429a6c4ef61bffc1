// The pitched rows of the kernel-case table: the head's product written with a row pitch wider
// than its outputs (ops::linear's pitch), its backward reading a pitched gradient, and the
// fused cross-entropy over the first V columns of pitched rows (models/gpt.h, logits_pitch).
// The padding columns of every pitched input are NaN and those of every pitched output are
// expected NaN: an op that reads the padding spreads NaN into what is checked, one that writes
// it fails its guard.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nn/ops_backward.h"
#include "tests/test_op_cases_backward.h"
#include "tests/test_op_cases_forward.h"

namespace cugpt::testing {

// A (N, P) tensor whose first W columns of each row hold the input `name` (N, W) and whose
// other P - W columns are NaN; r.host(name) is the compact (N, W) values.
inline Tensor pitched_input(OpRun& r, const std::string& name, int N, int W, int P, unsigned seed,
                            float scale = 1, Category category = Category::activation) {
  const Tensor compact = r.input(name, {N, W}, seed, scale, 0, category);
  Tensor t = r.poisoned({N, P}, category);
  if (!r.has_data()) return t;
  const std::size_t es = dtype_size(t.dtype()), row = static_cast<std::size_t>(W) * es;
  std::vector<unsigned char> src(compact.nbytes()), dst(t.nbytes());
  compact.copy_to_host(src.data(), src.size());
  t.copy_to_host(dst.data(), dst.size());
  for (int n = 0; n < N; ++n)
    std::copy_n(src.begin() + static_cast<std::ptrdiff_t>(n * row), row,
                dst.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(n) * P * es));
  t.copy_from_host(dst.data(), dst.size());
  return t;
}

// Compact (N, W) values laid out in rows of P, NaN in the padding (the guards).
inline oracle::Vec pitched(const oracle::Vec& v, int N, int W, int P) {
  oracle::Vec out(static_cast<std::size_t>(N) * P, NAN);
  for (int n = 0; n < N; ++n)
    for (int c = 0; c < W; ++c) out[n * P + c] = v[n * W + c];
  return out;
}

// out (N, P) = x (N, IC) W (+ bias) in the first OC columns; the padding is left alone.
inline OpCase linear_pitched_case(int N, int IC, int OC, int P, bool w_in_out, bool bias) {
  OpCase c;
  c.name = "linear_pitched_" + dims({N, IC, OC, P}) + (w_in_out ? "_in_out" : "_out_in") +
           (bias ? "_bias" : "");
  c.run = [=](OpRun& r) {
    Tensor x = r.input("x", {N, IC}, 1);
    Tensor w = r.param("w", w_in_out ? Shape{IC, OC} : Shape{OC, IC}, 2, 1 / std::sqrt(float(IC)));
    Tensor b = r.param("b", {OC}, 3, 0.5f);
    Tensor out = ops::linear(x, w, bias ? &b : nullptr, w_in_out, P);
    EXPECT_EQ(out.shape(), (Shape{N, P}));
    r.out("out", out, linear_tol(IC, false));
  };
  c.oracle = [=](const OpRun& r) {
    const oracle::Vec out = oracle::linear(r.host("x"), r.host("w"),
                                           bias ? r.host("b") : oracle::Vec{}, N, IC, OC, w_in_out);
    return Expected{{"out", pitched(out, N, OC, P)}};
  };
  return c;
}

// linear_backward with dout (N, P) whose padding columns are NaN: dx, dw and db from the first
// OC columns only.
inline OpCase linear_backward_pitched_case(int N, int IC, int OC, int P, bool w_in_out, bool bias) {
  OpCase c;
  c.name = "linear_backward_pitched_" + dims({N, IC, OC, P}) + (w_in_out ? "_in_out" : "_out_in") +
           (bias ? "_bias" : "");
  c.run = [=](OpRun& r) {
    Tensor x = r.input("x", {N, IC}, 1);
    Tensor dout = pitched_input(r, "dout", N, OC, P, 3);
    Tensor w = r.param("w", w_in_out ? Shape{IC, OC} : Shape{OC, IC}, 2);
    Tensor dw = r.input("dw", w.shape(), 4, 1, 0, Category::gradient);
    Tensor db = r.input("db", {OC}, 5, 1, 0, Category::gradient);
    r.out("dx", ops::linear_backward(dout, x, w, &dw, bias ? &db : nullptr, w_in_out), rounded);
    r.out("dw", dw, rounded);
    r.out("db", db, bias ? Tol(rounded) : Tol(exact));
  };
  c.oracle = [=](const OpRun& r) {
    const oracle::LinearGrads g =
        oracle::linear_backward(r.host("dout"), r.host("x"), r.host("w"), r.host("dw"),
                                r.host("db"), N, IC, OC, w_in_out, bias);
    return Expected{{"dx", g.dx}, {"dw", g.dw}, {"db", g.db}};
  };
  return c;
}

// The fused cross-entropy over the first V columns of (N, P) logits, in place or loss only;
// every fourth target ignored, mean_over the rows counted plus `extra`.
inline OpCase cross_entropy_pitched_case(int N, int V, int P, int extra, bool in_place) {
  OpCase c;
  c.name =
      std::string(in_place ? "cross_entropy_backward_pitched_" : "cross_entropy_loss_pitched_") +
      dims({N, V, P}) + (extra ? "_mean_over_plus" + std::to_string(extra) : "");
  const std::int32_t ignore = -100;
  const auto targets = [=] {
    std::vector<std::int32_t> t(N);
    for (int i = 0; i < N; ++i) t[i] = i % 4 == 3 ? ignore : (i * 7919 + 3) % V;
    return t;
  };
  const auto counted = [=] {
    std::int64_t n = 0;
    for (std::int32_t t : targets()) n += t != ignore;
    return n;
  };
  c.run = [=](OpRun& r) {
    Tensor logits = pitched_input(r, "logits", N, V, P, 1, 4.0f);
    const std::int64_t over = extra ? counted() + extra : 0;
    const double loss =
        in_place ? ops::cross_entropy_backward_inplace(logits, targets(), ignore, 0.25, over, V)
                 : ops::cross_entropy_loss(logits, targets(), ignore, over, V);
    r.out("loss", loss, in_f32);
    r.out("logits", logits, in_place ? Tol(rounded) : Tol(exact));
  };
  c.oracle = [=](const OpRun& r) {
    const double over = static_cast<double>(counted() + extra);
    const oracle::Loss l =
        oracle::cross_entropy(r.host("logits"), targets(), V, ignore, 0.25, over);
    return Expected{{"loss", {l.loss}},
                    {"logits", pitched(in_place ? l.grad : r.host("logits"), N, V, P)}};
  };
  return c;
}

inline void add_pitched_cases(std::vector<OpCase>& cases) {
  // GPT-2's head in miniature (V = 101 in rows of 128, the weight [V, C]), pitches that are no
  // multiple of 8, one row, both layouts, with and without a bias.
  cases.push_back(linear_pitched_case(6, 48, 101, 128, false, false));
  cases.push_back(linear_pitched_case(7, 37, 29, 33, false, true));
  cases.push_back(linear_pitched_case(1, 37, 29, 64, true, true));
  cases.push_back(linear_backward_pitched_case(9, 48, 101, 128, false, false));
  cases.push_back(linear_backward_pitched_case(7, 29, 53, 64, true, true));
  cases.push_back(linear_backward_pitched_case(5, 37, 29, 33, false, true));
  cases.push_back(cross_entropy_pitched_case(5, 97, 128, 0, true));
  cases.push_back(cross_entropy_pitched_case(9, 101, 128, 5, true));
  cases.push_back(cross_entropy_pitched_case(5, 97, 101, 0, false));
  // GPT-2's own width and pitch, 50257 in rows of 50304.
  cases.push_back(cross_entropy_pitched_case(3, 50257, 50304, 0, true));
}

}  // namespace cugpt::testing
