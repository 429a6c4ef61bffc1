// The memory-bound CUDA kernels against the CPU reference: random non-zero inputs rounded to
// the dtype, outputs poisoned with NaN, odd sizes, every dtype. Skipped without a GPU.
#include <cmath>
#include <vector>

#include "tests/gpu_test.h"
#include "kernels/activation.h"
#include "kernels/attention_decode.h"
#include "kernels/embedding.h"
#include "kernels/layernorm.h"
#include "kernels/residual.h"
#include "kernels/softmax.h"
#include "nn/tensor.h"

namespace cugpt {
namespace {

using testing::close;
using testing::CudaTest;
using testing::random_values;
using testing::round_to;
using testing::tolerance;

const DType kDtypes[] = {DType::f32, DType::bf16, DType::f16};

class CudaElementwise : public CudaTest {
 protected:
  void SetUp() override {
    CudaTest::SetUp();  // skips, with the reason, without a GPU
    if (!IsSkipped()) arena_ = Arena::create(Device::cuda(0), 512ull << 20);
  }
  std::shared_ptr<Arena> arena_;
  Tensor upload(const std::vector<float>& v, DType t) {
    Tensor x =
        Tensor::empty(arena_, {static_cast<std::int64_t>(v.size())}, t, Category::activation);
    x.copy_from_floats(v);
    return x;
  }
  Tensor poisoned(std::int64_t n, DType t) {
    Tensor x = Tensor::empty(arena_, {n}, t, Category::activation);
    x.fill(NAN);
    return x;
  }
  Tensor ids(const std::vector<std::int32_t>& v) {
    Tensor x = Tensor::empty(arena_, {static_cast<std::int64_t>(v.size())}, DType::i32,
                             Category::activation);
    x.copy_from_host(v.data(), v.size() * 4);
    return x;
  }
};

TEST_F(CudaElementwise, ResidualAndActivations) {
  for (DType t : kDtypes) {
    for (std::size_t n : {std::size_t{1}, std::size_t{37}, std::size_t{100003}}) {
      const auto a = round_to(t, random_values(n, 1, 4.0f)), b = round_to(t, random_values(n, 2));
      Tensor da = upload(a, t), db = upload(b, t), out = poisoned(static_cast<std::int64_t>(n), t);
      kernels::residual_forward_cuda(out.data(), da.data(), db.data(), n, t, nullptr);
      std::vector<float> want(n);
      kernels::residual_forward_cpu(want.data(), a.data(), b.data(), n);
      EXPECT_TRUE(close(out.to_floats(), want, tolerance(t))) << dtype_name(t) << " n=" << n;
      for (auto act : {kernels::Activation::relu, kernels::Activation::gelu_tanh,
                       kernels::Activation::gelu_erf}) {
        out.fill(NAN);
        kernels::activation_forward_cuda(out.data(), da.data(), n, act, t, nullptr);
        kernels::activation_forward_cpu(want.data(), a.data(), n, act);
        EXPECT_TRUE(close(out.to_floats(), want, tolerance(t)))
            << dtype_name(t) << " act " << static_cast<int>(act);
      }
    }
  }
}

TEST_F(CudaElementwise, LayerNormPlainAndFusedWithResidual) {
  for (DType t : kDtypes) {
    for (auto [N, C] : {std::pair<int, int>{1, 37}, {7, 768}, {130, 1023}, {3, 3073}}) {
      const auto x = round_to(t, random_values(N * C, 3, 3.0f));
      const auto r = round_to(t, random_values(N * C, 4));
      const auto w = round_to(t, random_values(C, 5)), b = round_to(t, random_values(C, 6));
      Tensor dx = upload(x, t), dr = upload(r, t), dw = upload(w, t), dbias = upload(b, t);
      Tensor out = poisoned(N * C, t), sum = poisoned(N * C, t);
      Tensor mean = poisoned(N, DType::f32), rstd = poisoned(N, DType::f32);
      // Plain.
      kernels::layernorm_forward_cuda(out.data(), static_cast<float*>(mean.data()),
                                      static_cast<float*>(rstd.data()), dx.data(), dw.data(),
                                      dbias.data(), N, C, 1e-5f, t, nullptr);
      std::vector<float> want(N * C), wmean(N), wrstd(N);
      kernels::layernorm_forward_cpu(want.data(), wmean.data(), wrstd.data(), x.data(), w.data(),
                                     b.data(), N, C, 1e-5f);
      SCOPED_TRACE(std::string(dtype_name(t)) + " N=" + std::to_string(N) +
                   " C=" + std::to_string(C));
      EXPECT_TRUE(close(out.to_floats(), want, 2 * tolerance(t)));
      EXPECT_TRUE(close(mean.to_floats(), wmean, 1e-5));
      EXPECT_TRUE(close(rstd.to_floats(), wrstd, 1e-5));
      // Fused: the reference adds, rounds the sum to the dtype, then normalises it.
      out.fill(NAN);
      kernels::layernorm_residual_forward_cuda(sum.data(), out.data(), nullptr, nullptr, dx.data(),
                                               dr.data(), dw.data(), dbias.data(), N, C, 1e-5f, t,
                                               nullptr);
      std::vector<float> s(N * C);
      kernels::residual_forward_cpu(s.data(), x.data(), r.data(), s.size());
      s = round_to(t, s);
      kernels::layernorm_forward_cpu(want.data(), nullptr, nullptr, s.data(), w.data(), b.data(), N,
                                     C, 1e-5f);
      EXPECT_TRUE(close(sum.to_floats(), s, 1e-6));
      EXPECT_TRUE(close(out.to_floats(), want, 2 * tolerance(t)));
    }
  }
}

TEST_F(CudaElementwise, SoftmaxRowsOfAnyLength) {
  for (DType t : kDtypes) {
    for (auto [rows, cols] : {std::pair<int, int>{3, 7}, {5, 1001}, {2, 50257}}) {
      const auto x = round_to(t, random_values(rows * cols, 7, 8.0f));
      Tensor dx = upload(x, t), out = poisoned(rows * cols, t);
      kernels::softmax_forward_cuda(out.data(), dx.data(), rows, cols, t, nullptr);
      std::vector<float> want(rows * cols);
      kernels::softmax_forward_cpu(want.data(), x.data(), rows, cols);
      const auto got = out.to_floats();
      EXPECT_TRUE(close(got, want, 2 * tolerance(t))) << dtype_name(t) << " cols " << cols;
      double row0 = 0;
      for (int c = 0; c < cols; ++c) row0 += got[c];
      EXPECT_NEAR(row0, 1.0, 1e-2);
    }
  }
}

TEST_F(CudaElementwise, EmbeddingWithPositionsAndTokenTypes) {
  const int B = 3, T = 11, C = 77, V = 50, P = 20;
  std::vector<std::int32_t> tok(B * T), pos(B * T), types(B * T);
  for (int i = 0; i < B * T; ++i) tok[i] = (i * 7) % V, pos[i] = i % T + 2, types[i] = i % 2;
  for (DType t : kDtypes) {
    const auto wte = round_to(t, random_values(V * C, 8)),
               wpe = round_to(t, random_values(P * C, 9));
    const auto wtt = round_to(t, random_values(2 * C, 10));
    Tensor dte = upload(wte, t), dpe = upload(wpe, t), dtt = upload(wtt, t);
    Tensor dtok = ids(tok), dpos = ids(pos), dtypes = ids(types), out = poisoned(B * T * C, t);
    kernels::EmbeddingArgs dev{B,
                               T,
                               C,
                               static_cast<const std::int32_t*>(dtok.data()),
                               static_cast<const std::int32_t*>(dpos.data()),
                               static_cast<const std::int32_t*>(dtypes.data())};
    kernels::embedding_forward_cuda(dev, out.data(), dte.data(), dpe.data(), dtt.data(), t,
                                    nullptr);
    kernels::EmbeddingArgs host{B, T, C, tok.data(), pos.data(), types.data()};
    std::vector<float> want(B * T * C);
    kernels::embedding_forward_cpu(host, want.data(), wte.data(), wpe.data(), wtt.data());
    EXPECT_TRUE(close(out.to_floats(), want, tolerance(t))) << dtype_name(t);
  }
}

TEST_F(CudaElementwise, DecodeAttentionAgainstTheCpu) {
  const int B = 2, Tq = 3, past = 70, H = 3, D = 64, C = H * D, t_max = 80;
  for (DType t : kDtypes) {
    const auto q = round_to(t, random_values(B * Tq * 3 * C, 11));  // a fused qkv buffer
    const auto k = round_to(t, random_values(B * t_max * C, 12));
    const auto v = round_to(t, random_values(B * t_max * C, 13));
    Tensor dq = upload(q, t), dk = upload(k, t), dv = upload(v, t), out = poisoned(B * Tq * C, t);
    kernels::DecodeCudaArgs a;
    a.B = B, a.Tq = Tq, a.past = past, a.H = H, a.D = D, a.q = dq.data(), a.q_stride = 3 * C;
    a.k_cache = dk.data(), a.v_cache = dv.data(), a.t_max = t_max, a.out = out.data();
    a.scale = 0.125f, a.dtype = t;
    kernels::attention_decode_cuda(a, nullptr);
    kernels::DecodeArgs<float> h;
    std::vector<float> want(B * Tq * C);
    h.B = B, h.Tq = Tq, h.past = past, h.H = H, h.D = D, h.q = q.data(), h.q_stride = 3 * C;
    h.k_cache = k.data(), h.v_cache = v.data(), h.t_max = t_max, h.out = want.data();
    h.scale = 0.125f;
    kernels::attention_decode_cpu(h);
    EXPECT_TRUE(close(out.to_floats(), want, 2 * tolerance(t))) << dtype_name(t);
  }
}

TEST_F(CudaElementwise, RejectsF64) {
  Tensor x = Tensor::empty(arena_, {4}, DType::f32, Category::activation);
  EXPECT_THROW(kernels::residual_forward_cuda(x.data(), x.data(), x.data(), 1, DType::f64, nullptr),
               Error);
  EXPECT_THROW(kernels::softmax_forward_cuda(x.data(), x.data(), 1, 1, DType::i32, nullptr), Error);
}

}  // namespace
}  // namespace cugpt
