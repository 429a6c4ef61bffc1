// Shared pieces of the GPU tests: a fixture that skips with the reason when no CUDA device can
// be used, seeded random inputs that are never zero, and a dtype-aware comparison.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernels/dtype.h"
#include "kernels/runtime.h"
#include "nn/tensor.h"

namespace cugpt::testing {

class CudaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string reason;
    if (cuda_device_count(&reason) == 0) GTEST_SKIP() << reason;
  }
};

// Uniform in [-scale, scale] with |x| >= scale / 64: no exact zeros that would hide a kernel
// that never wrote its output.
inline std::vector<float> random_values(std::size_t n, unsigned seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(1.0f / 64, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = (rng() & 1 ? 1.0f : -1.0f) * scale * u(rng);
  return v;
}

// Rounds values to what dtype can hold, so the CPU reference sees the GPU's inputs exactly.
inline std::vector<float> round_to(DType t, std::vector<float> v) {
  for (auto& x : v) {
    if (t == DType::bf16) x = bf16_bits_to_float(float_to_bf16_bits(x));
    if (t == DType::f16) x = f16_bits_to_float(float_to_f16_bits(x));
  }
  return v;
}

// Relative tolerance by dtype: f32 ~1e-5, bf16 ~1e-2, f16 ~2e-3 (outputs rounded once).
inline double tolerance(DType t) {
  switch (t) {
    case DType::f32:
      return 1e-5;
    case DType::bf16:
      return 1.6e-2;
    case DType::f16:
      return 2e-3;
    default:
      return 1e-12;
  }
}

// max |got - want| / max(max |want|, tiny): the error against the output's scale. NaN in got
// (a poisoned output left unwritten) fails.
inline ::testing::AssertionResult close(const std::vector<float>& got,
                                        const std::vector<float>& want, double tol) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << "sizes " << got.size() << " vs " << want.size();
  double max_diff = 0, max_ref = 1e-30;
  std::size_t worst = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i]))
      return ::testing::AssertionFailure() << "non-finite output at " << i << ": " << got[i];
    const double d = std::fabs(static_cast<double>(got[i]) - want[i]);
    if (d > max_diff) max_diff = d, worst = i;
    max_ref = std::max(max_ref, std::fabs(static_cast<double>(want[i])));
  }
  if (max_diff / max_ref <= tol) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "scaled error " << max_diff / max_ref << " > " << tol << " (worst at " << worst << ": "
         << got[worst] << " vs " << want[worst] << ")";
}

// n elements of dtype on the device, `offset` elements into their allocation (1 breaks 16-byte
// alignment), with NaN before them and kGuard NaNs after that no kernel may overwrite.
class DeviceArray {
 public:
  static constexpr std::size_t kGuard = 8;

  DeviceArray(const std::shared_ptr<Arena>& arena, std::size_t n, DType dtype,
              std::size_t offset = 0)
      : n_(n), offset_(offset) {
    t_ = Tensor::empty(arena, {static_cast<std::int64_t>(offset + n + kGuard)}, dtype,
                       Category::activation);
    t_.fill(NAN);
  }
  void upload(const std::vector<float>& values) {
    std::vector<float> all(offset_ + n_ + kGuard, NAN);
    std::copy(values.begin(), values.end(), all.begin() + offset_);
    t_.copy_from_floats(all);
  }
  void* ptr() { return static_cast<char*>(t_.data()) + offset_ * dtype_size(t_.dtype()); }
  float* f32() { return static_cast<float*>(ptr()); }
  // The n elements; a guard that is no longer NaN is a failure of the kernel that wrote it.
  std::vector<float> download() const {
    cuda_synchronize();
    const std::vector<float> all = t_.to_floats();
    for (std::size_t i = 0; i < all.size(); ++i)
      if ((i < offset_ || i >= offset_ + n_) && !std::isnan(all[i]))
        ADD_FAILURE() << "guard element " << i << " of " << all.size() << " was written";
    return {all.begin() + offset_, all.begin() + offset_ + n_};
  }

 private:
  std::size_t n_, offset_;
  Tensor t_;
};

// Bit-for-bit equality (NaN fails), naming the first difference.
inline ::testing::AssertionResult identical(const std::vector<float>& got,
                                            const std::vector<float>& want) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << "sizes " << got.size() << " vs " << want.size();
  for (std::size_t i = 0; i < got.size(); ++i) {
    std::uint32_t a, b;
    std::memcpy(&a, &got[i], 4);
    std::memcpy(&b, &want[i], 4);
    if (a != b || std::isnan(got[i]))
      return ::testing::AssertionFailure()
             << "element " << i << ": " << got[i] << " vs " << want[i];
  }
  return ::testing::AssertionSuccess();
}

}  // namespace cugpt::testing
