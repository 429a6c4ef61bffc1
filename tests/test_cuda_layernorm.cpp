// LayerNorm and the fused residual + LayerNorm on a real GPU against the CPU f32 kernel fed the
// same dtype-rounded inputs, beyond the rows of the kernel-case table (tests/test_op_cases.cpp,
// which has every width tier): f32/bf16/f16, buffers one element off alignment (the scalar
// path), a row with a large mean, in-place use, and the fused kernel against residual then
// LayerNorm bit for bit. Outputs
// are poisoned with NaN and guarded on both sides, so an unwritten element or a stray write
// fails. The argument checks need a CUDA build but no GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "kernels/error.h"
#include "kernels/layernorm.h"
#include "kernels/residual.h"
#include "kernels/runtime.h"
#include "nn/tensor.h"
#include "tests/gpu_test.h"

namespace cugpt {
namespace {

using testing::DeviceArray;
using testing::identical;

constexpr DType kDtypes[] = {DType::f32, DType::bf16, DType::f16};
constexpr float kEps = 1e-5f;
// mean and rstd are f32 computed from exactly representable inputs whatever the dtype.
constexpr double kStatsTol = 1e-5;

// The mean's error against the inputs' spread (1 here), not against the mean itself, which for a
// centred row is ~1/sqrt(C): backward subtracts it from the inputs.
::testing::AssertionResult close_means(const std::vector<float>& got,
                                       const std::vector<float>& want) {
  for (std::size_t i = 0; i < got.size(); ++i)
    if (!(std::fabs(got[i] - want[i]) <= kStatsTol * std::max(1.0f, std::fabs(want[i]))))
      return ::testing::AssertionFailure() << "row " << i << ": " << got[i] << " vs " << want[i];
  return ::testing::AssertionSuccess();
}

struct Case {
  DType dtype;
  int N, C;
  std::size_t offset = 0;  // of every buffer: 1 forces the scalar path
  float mean = 0;          // added to x: a large mean with a small spread
};

std::string describe(const Case& c) {
  std::ostringstream s;
  s << dtype_name(c.dtype) << " N=" << c.N << " C=" << c.C << " offset=" << c.offset
    << " mean=" << c.mean;
  return s.str();
}

struct Reference {
  std::vector<float> out, mean, rstd;
};

Reference cpu_layernorm(const std::vector<float>& x, const std::vector<float>& w,
                        const std::vector<float>& b, int N, int C) {
  Reference r{std::vector<float>(x.size()), std::vector<float>(N), std::vector<float>(N)};
  kernels::layernorm_forward_cpu(r.out.data(), r.mean.data(), r.rstd.data(), x.data(), w.data(),
                                 b.data(), N, C, kEps);
  return r;
}

class CudaLayerNorm : public testing::CudaTest {
 protected:
  void SetUp() override {
    CudaTest::SetUp();
    if (IsSkipped()) return;
    arena_ = Arena::create(Device::cuda(0), 256ull << 20);
  }

  std::vector<float> inputs(const Case& c, unsigned seed, float scale = 1.0f) const {
    std::vector<float> v = testing::random_values(static_cast<std::size_t>(c.N) * c.C, seed, scale);
    for (auto& x : v) x += c.mean;
    return testing::round_to(c.dtype, v);
  }

  DeviceArray array(std::size_t n, DType dtype, std::size_t offset) {
    return DeviceArray(arena_, n, dtype, offset);
  }

  void expect_stats(DeviceArray& mean, DeviceArray& rstd, const Reference& ref) {
    EXPECT_TRUE(close_means(mean.download(), ref.mean)) << "mean";
    EXPECT_TRUE(testing::close(rstd.download(), ref.rstd, kStatsTol)) << "rstd";
  }

  void expect_layernorm_matches_cpu(const Case& c) {
    SCOPED_TRACE(describe(c));
    const std::size_t n = static_cast<std::size_t>(c.N) * c.C;
    const std::vector<float> x = inputs(c, 1), w = inputs({c.dtype, 1, c.C}, 2),
                             b = inputs({c.dtype, 1, c.C}, 3);
    DeviceArray dx = array(n, c.dtype, c.offset), dw = array(c.C, c.dtype, c.offset),
                db = array(c.C, c.dtype, c.offset), dout = array(n, c.dtype, c.offset),
                dmean = array(c.N, DType::f32, 0), drstd = array(c.N, DType::f32, 0);
    dx.upload(x), dw.upload(w), db.upload(b);
    kernels::layernorm_forward_cuda(dout.ptr(), dmean.f32(), drstd.f32(), dx.ptr(), dw.ptr(),
                                    db.ptr(), c.N, c.C, kEps, c.dtype, nullptr);
    const Reference ref = cpu_layernorm(x, w, b, c.N, c.C);
    EXPECT_TRUE(testing::close(dout.download(), ref.out, testing::tolerance(c.dtype)));
    expect_stats(dmean, drstd, ref);
  }

  // The fused kernel: sum exactly as the residual kernel rounds it, out and the statistics as
  // the CPU LayerNorm of that rounded sum.
  void expect_fused_matches_cpu(const Case& c) {
    SCOPED_TRACE(describe(c));
    const std::size_t n = static_cast<std::size_t>(c.N) * c.C;
    const std::vector<float> x = inputs(c, 4), r = inputs(c, 5, 2.0f),
                             w = inputs({c.dtype, 1, c.C}, 6), b = inputs({c.dtype, 1, c.C}, 7);
    DeviceArray dx = array(n, c.dtype, c.offset), dr = array(n, c.dtype, c.offset),
                dw = array(c.C, c.dtype, c.offset), db = array(c.C, c.dtype, c.offset),
                dsum = array(n, c.dtype, c.offset), dout = array(n, c.dtype, c.offset),
                dmean = array(c.N, DType::f32, 0), drstd = array(c.N, DType::f32, 0);
    dx.upload(x), dr.upload(r), dw.upload(w), db.upload(b);
    kernels::layernorm_residual_forward_cuda(dsum.ptr(), dout.ptr(), dmean.f32(), drstd.f32(),
                                             dx.ptr(), dr.ptr(), dw.ptr(), db.ptr(), c.N, c.C, kEps,
                                             c.dtype, nullptr);
    std::vector<float> sum(n);
    kernels::residual_forward_cpu(sum.data(), x.data(), r.data(), n);
    sum = testing::round_to(c.dtype, sum);
    EXPECT_TRUE(identical(dsum.download(), sum)) << "sum is not x + r rounded once";
    const Reference ref = cpu_layernorm(sum, w, b, c.N, c.C);
    EXPECT_TRUE(testing::close(dout.download(), ref.out, testing::tolerance(c.dtype)));
    expect_stats(dmean, drstd, ref);
  }

  std::shared_ptr<Arena> arena_;
};

TEST_F(CudaLayerNorm, UnalignedBuffersMatchCpu) {
  for (DType t : kDtypes)
    for (int C : {64, 768, 1024, 3072, 16384}) expect_layernorm_matches_cpu({t, 7, C, 1});
}

// Mean 1000, spread 1: the f32 sum of the raw values would lose ~1e-4 of the mean.
TEST_F(CudaLayerNorm, LargeMeanKeepsItsDigits) {
  for (int C : {768, 3072}) expect_layernorm_matches_cpu({DType::f32, 130, C, 0, 1000.0f});
}

TEST_F(CudaLayerNorm, InPlace) {
  for (DType t : kDtypes) {
    const Case c{t, 7, 768};
    SCOPED_TRACE(describe(c));
    const std::size_t n = static_cast<std::size_t>(c.N) * c.C;
    const std::vector<float> x = inputs(c, 8), w = inputs({t, 1, c.C}, 9),
                             b = inputs({t, 1, c.C}, 10);
    DeviceArray dx = array(n, t, 0), dw = array(c.C, t, 0), db = array(c.C, t, 0);
    dx.upload(x), dw.upload(w), db.upload(b);
    kernels::layernorm_forward_cuda(dx.ptr(), nullptr, nullptr, dx.ptr(), dw.ptr(), db.ptr(), c.N,
                                    c.C, kEps, t, nullptr);
    EXPECT_TRUE(
        testing::close(dx.download(), cpu_layernorm(x, w, b, c.N, c.C).out, testing::tolerance(t)));
  }
}

TEST_F(CudaLayerNorm, FusedResidualUnalignedMatchesCpu) {
  for (DType t : kDtypes) expect_fused_matches_cpu({t, 7, 768, 1});
}

// The fused kernel and the two kernels it replaces give the same bits: same rounded sum, same
// statistics, same output.
TEST_F(CudaLayerNorm, FusedEqualsResidualThenLayerNorm) {
  for (DType t : kDtypes)
    for (int C : {37, 768, 3072}) {
      const Case c{t, 130, C};
      SCOPED_TRACE(describe(c));
      const std::size_t n = static_cast<std::size_t>(c.N) * c.C;
      DeviceArray dx = array(n, t, 0), dr = array(n, t, 0), dw = array(C, t, 0),
                  db = array(C, t, 0);
      dx.upload(inputs(c, 11));
      dr.upload(inputs(c, 12));
      dw.upload(inputs({t, 1, C}, 13));
      db.upload(inputs({t, 1, C}, 14));
      DeviceArray fused_sum = array(n, t, 0), fused_out = array(n, t, 0),
                  fused_mean = array(c.N, DType::f32, 0), fused_rstd = array(c.N, DType::f32, 0);
      kernels::layernorm_residual_forward_cuda(fused_sum.ptr(), fused_out.ptr(), fused_mean.f32(),
                                               fused_rstd.f32(), dx.ptr(), dr.ptr(), dw.ptr(),
                                               db.ptr(), c.N, C, kEps, t, nullptr);
      DeviceArray sum = array(n, t, 0), out = array(n, t, 0), mean = array(c.N, DType::f32, 0),
                  rstd = array(c.N, DType::f32, 0);
      kernels::residual_forward_cuda(sum.ptr(), dx.ptr(), dr.ptr(), n, t, nullptr);
      kernels::layernorm_forward_cuda(out.ptr(), mean.f32(), rstd.f32(), sum.ptr(), dw.ptr(),
                                      db.ptr(), c.N, C, kEps, t, nullptr);
      EXPECT_TRUE(identical(fused_sum.download(), sum.download())) << "sum";
      EXPECT_TRUE(identical(fused_out.download(), out.download())) << "out";
      EXPECT_TRUE(identical(fused_mean.download(), mean.download())) << "mean";
      EXPECT_TRUE(identical(fused_rstd.download(), rstd.download())) << "rstd";
    }
}

// sum written over x (the residual stream updated in place): each element is read before the
// thread that owns it writes it.
TEST_F(CudaLayerNorm, FusedSumInPlace) {
  for (DType t : kDtypes) {
    const Case c{t, 7, 768};
    SCOPED_TRACE(describe(c));
    const std::size_t n = static_cast<std::size_t>(c.N) * c.C;
    const std::vector<float> x = inputs(c, 15), r = inputs(c, 16), w = inputs({t, 1, c.C}, 17),
                             b = inputs({t, 1, c.C}, 18);
    DeviceArray dx = array(n, t, 0), dr = array(n, t, 0), dw = array(c.C, t, 0),
                db = array(c.C, t, 0), dout = array(n, t, 0);
    dx.upload(x), dr.upload(r), dw.upload(w), db.upload(b);
    kernels::layernorm_residual_forward_cuda(dx.ptr(), dout.ptr(), nullptr, nullptr, dx.ptr(),
                                             dr.ptr(), dw.ptr(), db.ptr(), c.N, c.C, kEps, t,
                                             nullptr);
    std::vector<float> sum(n);
    kernels::residual_forward_cpu(sum.data(), x.data(), r.data(), n);
    sum = testing::round_to(t, sum);
    EXPECT_TRUE(identical(dx.download(), sum));
    EXPECT_TRUE(testing::close(dout.download(), cpu_layernorm(sum, w, b, c.N, c.C).out,
                               testing::tolerance(t)));
  }
}

// The argument checks come before any CUDA call: they run in a CUDA build without a GPU.
class CudaLayerNormChecks : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cuda_compiled()) GTEST_SKIP() << "cugpt was built without CUDA (CUGPT_CUDA=OFF)";
  }
};

TEST_F(CudaLayerNormChecks, RejectsF64AndI32) {
  float dummy[4] = {};
  for (DType t : {DType::f64, DType::i32}) {
    EXPECT_THROW(kernels::layernorm_forward_cuda(dummy, nullptr, nullptr, dummy, dummy, dummy, 1, 4,
                                                 kEps, t, nullptr),
                 Error)
        << dtype_name(t);
    EXPECT_THROW(
        kernels::layernorm_residual_forward_cuda(dummy, dummy, nullptr, nullptr, dummy, dummy,
                                                 dummy, dummy, 1, 4, kEps, t, nullptr),
        Error)
        << dtype_name(t);
  }
}

TEST_F(CudaLayerNormChecks, RejectsBadSizes) {
  float dummy[4] = {};
  for (auto [N, C] : {std::pair{-1, 4}, std::pair{1, 0}, std::pair{1, 16385}})
    EXPECT_THROW(kernels::layernorm_forward_cuda(dummy, nullptr, nullptr, dummy, dummy, dummy, N, C,
                                                 kEps, DType::bf16, nullptr),
                 Error)
        << "N=" << N << " C=" << C;
  EXPECT_THROW(
      kernels::layernorm_residual_forward_cuda(nullptr, dummy, nullptr, nullptr, dummy, dummy,
                                               dummy, dummy, 1, 4, kEps, DType::f32, nullptr),
      Error)
      << "no sum";
}

TEST_F(CudaLayerNormChecks, NoRowsLaunchNothing) {
  EXPECT_NO_THROW(kernels::layernorm_forward_cuda(nullptr, nullptr, nullptr, nullptr, nullptr,
                                                  nullptr, 0, 768, kEps, DType::f16, nullptr));
  EXPECT_NO_THROW(kernels::layernorm_residual_forward_cuda(nullptr, nullptr, nullptr, nullptr,
                                                           nullptr, nullptr, nullptr, nullptr, 0,
                                                           768, kEps, DType::bf16, nullptr));
}

}  // namespace
}  // namespace cugpt
