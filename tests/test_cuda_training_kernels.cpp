// The GPU half of training's kernels against the cpu: every CUDA backward kernel and optimizer
// update against its CPU twin fed the same dtype-rounded random inputs (never zeros), in f32,
// bf16 and f16, at odd sizes, with outputs poisoned (NaN) and guarded so that an unwritten
// element or a stray write fails; bit-reproducibility of the deterministic reductions. The
// whole-model steps are in test_cuda_training_models.cpp. Skipped, with the reason, without a
// GPU.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/activation.h"
#include "kernels/adamw.h"
#include "kernels/attention.h"
#include "kernels/cross_entropy.h"
#include "kernels/embedding.h"
#include "kernels/layernorm.h"
#include "kernels/matmul.h"
#include "tests/gpu_test.h"

namespace cugpt {
namespace {

using testing::close;
using testing::DeviceArray;
using testing::identical;
using testing::tolerance;

constexpr DType kDtypes[] = {DType::f32, DType::bf16, DType::f16};

std::vector<float> rnd(std::size_t n, unsigned seed, DType t, float scale = 1.0f) {
  return testing::round_to(t, testing::random_values(n, seed, scale));
}

class CudaTrainingKernels : public testing::CudaTest {
 protected:
  void SetUp() override {
    CudaTest::SetUp();
    if (IsSkipped()) return;
    arena_ = Arena::create(Device::cuda(0), 1ull << 30);
  }

 public:  // for check_attention
  DeviceArray array(std::size_t n, DType t, std::size_t offset = 0) {
    return DeviceArray(arena_, n, t, offset);
  }
  DeviceArray up(const std::vector<float>& v, DType t, std::size_t offset = 0) {
    DeviceArray a(arena_, v.size(), t, offset);
    a.upload(v);
    return a;
  }
  Tensor ints(const std::vector<std::int32_t>& v) {
    Tensor t =
        Tensor::empty(arena_, {std::max<std::int64_t>(1, static_cast<std::int64_t>(v.size()))},
                      DType::i32, Category::activation);
    if (!v.empty()) t.copy_from_host(v.data(), v.size() * 4);
    return t;
  }
  Tensor scratch(std::size_t n, DType t) {
    return Tensor::empty(arena_, {static_cast<std::int64_t>(n)}, t, Category::workspace);
  }
  std::shared_ptr<Arena> arena_;
};

TEST_F(CudaTrainingKernels, MatmulBackwardMatchesCpu) {
  struct Case {
    int N, IC, OC;
    bool w_in_out, bias, need_dx;
    std::size_t offset;
  };
  const Case cases[] = {{1, 1, 1, false, true, true, 0},     {37, 29, 53, false, true, true, 0},
                        {37, 29, 53, true, true, true, 1},   {130, 96, 200, true, false, false, 0},
                        {64, 128, 80, false, true, true, 0}, {67, 256, 768, true, true, true, 0}};
  Tensor ws = scratch(kernels::kMatmulWorkspaceBytes / 4, DType::f32);
  for (DType t : kDtypes) {
    for (const Case& c : cases) {
      SCOPED_TRACE(std::string(dtype_name(t)) + " N=" + std::to_string(c.N) +
                   " IC=" + std::to_string(c.IC) + " OC=" + std::to_string(c.OC) +
                   (c.w_in_out ? " in_out" : " out_in") + " offset=" + std::to_string(c.offset));
      const std::size_t nx = std::size_t(c.N) * c.IC, nw = std::size_t(c.IC) * c.OC,
                        no = std::size_t(c.N) * c.OC;
      const auto x = rnd(nx, 1, t), w = rnd(nw, 2, t), g = rnd(no, 3, t), dw0 = rnd(nw, 4, t),
                 db0 = rnd(c.OC, 5, t);
      std::vector<float> dx(nx), dw = dw0, db = db0;
      kernels::matmul_backward_cpu(c.need_dx ? dx.data() : nullptr, dw.data(),
                                   c.bias ? db.data() : nullptr, g.data(), x.data(), w.data(), c.N,
                                   c.IC, c.OC, c.w_in_out);
      DeviceArray gx = up(x, t, c.offset), gw = up(w, t, c.offset), gg = up(g, t, c.offset),
                  gdw = up(dw0, t, c.offset), gdb = up(db0, t, c.offset),
                  gdx = array(nx, t, c.offset);
      kernels::matmul_backward_cuda(c.need_dx ? gdx.ptr() : nullptr, gdw.ptr(),
                                    c.bias ? gdb.ptr() : nullptr, gg.ptr(), gx.ptr(), gw.ptr(), c.N,
                                    c.IC, c.OC, c.w_in_out, t, {ws.data(), ws.nbytes()}, nullptr);
      const double tol = tolerance(t);
      if (c.need_dx) {
        EXPECT_TRUE(close(gdx.download(), dx, tol)) << "dx";
      }
      EXPECT_TRUE(close(gdw.download(), dw, tol)) << "dw";
      EXPECT_TRUE(c.bias ? close(gdb.download(), db, tol) : identical(gdb.download(), db0)) << "db";
      if (!c.need_dx) {
        for (float v : gdx.download()) ASSERT_TRUE(std::isnan(v)) << "dx written without need";
      }
    }
  }
}

TEST_F(CudaTrainingKernels, LayerNormBackwardMatchesCpuAndIsReproducible) {
  const std::pair<int, int> sizes[] = {{1, 7},     {37, 64},  {70, 768},
                                       {130, 100}, {5, 3000}, {8200, 40}};
  for (DType t : kDtypes) {
    for (const auto& [N, C] : sizes) {
      SCOPED_TRACE(std::string(dtype_name(t)) + " N=" + std::to_string(N) +
                   " C=" + std::to_string(C));
      const std::size_t n = std::size_t(N) * C;
      std::vector<float> x = testing::random_values(n, 1, 2.0f);
      for (auto& v : x) v += 0.5f;  // a row mean away from zero
      x = testing::round_to(t, x);
      const auto w = rnd(C, 2, t), b = rnd(C, 3, t), g = rnd(n, 4, t), dw0 = rnd(C, 5, t),
                 db0 = rnd(C, 6, t);
      std::vector<float> tmp(n), mean(N), rstd(N), dx(n), dw = dw0, db = db0;
      kernels::layernorm_forward_cpu(tmp.data(), mean.data(), rstd.data(), x.data(), w.data(),
                                     b.data(), N, C, 1e-5f);
      kernels::layernorm_backward_cpu(dx.data(), dw.data(), db.data(), g.data(), x.data(), w.data(),
                                      mean.data(), rstd.data(), N, C);
      DeviceArray gx = up(x, t), gw = up(w, t), gg = up(g, t), gm = up(mean, DType::f32),
                  gr = up(rstd, DType::f32);
      Tensor ws = scratch(kernels::layernorm_backward_workspace_floats(N, C), DType::f32);
      const auto run = [&](void* dxp, void* dwp, void* dbp, const void* gp) {
        kernels::layernorm_backward_cuda(dxp, dwp, dbp, gp, gx.ptr(), gw.ptr(), gm.f32(), gr.f32(),
                                         N, C, static_cast<float*>(ws.data()), t, nullptr);
      };
      DeviceArray gdx = array(n, t), gdw = up(dw0, t), gdb = up(db0, t);
      run(gdx.ptr(), gdw.ptr(), gdb.ptr(), gg.ptr());
      const auto got_dx = gdx.download(), got_dw = gdw.download(), got_db = gdb.download();
      const double tol = tolerance(t);
      EXPECT_TRUE(close(got_dx, dx, tol)) << "dx";
      EXPECT_TRUE(close(got_dw, dw, tol)) << "dweight";
      EXPECT_TRUE(close(got_db, db, tol)) << "dbias";
      // Same inputs, same bits: the parameter gradients are reduced without atomics.
      DeviceArray gdx2 = array(n, t), gdw2 = up(dw0, t), gdb2 = up(db0, t);
      run(gdx2.ptr(), gdw2.ptr(), gdb2.ptr(), gg.ptr());
      EXPECT_TRUE(identical(gdx2.download(), got_dx));
      EXPECT_TRUE(identical(gdw2.download(), got_dw));
      EXPECT_TRUE(identical(gdb2.download(), got_db));
      // In place (dx aliases dout), parameter gradients skipped.
      DeviceArray io = up(g, t);
      run(io.ptr(), nullptr, nullptr, io.ptr());
      EXPECT_TRUE(identical(io.download(), got_dx)) << "in place";
    }
  }
}

TEST_F(CudaTrainingKernels, ActivationBackwardMatchesCpu) {
  using kernels::Activation;
  for (DType t : kDtypes)
    for (Activation act : {Activation::relu, Activation::gelu_tanh, Activation::gelu_erf})
      for (std::size_t n : {1, 7, 1000, 4099})
        for (std::size_t off : {0, 1}) {
          SCOPED_TRACE(std::string(dtype_name(t)) + " act " + std::to_string(int(act)) +
                       " n=" + std::to_string(n) + " offset=" + std::to_string(off));
          const auto x = rnd(n, 1, t, 3.0f), g = rnd(n, 2, t);
          std::vector<float> dx(n);
          kernels::activation_backward_cpu(dx.data(), g.data(), x.data(), n, act);
          DeviceArray gx = up(x, t, off), gg = up(g, t, off), gdx = array(n, t, off);
          kernels::activation_backward_cuda(gdx.ptr(), gg.ptr(), gx.ptr(), n, act, t, nullptr);
          EXPECT_TRUE(close(gdx.download(), dx, tolerance(t)));
          kernels::activation_backward_cuda(gg.ptr(), gg.ptr(), gx.ptr(), n, act, t, nullptr);
          EXPECT_TRUE(close(gg.download(), dx, tolerance(t))) << "in place";
        }
}

struct AttnCase {
  DType t;
  int B, T, H, D;
  bool causal, mask, fused;
};

// q, k, v (and dq, dk, dv) in (B, T, width) buffers with extra columns that must stay NaN: one
// fused buffer (q | k | v | 5 spare) or three (head columns | 3 spare).
void check_attention(CudaTrainingKernels& f, const AttnCase& c, bool twice) {
  std::ostringstream name;
  name << dtype_name(c.t) << " B=" << c.B << " T=" << c.T << " H=" << c.H << " D=" << c.D
       << (c.causal ? " causal" : "") << (c.mask ? " masked" : "") << (c.fused ? " fused" : "");
  SCOPED_TRACE(name.str());
  const int C = c.H * c.D, width = c.fused ? 3 * C + 5 : C + 3;
  const std::size_t rows = std::size_t(c.B) * c.T, n = rows * width;
  const int nbuf = c.fused ? 1 : 3;
  std::vector<std::vector<float>> in;
  for (int i = 0; i < nbuf; ++i) in.push_back(rnd(n, 11 + i, c.t, i == 0 ? 2.0f : 1.0f));
  const auto dout = rnd(rows * C, 20, c.t);
  std::vector<std::int32_t> mask(rows, 1);
  for (int b = 0; b < c.B; ++b)
    for (int j = 0; j < c.T; ++j)
      mask[b * c.T + j] = b == 2 ? 0 : ((j + b) % 3 != 1 && !(b == 0 && j == 0));
  const auto col = [&](int which) { return c.fused ? which * C : 0; };
  const auto buf = [&](int which) { return c.fused ? 0 : which; };
  // CPU reference: gradient buffers pre-filled with NaN, like the device's.
  std::vector<std::vector<float>> ref(nbuf, std::vector<float>(n, NAN));
  kernels::AttentionBackwardArgs<float> a;
  a.B = c.B, a.T = c.T, a.H = c.H, a.D = c.D, a.row_stride = width, a.causal = c.causal;
  a.q = in[buf(0)].data() + col(0), a.k = in[buf(1)].data() + col(1);
  a.v = in[buf(2)].data() + col(2), a.dout = dout.data();
  a.dq = ref[buf(0)].data() + col(0), a.dk = ref[buf(1)].data() + col(1);
  a.dv = ref[buf(2)].data() + col(2);
  a.key_mask = c.mask ? mask.data() : nullptr;
  a.scale = 1.0f / std::sqrt(static_cast<float>(c.D));
  kernels::attention_backward_cpu(a);

  std::vector<DeviceArray> gin, gout;
  for (int i = 0; i < nbuf; ++i) gin.push_back(f.up(in[i], c.t)), gout.push_back(f.array(n, c.t));
  DeviceArray gdout = f.up(dout, c.t);
  Tensor gmask = f.ints(mask);
  Tensor ws = f.scratch(kernels::attention_backward_workspace_floats(c.B, c.H, c.T), DType::f32);
  const auto elem = [&](DeviceArray& d, int column) {
    return static_cast<char*>(d.ptr()) + std::size_t(column) * dtype_size(c.t);
  };
  const auto run = [&](std::vector<DeviceArray>& outs) {
    kernels::AttentionBackwardCudaArgs g;
    g.B = c.B, g.T = c.T, g.H = c.H, g.D = c.D, g.row_stride = width, g.causal = c.causal;
    g.q = elem(gin[buf(0)], col(0)), g.k = elem(gin[buf(1)], col(1));
    g.v = elem(gin[buf(2)], col(2)), g.dout = gdout.ptr();
    g.dq = elem(outs[buf(0)], col(0)), g.dk = elem(outs[buf(1)], col(1));
    g.dv = elem(outs[buf(2)], col(2));
    g.key_mask = c.mask ? static_cast<const std::int32_t*>(gmask.data()) : nullptr;
    g.scale = a.scale, g.dtype = c.t, g.workspace = static_cast<float*>(ws.data());
    kernels::attention_backward_cuda(g, nullptr);
  };
  run(gout);
  // Scaled error per gradient over its own columns; every other column still NaN.
  const char* names[] = {"dq", "dk", "dv"};
  const auto columns = [&](const std::vector<std::vector<float>>& all, int which) {
    std::vector<float> out;
    for (std::size_t r = 0; r < rows; ++r)
      for (int d = 0; d < C; ++d) out.push_back(all[buf(which)][r * width + col(which) + d]);
    return out;
  };
  std::vector<std::vector<float>> got;
  for (int i = 0; i < nbuf; ++i) got.push_back(gout[i].download());
  for (int which = 0; which < 3; ++which)
    EXPECT_TRUE(close(columns(got, which), columns(ref, which), 2 * tolerance(c.t)))
        << names[which];
  for (int i = 0; i < nbuf; ++i)
    for (std::size_t r = 0; r < rows; ++r)
      for (int d = c.fused ? 3 * C : C; d < width; ++d)
        ASSERT_TRUE(std::isnan(got[i][r * width + d])) << "spare column " << d << " written";
  if (!twice) return;
  std::vector<DeviceArray> again;
  for (int i = 0; i < nbuf; ++i) again.push_back(f.array(n, c.t));
  run(again);
  std::vector<std::vector<float>> got2;
  for (int i = 0; i < nbuf; ++i) got2.push_back(again[i].download());
  for (int which = 0; which < 3; ++which)
    EXPECT_TRUE(identical(columns(got2, which), columns(got, which))) << "rerun " << names[which];
}

TEST_F(CudaTrainingKernels, AttentionBackwardMatchesCpu) {
  for (DType t : kDtypes) {
    for (int D : {8, 32, 64, 80, 96, 128}) {
      check_attention(*this, {t, 2, 17, 2, D, true, false, true}, false);
      check_attention(*this, {t, 3, 70, 2, D, false, true, false}, false);
    }
    check_attention(*this, {t, 2, 129, 2, 64, true, true, true}, true);
    check_attention(*this, {t, 1, 129, 1, 128, false, false, false}, false);
    check_attention(*this, {t, 3, 33, 3, 16, true, true, true}, false);
    check_attention(*this, {t, 1, 1, 1, 32, true, false, true}, false);
  }
}

TEST_F(CudaTrainingKernels, EmbeddingBackwardMatchesCpu) {
  for (DType t : kDtypes)
    for (int C : {37, 200}) {
      SCOPED_TRACE(std::string(dtype_name(t)) + " C=" + std::to_string(C));
      kernels::EmbeddingArgs a;
      a.B = 3, a.T = 13, a.C = C;
      const int N = a.B * a.T, V = 11;
      std::vector<std::int32_t> tokens(N), positions(N);
      for (int i = 0; i < N; ++i) tokens[i] = (i * 7 + i / 5) % V, positions[i] = i % a.T;
      a.tokens = tokens.data(), a.positions = positions.data();
      const auto g = rnd(std::size_t(N) * C, 1, t), wte0 = rnd(std::size_t(V) * C, 2, t),
                 wpe0 = rnd(std::size_t(a.T) * C, 3, t);
      std::vector<float> wte = wte0, wpe = wpe0;
      kernels::embedding_backward_cpu(a, g.data(), wte.data(), wpe.data(), nullptr);
      const std::size_t per = kernels::embedding_groups_ints(N);
      std::vector<std::int32_t> groups(2 * per);
      const int nt = kernels::group_embedding_rows(tokens.data(), N, groups.data());
      const int np = kernels::group_embedding_rows(positions.data(), N, groups.data() + per);
      EXPECT_EQ(nt, V);
      EXPECT_EQ(np, a.T);
      Tensor gg_ints = ints(groups);
      const auto* base = static_cast<const std::int32_t*>(gg_ints.data());
      DeviceArray gg = up(g, t), gwte = up(wte0, t), gwpe = up(wpe0, t);
      kernels::embedding_backward_cuda(gg.ptr(), C, gwte.ptr(),
                                       kernels::embedding_groups_at(base, N, nt), t, nullptr);
      kernels::embedding_backward_cuda(gg.ptr(), C, gwpe.ptr(),
                                       kernels::embedding_groups_at(base + per, N, np), t, nullptr);
      if (t == DType::f32) {  // the CPU twin's additions in the CPU twin's order
        EXPECT_TRUE(identical(gwte.download(), wte));
        EXPECT_TRUE(identical(gwpe.download(), wpe));
      } else {
        EXPECT_TRUE(close(gwte.download(), wte, tolerance(t)));
        EXPECT_TRUE(close(gwpe.download(), wpe, tolerance(t)));
      }
    }
}

TEST_F(CudaTrainingKernels, CrossEntropyMatchesCpu) {
  const std::pair<int, int> sizes[] = {{1, 1}, {5, 97}, {37, 1000}, {3, 50257}};
  for (DType t : kDtypes)
    for (const auto& [N, V] : sizes) {
      SCOPED_TRACE(std::string(dtype_name(t)) + " N=" + std::to_string(N) +
                   " V=" + std::to_string(V));
      std::vector<std::int32_t> targets(N);
      for (int i = 0; i < N; ++i) targets[i] = i % 4 == 3 ? -1 : (i * 7919 + 3) % V;
      const std::size_t n = std::size_t(N) * V;
      const auto logits = rnd(n, 1, t, 4.0f);
      std::vector<float> losses(N), dl(n);
      kernels::cross_entropy_forward_backward_cpu(losses.data(), dl.data(), logits.data(),
                                                  targets.data(), N, V, -1, 0.25f);
      Tensor gt = ints(targets);
      const auto* tp = static_cast<const std::int32_t*>(gt.data());
      DeviceArray gl = up(logits, t), gdl = array(n, t), gloss = array(N, DType::f32);
      kernels::cross_entropy_forward_backward_cuda(gloss.f32(), gdl.ptr(), gl.ptr(), tp, N, V, -1,
                                                   0.25f, t, nullptr);
      EXPECT_TRUE(close(gloss.download(), losses, 1e-5)) << "losses";
      EXPECT_TRUE(close(gdl.download(), dl, tolerance(t))) << "dlogits";
      DeviceArray gloss2 = array(N, DType::f32);  // in place, as training runs it
      kernels::cross_entropy_forward_backward_cuda(gloss2.f32(), gl.ptr(), gl.ptr(), tp, N, V, -1,
                                                   0.25f, t, nullptr);
      EXPECT_TRUE(close(gloss2.download(), losses, 1e-5)) << "losses in place";
      EXPECT_TRUE(close(gl.download(), dl, tolerance(t))) << "dlogits in place";
    }
}

TEST_F(CudaTrainingKernels, OptimizerUpdatesMatchCpu) {
  const std::size_t n = 1003;
  for (DType t : kDtypes)
    for (int kind = 0; kind < 3; ++kind) {  // AdamW, SGD with momentum, plain SGD
      SCOPED_TRACE(std::string(dtype_name(t)) + " optimizer " + std::to_string(kind));
      const auto p0 = rnd(n, 1, t), g = rnd(n, 2, t, 0.1f);
      std::vector<float> master = p0, m(n, 0.f), v(n, 0.f);
      DeviceArray gp = up(p0, t), gg = up(g, t), gm = up(m, DType::f32), gv = up(v, DType::f32);
      const bool wide = t == DType::f32;
      DeviceArray gmaster = array(n, DType::f32);
      float* mp = wide ? nullptr : gmaster.f32();
      if (!wide) {
        kernels::copy_to_master_cuda(mp, gp.ptr(), n, t, nullptr);
        EXPECT_TRUE(identical(gmaster.download(), p0)) << "master copy";
      }
      kernels::AdamwHyper h;
      h.lr = 1e-2f, h.weight_decay = 0.1f, h.grad_scale = 0.5f;
      for (long step = 1; step <= 3; ++step) {
        h.step = step;
        if (kind == 0) {
          kernels::adamw_step_cpu(master.data(), g.data(), m.data(), v.data(), n, h);
          kernels::adamw_step_cuda(gp.ptr(), gg.ptr(), gm.f32(), gv.f32(), mp, n, h, t, nullptr);
        } else {
          float* buf = kind == 1 ? m.data() : nullptr;
          kernels::sgd_step_cpu(master.data(), g.data(), buf, n, h.lr, 0.9f, 0.1f, 0.5f);
          kernels::sgd_step_cuda(gp.ptr(), gg.ptr(), kind == 1 ? gm.f32() : nullptr, mp, n, h.lr,
                                 0.9f, 0.1f, 0.5f, t, nullptr);
        }
      }
      EXPECT_TRUE(close(gp.download(), testing::round_to(t, master), tolerance(t))) << "param";
      if (!wide) {
        EXPECT_TRUE(close(gmaster.download(), master, 1e-6)) << "master";
      }
      if (kind < 2) {
        EXPECT_TRUE(close(gm.download(), m, 1e-6)) << "m / momentum";
      }
      if (kind == 0) {
        EXPECT_TRUE(close(gv.download(), v, 1e-6)) << "v";
      }
    }
}

TEST_F(CudaTrainingKernels, SumOfSquaresMatchesCpuAndSeesOverflow) {
  // f64 tensors are cpu-only: doubles in an f32 tensor of twice the elements.
  Tensor out = scratch(2 * (1 + kernels::kSumSquaresBlocks), DType::f32);
  auto* o = static_cast<double*>(out.data());
  const auto sum = [&](DeviceArray& x, std::size_t n, DType t) {
    kernels::sum_squares_cuda(x.ptr(), n, t, o, o + 1, nullptr);
    double r = 0;
    cuda_memcpy_d2h(&r, o, sizeof r);
    return r;
  };
  for (DType t : kDtypes)
    for (std::size_t n : {0, 1, 1000, 1000003}) {
      auto x = rnd(n, 5, t);
      double want = 0;
      for (float v : x) want += double(v) * v;
      DeviceArray gx = up(x, t);
      EXPECT_NEAR(sum(gx, n, t), want, 1e-12 * std::max(want, 1.0)) << dtype_name(t) << " " << n;
      if (n < 1000) continue;
      x[n / 2] = INFINITY;
      DeviceArray inf = up(x, t);
      EXPECT_TRUE(std::isinf(sum(inf, n, t))) << dtype_name(t);
      x[n / 3] = NAN;
      DeviceArray nan = up(x, t);
      EXPECT_TRUE(std::isnan(sum(nan, n, t))) << dtype_name(t);
    }
}

}  // namespace
}  // namespace cugpt
