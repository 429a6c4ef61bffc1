// The fused CUDA attention kernel against the CPU reference (kernels/cpu/attention.cpp, run in
// double on the same dtype-rounded inputs), beyond the rows of the kernel-case table
// (tests/test_op_cases.cpp: every head dim, causal, bidirectional, padded, fused): lengths on
// both sides of the tiles, head dims of the generic kernel, long peaked sequences, rows the
// kernel must read without 16-byte loads, f32/bf16/f16.
// Without a GPU the kernel tests skip with the reason; the argument checks need only a CUDA build.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/attention.h"
#include "kernels/error.h"
#include "kernels/runtime.h"
#include "nn/tensor.h"
#include "tests/gpu_test.h"

namespace cugpt {
namespace {

using kernels::AttentionArgs;
using kernels::AttentionCudaArgs;

struct Case {
  int B = 2, T = 7, H = 3, D = 64;
  bool causal = false;
  bool fused = false;      // one (B, T, 3C) buffer: k = q + C, v = q + 2C
  bool padded = false;     // key_mask: right/left padding, a fully masked and a random sequence
  bool unaligned = false;  // odd row stride and q one element past 16-byte alignment
  float magnitude = 1.0f;  // of q, k, v: 3 makes the softmax peaked and its running max move
};

std::string describe(const Case& c, DType t) {
  std::ostringstream s;
  s << dtype_name(t) << " B=" << c.B << " T=" << c.T << " H=" << c.H << " D=" << c.D
    << (c.causal ? " causal" : " bidirectional") << (c.fused ? " fused" : " separate")
    << (c.padded ? " padded" : "") << (c.unaligned ? " unaligned" : "")
    << " magnitude=" << c.magnitude;
  return s.str();
}

// Sequence b's key mask: 0 right padding, 1 left padding (early causal rows see nothing),
// 2 every key padded (all rows zero), otherwise random.
std::vector<std::int32_t> make_mask(int B, int T, unsigned seed) {
  std::vector<std::int32_t> mask(static_cast<std::size_t>(B) * T, 1);
  std::mt19937 rng(seed);
  for (int b = 0; b < B; ++b)
    for (int j = 0; j < T; ++j) {
      std::int32_t& m = mask[static_cast<std::size_t>(b) * T + j];
      switch (b % 4) {
        case 0:
          m = j < std::max(1, 2 * T / 3);
          break;
        case 1:
          m = j >= T / 3;
          break;
        case 2:
          m = 0;
          break;
        default:
          m = rng() % 10 < 7;
      }
    }
  return mask;
}

// f32: 1e-5 of the output's scale, as for every f32 kernel; the reference is double, so this is
// the GPU's own error (f32 sums over up to 1024 keys, exp2f within 2 ulp).
// bf16/f16: the output is rounded once (tolerance(dtype)), and P is rounded to the 16-bit type
// before the P.V tensor-core product, which adds at most one more rounding of each weight:
// hence twice tolerance(dtype).
double tolerance_for(DType t) {
  return t == DType::f32 ? testing::tolerance(t) : 2 * testing::tolerance(t);
}

class CudaAttention : public testing::CudaTest {
 protected:
  void SetUp() override {
    CudaTest::SetUp();
    if (IsSkipped()) return;
    arena_ = Arena::create(Device::cuda(0), 512ull << 20);
  }

  void expect_matches_cpu(const Case& c, DType dtype) {
    SCOPED_TRACE(describe(c, dtype));
    const int C = c.H * c.D;
    const int pad = c.unaligned ? 1 : 0;
    const int W = (c.fused ? 3 * C : C) + pad;  // row stride of the q/k/v buffers
    const std::size_t rows = static_cast<std::size_t>(c.B) * c.T;
    const int buffers = c.fused ? 1 : 3;

    // Host inputs rounded to dtype: the reference sees exactly what the GPU reads.
    std::vector<std::vector<float>> host;
    std::vector<Tensor> dev;
    for (int i = 0; i < buffers; ++i) {
      host.push_back(
          testing::round_to(dtype, testing::random_values(rows * W, 100 + i, c.magnitude)));
      dev.push_back(Tensor::empty(arena_, {c.B, c.T, W}, dtype, Category::activation));
      dev.back().copy_from_floats(host.back());
    }
    // (buffer, element offset) of q, k and v.
    const int buf[3] = {0, c.fused ? 0 : 1, c.fused ? 0 : 2};
    const std::size_t off[3] = {static_cast<std::size_t>(pad),
                                static_cast<std::size_t>(pad + (c.fused ? C : 0)),
                                static_cast<std::size_t>(pad + (c.fused ? 2 * C : 0))};
    auto device_ptr = [&](int i) {
      return static_cast<const char*>(dev[buf[i]].data()) + off[i] * dtype_size(dtype);
    };

    const std::vector<std::int32_t> mask = make_mask(c.B, c.T, 7);
    // An int32 (B, T) buffer on the device: a tensor of as many 4-byte elements, used as bytes.
    Tensor mask_dev = Tensor::empty(arena_, {c.B, c.T}, DType::f32, Category::activation);
    mask_dev.copy_from_host(mask.data(), mask.size() * sizeof(std::int32_t));

    const float scale = 1.0f / std::sqrt(static_cast<float>(c.D));
    Tensor out = Tensor::empty(arena_, {c.B, c.T, C}, dtype, Category::activation);
    out.fill(NAN);  // a row the kernel never writes stays NaN and fails close()
    AttentionCudaArgs a;
    a.B = c.B, a.T = c.T, a.H = c.H, a.D = c.D;
    a.q = device_ptr(0), a.k = device_ptr(1), a.v = device_ptr(2);
    a.row_stride = W, a.out = out.data(), a.causal = c.causal;
    a.key_mask = c.padded ? static_cast<const std::int32_t*>(mask_dev.data()) : nullptr;
    a.scale = scale, a.dtype = dtype;
    kernels::attention_forward_cuda(a, nullptr);
    cuda_synchronize();
    const std::vector<float> got = out.to_floats();

    std::vector<std::vector<double>> host_d;
    for (const auto& h : host) host_d.emplace_back(h.begin(), h.end());
    std::vector<double> ref(rows * C);
    AttentionArgs<double> r;
    r.B = c.B, r.T = c.T, r.H = c.H, r.D = c.D;
    r.q = host_d[buf[0]].data() + off[0];
    r.k = host_d[buf[1]].data() + off[1];
    r.v = host_d[buf[2]].data() + off[2];
    r.row_stride = W, r.out = ref.data(), r.causal = c.causal;
    r.key_mask = c.padded ? mask.data() : nullptr;
    r.scale = scale;  // the same float the GPU gets
    kernels::attention_forward_cpu(r);
    const std::vector<float> want(ref.begin(), ref.end());

    EXPECT_TRUE(testing::close(got, want, tolerance_for(dtype)));

    // A query row with no visible key is exactly zero, not merely small.
    int zero_rows = 0;
    for (std::size_t row = 0; row < rows; ++row)
      for (int h = 0; h < c.H; ++h) {
        const std::size_t at = row * C + static_cast<std::size_t>(h) * c.D;
        bool zero = true;
        for (int d = 0; d < c.D; ++d) zero = zero && ref[at + d] == 0.0;
        if (!zero) continue;
        ++zero_rows;
        for (int d = 0; d < c.D; ++d)
          ASSERT_EQ(got[at + d], 0.0f) << "row " << row << " head " << h << " has no visible key";
      }
    if (c.padded && c.B >= 3) {
      EXPECT_GE(zero_rows, c.T * c.H) << "the fully masked sequence";
    }
  }

  static constexpr DType kDtypes[3] = {DType::f32, DType::bf16, DType::f16};
  std::shared_ptr<Arena> arena_;
};

TEST_F(CudaAttention, EveryHeadDimAndLengthMatchesCpu) {
  for (DType t : kDtypes)
    for (int D : {32, 64, 80, 96, 128})
      for (int T : {1, 7, 63, 64, 65, 200})
        for (bool causal : {false, true}) {
          Case c;
          c.T = T, c.D = D, c.causal = causal;
          expect_matches_cpu(c, t);
        }
}

// Head dims without a tiled kernel (the tiny configs' 8, and others) take the generic kernel.
TEST_F(CudaAttention, OtherHeadDimsUseTheGenericKernel) {
  for (DType t : kDtypes)
    for (int D : {8, 16, 48, 72, 160})
      for (int T : {1, 7, 65})
        for (bool causal : {false, true})
          for (bool padded : {false, true}) {
            Case c;
            c.B = 3, c.T = T, c.H = 2, c.D = D, c.causal = causal, c.padded = padded;
            expect_matches_cpu(c, t);
          }
}

// Sixteen key tiles and peaked scores: the running max moves and earlier tiles are rescaled.
TEST_F(CudaAttention, LongSequenceWithPeakedScores) {
  for (DType t : kDtypes)
    for (int D : {64, 128})
      for (bool causal : {false, true}) {
        Case c;
        c.B = 1, c.T = 1024, c.H = 2, c.D = D, c.causal = causal, c.magnitude = 3.0f;
        expect_matches_cpu(c, t);
      }
}

// A row stride that is not a multiple of 8 elements and a q that is not 16-byte aligned: the
// kernel must fall back to element loads.
TEST_F(CudaAttention, UnalignedRowsMatchCpu) {
  for (DType t : kDtypes)
    for (int D : {32, 128})
      for (bool fused : {false, true})
        for (bool causal : {false, true}) {
          Case c;
          c.T = 65, c.D = D, c.causal = causal, c.fused = fused, c.unaligned = true;
          expect_matches_cpu(c, t);
        }
}

// The argument checks come before any CUDA call, so these run without a GPU, in a CUDA build
// (without one, attention_forward_cuda only says so).
class CudaAttentionChecks : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cuda_compiled()) GTEST_SKIP() << "cugpt was built without CUDA (CUGPT_CUDA=OFF)";
  }
};

// Beyond the generic kernel's shared-memory row of scores: a clear error, no launch.
TEST_F(CudaAttentionChecks, GenericKernelRejectsTooManyKeys) {
  AttentionCudaArgs a;
  a.B = 1, a.T = 12289, a.H = 2, a.D = 8, a.row_stride = 16, a.dtype = DType::bf16;
  static char dummy[16];
  a.q = a.k = a.v = a.out = dummy;
  try {
    kernels::attention_forward_cuda(a, nullptr);
    ADD_FAILURE() << "T=12289 accepted for D=8";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("12288"), std::string::npos) << e.what();
  }
}

TEST_F(CudaAttentionChecks, RejectsF64AndI32) {
  for (DType t : {DType::f64, DType::i32}) {
    AttentionCudaArgs a;
    a.B = 1, a.T = 4, a.H = 2, a.D = 64, a.row_stride = 128, a.dtype = t;
    EXPECT_THROW(kernels::attention_forward_cuda(a, nullptr), Error) << dtype_name(t);
  }
}

TEST_F(CudaAttentionChecks, RejectsBadSizes) {
  AttentionCudaArgs a;
  a.B = 1, a.T = 4, a.H = 2, a.D = 64, a.row_stride = 127, a.dtype = DType::f16;  // < H*D
  EXPECT_THROW(kernels::attention_forward_cuda(a, nullptr), Error);
}

TEST_F(CudaAttentionChecks, EmptyBatchOrSequenceLaunchesNothing) {
  AttentionCudaArgs a;  // null pointers: nothing may be touched
  a.H = 2, a.D = 64, a.row_stride = 128, a.dtype = DType::f32;
  a.B = 0, a.T = 5;
  EXPECT_NO_THROW(kernels::attention_forward_cuda(a, nullptr));
  a.B = 2, a.T = 0;
  EXPECT_NO_THROW(kernels::attention_forward_cuda(a, nullptr));
}

}  // namespace
}  // namespace cugpt
