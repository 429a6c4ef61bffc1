// The machinery of the kernel-case table (tests/test_op_cases.cpp): one run of an op case on
// one device in one dtype, through the tensor-level API of nn/ops.h and nn/ops_backward.h.
// A case is a function of an OpRun: it asks the run for its inputs (seeded random values,
// never zero, rounded to the dtype under test), calls the ops, and hands the run its outputs
// with a tolerance. The same function runs on the device under test, on the cpu in f64 on the
// same rounded values (the reference), and on meta (allocation only).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nn/arena.h"
#include "nn/tensor.h"
#include "tests/gpu_test.h"

namespace cugpt::testing {

// The error allowed, relative to an output's scale, for the dtype under test and on cuda or
// not (a few cuda paths round twice, or use a hardware tanh).
using Tol = std::function<double(DType dtype, bool cuda)>;

// The output rounded once to its dtype (f32 1e-5, bf16 1.6e-2, f16 2e-3, f64 1e-12).
inline double rounded(DType t, bool) {
  return tolerance(t);
}
// Rounded twice in 16-bit types: attention's P before P.V, a product before its activation.
inline double twice_rounded(DType t, bool) {
  return t == DType::bf16 || t == DType::f16 ? 2 * tolerance(t) : tolerance(t);
}
// Copies: bit for bit.
inline double exact(DType, bool) {
  return 0;
}
// Twice the rounding in every dtype but f64: attention's backward and decode (f32 sums of long
// rows in another order).
inline double doubled(DType t, bool) {
  return t == DType::f64 ? tolerance(t) : 2 * tolerance(t);
}
// LayerNorm statistics and losses: f32 whatever the dtype (f64 beside f64).
inline double in_f32(DType t, bool) {
  return t == DType::f64 ? tolerance(t) : 1e-5;
}

// Named expected values: an output's elements in row-major order (a scalar as one element).
// NaN marks an element the op must leave alone (a guard).
using Expected = std::map<std::string, std::vector<double>>;

class OpRun {
 public:
  // Tensors hold `dtype`; input values are rounded to `values` (the dtype under test, also for
  // its f64 reference). With `poison`, every free byte of the arena is first set to 0xFF (NaN in
  // every float dtype), so an output element the op never writes reads back as NaN.
  OpRun(std::shared_ptr<Arena> arena, DType dtype, DType values, bool poison)
      : arena_(std::move(arena)), dtype_(dtype), values_(values) {
    if (poison && has_data()) poison_free_memory();
  }

  DType dtype() const { return dtype_; }
  DType values_dtype() const { return values_; }
  bool has_data() const { return !arena_->device().is_meta(); }
  bool on_cuda() const { return arena_->device().is_cuda(); }
  const std::shared_ptr<Arena>& arena() const { return arena_; }

  // Uniform in [-scale, scale] (|x| >= scale / 64) plus shift, rounded to the dtype under test.
  Tensor input(const std::string& name, const Shape& shape, unsigned seed, float scale = 1,
               float shift = 0, Category category = Category::activation) {
    Tensor t = Tensor::empty(arena_, shape, dtype_, category);
    if (!has_data()) return keep(t);
    std::vector<float> v = random_values(static_cast<std::size_t>(t.numel()), seed, scale);
    for (float& x : v) x += shift;
    v = round_to(values_, std::move(v));
    t.copy_from_floats(v);
    host_[name] = std::vector<double>(v.begin(), v.end());
    return keep(t);
  }
  Tensor param(const std::string& name, const Shape& shape, unsigned seed, float scale = 1) {
    return input(name, shape, seed, scale, 0, Category::parameter);
  }
  // NaN everywhere: a buffer the op writes into, whose elements it must not write stay NaN.
  Tensor poisoned(const Shape& shape, Category category = Category::activation) {
    Tensor t = Tensor::empty(arena_, shape, dtype_, category);
    if (has_data()) t.fill(NAN);
    return keep(t);
  }
  // i32 values on the run's device (ids, or a length the device holds).
  Tensor ids(const std::vector<std::int32_t>& v) {
    Tensor t = Tensor::empty(arena_, {static_cast<std::int64_t>(v.size())}, DType::i32,
                             Category::activation);
    if (has_data() && !v.empty()) t.copy_from_host(v.data(), v.size() * sizeof(std::int32_t));
    return keep(t);
  }
  // An input's rounded values (for oracles).
  const std::vector<double>& host(const std::string& name) const { return host_.at(name); }

  // Records an output, read back now. Its error is taken against max(floor, max |expected|);
  // with exact_zeros an element expected 0 must be 0, not merely small (attention's rows and
  // probabilities where no key is visible).
  void out(const std::string& name, const Tensor& t, Tol tol, double floor = 0,
           bool exact_zeros = false) {
    keep(t);
    if (!has_data()) return;
    outputs_.push_back({name, read(t), std::move(tol), floor, exact_zeros});
  }
  void out(const std::string& name, double value, Tol tol) {
    if (has_data()) outputs_.push_back({name, {value}, std::move(tol), 0, false});
  }

  struct Output {
    std::string name;
    std::vector<double> got;
    Tol tol;
    double floor;
    bool exact_zeros;
  };
  const std::vector<Output>& outputs() const { return outputs_; }
  Expected expected() const {
    Expected e;
    for (const Output& o : outputs_) e[o.name] = o.got;
    return e;
  }

 private:
  // Tensors live as long as the run: the arena's statistics at the end count every output.
  Tensor keep(const Tensor& t) {
    if (t.defined()) kept_.push_back(t);
    return t;
  }
  static std::vector<double> read(const Tensor& t) {
    if (t.dtype() == DType::f64) {
      std::vector<double> v(static_cast<std::size_t>(t.numel()));
      t.copy_to_host(v.data(), v.size() * sizeof(double));
      return v;
    }
    const std::vector<float> f = t.to_floats();
    return {f.begin(), f.end()};
  }
  void poison_free_memory() {
    std::vector<Tensor> hold;
    for (std::uint64_t n; (n = arena_->stats().largest_free) > 0;) {
      hold.push_back(Tensor::empty(arena_, {static_cast<std::int64_t>(n / 4)}, DType::i32,
                                   Category::workspace));
      const std::vector<unsigned char> ones(n, 0xFF);
      hold.back().copy_from_host(ones.data(), n);
    }
  }

  std::shared_ptr<Arena> arena_;
  DType dtype_, values_;
  std::map<std::string, std::vector<double>> host_;
  std::vector<Tensor> kept_;
  std::vector<Output> outputs_;
};

// One row of the table. `run` is the case itself; `oracle`, when given, computes the expected
// outputs from the run's rounded inputs with plain double loops, and replaces the cpu f64 run
// of `run` as the reference (so the cpu kernels are checked against something else than
// themselves). cpu_only: the op exists on the cpu device only (meta and cuda have no row).
struct OpCase {
  std::string name;  // letters, digits and _ (a test name)
  std::function<void(OpRun&)> run;
  std::function<Expected(const OpRun&)> oracle;
  bool cpu_only = false;
};

// max |got - want| / max(floor, max |want|) <= tol over the elements whose expected value is
// finite; an element expected NaN (a guard) must still be NaN, and no other may be; with
// exact_zeros an element expected 0 must be 0.
inline ::testing::AssertionResult matches(const std::vector<double>& got,
                                          const std::vector<double>& want, double tol, double floor,
                                          bool exact_zeros = false) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << got.size() << " elements, expected " << want.size();
  double scale = std::max(floor, 1e-30), worst = 0;
  std::size_t at = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (std::isnan(want[i]) != std::isnan(got[i]))
      return ::testing::AssertionFailure()
             << "element " << i << " is " << got[i] << ", expected " << want[i]
             << (std::isnan(want[i]) ? " (a guard the op wrote)" : " (not written?)");
    if (!std::isnan(want[i])) scale = std::max(scale, std::fabs(want[i]));
  }
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (std::isnan(want[i])) continue;
    if (!std::isfinite(got[i]))
      return ::testing::AssertionFailure() << "element " << i << " is " << got[i];
    if (exact_zeros && want[i] == 0 && got[i] != 0)
      return ::testing::AssertionFailure() << "element " << i << " is " << got[i] << ", not 0";
    const double d = std::fabs(got[i] - want[i]);
    if (d > worst) worst = d, at = i;
  }
  if (worst / scale <= tol) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "scaled error " << worst / scale << " > " << tol << " (worst at " << at << ": "
         << got[at] << " vs " << want[at] << ")";
}

}  // namespace cugpt::testing
