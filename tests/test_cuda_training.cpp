// The GPU half of training against the cpu: every CUDA backward kernel and optimizer update
// against its CPU twin fed the same dtype-rounded random inputs (never zeros), in f32, bf16 and
// f16, at odd sizes, with outputs poisoned (NaN) and guarded so that an unwritten element or a
// stray write fails; bit-reproducibility of the deterministic reductions; a whole tiny-model
// step on cuda against the cpu; bf16 training that learns; f16 loss scaling that skips an
// overflowing step and halves the scale. Skipped, with the reason, without a GPU.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/activation.h"
#include "kernels/adamw.h"
#include "kernels/attention.h"
#include "kernels/cross_entropy.h"
#include "kernels/embedding.h"
#include "kernels/layernorm.h"
#include "kernels/matmul.h"
#include "models/factory.h"
#include "models/init.h"
#include "models/weights.h"
#include "tests/byte_text.h"
#include "tests/gpu_test.h"
#include "train/memory_plan.h"
#include "train/trainer.h"

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

// ------------------------------------------------------------------------------------------
// Whole models.

const std::string kGolden = std::string(CUGPT_SOURCE_DIR) + "/tests/data/golden/";

struct ModelRun {
  std::shared_ptr<Arena> arena;
  std::unique_ptr<Gpt> model;
  std::unique_ptr<Training> training;
  Gpt& gpt() { return *model; }
  Gradients& grads() { return training->grads; }
  Optimizer& opt() { return training->opt; }
};

ModelRun make_run(Device d, DType t, const ModelConfig& config, const std::string& weights,
                  const OptimizerOptions& o) {
  ModelRun r;
  r.arena = Arena::create(d, 256ull << 20);
  r.model = build_gpt(config, r.arena, t);
  LoadOptions lo;
  lo.convert_dtype = true;
  load_weights(*r.model, weights, lo);
  r.training = std::make_unique<Training>(make_training(*r.model, o));
  return r;
}

// The golden training input of a tiny model, and a second micro-batch (each row reversed).
std::vector<std::pair<Batch, std::vector<std::int32_t>>> golden_batches(const std::string& name) {
  std::ifstream in(kGolden + name + "/train_input.json");
  const auto j = nlohmann::json::parse(in);
  const auto rows = j.at("tokens").get<std::vector<std::vector<std::int32_t>>>();
  const auto trows = j.at("targets").get<std::vector<std::vector<std::int32_t>>>();
  std::vector<std::pair<Batch, std::vector<std::int32_t>>> out(2);
  for (int k = 0; k < 2; ++k) {
    Batch& b = out[k].first;
    b.B = static_cast<std::int64_t>(rows.size());
    b.T = static_cast<std::int64_t>(rows[0].size());
    for (std::size_t r = 0; r < rows.size(); ++r) {
      auto tok = rows[r], tgt = trows[r];
      if (k == 1) std::reverse(tok.begin(), tok.end()), std::reverse(tgt.begin(), tgt.end());
      b.tokens.insert(b.tokens.end(), tok.begin(), tok.end());
      out[k].second.insert(out[k].second.end(), tgt.begin(), tgt.end());
    }
  }
  return out;
}

// name, and whether to run it with 32-wide heads (the tiled attention kernels) instead of the
// config's own 8-wide ones.
class CudaTrainingModel : public testing::CudaTest,
                          public ::testing::WithParamInterface<std::tuple<const char*, bool>> {};

TEST_P(CudaTrainingModel, TinyStepMatchesCpu) {
  const auto [name, wide_heads] = GetParam();
  ModelConfig config = load_config(name);
  if (wide_heads) config.n_head = config.n_embd / 32;
  const std::string weights = kGolden + std::string(name) + "/weights.safetensors";
  OptimizerOptions o;
  o.kind = OptimizerKind::sgd;  // linear in the gradients: updated weights compare tightly
  o.lr = 0.1;
  o.clip = 0;
  ModelRun cpu = make_run(Device::cpu(), DType::f32, config, weights, o);
  ModelRun gpu = make_run(Device::cuda(0), DType::f32, config, weights, o);
  double loss_cpu = 0, loss_gpu = 0;
  for (const auto& [batch, targets] : golden_batches(name)) {  // two micro-batches accumulate
    loss_cpu += cpu.gpt().forward_backward(batch, targets, cpu.grads(), 0, 0.5);
    loss_gpu += gpu.gpt().forward_backward(batch, targets, gpu.grads(), 0, 0.5);
  }
  EXPECT_NEAR(loss_gpu, loss_cpu, 1e-5 * std::fabs(loss_cpu));
  const auto cp = cpu.model->named_parameters(), gp = gpu.model->named_parameters();
  ASSERT_EQ(cp.size(), gp.size());
  for (std::size_t i = 0; i < cp.size(); ++i)
    EXPECT_TRUE(close(gpu.grads().of(gp[i].tensor).to_floats(),
                      cpu.grads().of(cp[i].tensor).to_floats(), 1e-4))
        << cp[i].name;
  const double norm_gpu = gpu.opt().step(gpu.grads(), 0.1),
               norm_cpu = cpu.opt().step(cpu.grads(), 0.1);
  EXPECT_NEAR(norm_gpu, norm_cpu, 1e-5 * norm_cpu);
  for (std::size_t i = 0; i < cp.size(); ++i)
    EXPECT_TRUE(close(gp[i].tensor.to_floats(), cp[i].tensor.to_floats(), 1e-5)) << cp[i].name;
}

INSTANTIATE_TEST_SUITE_P(Tiny, CudaTrainingModel,
                         ::testing::Combine(::testing::Values("gpt-day18-tiny", "gpt2-tiny"),
                                            ::testing::Bool()));

class CudaTraining : public testing::CudaTest {};

// The loss in chunks of rows on the card (ops::rows, write_rows, a chunk counting no target)
// equals the cpu's loss in one piece.
TEST_F(CudaTraining, ChunkedLossMatchesCpu) {
  for (const char* name : {"gpt-day18-tiny", "gpt2-tiny"}) {
    SCOPED_TRACE(name);
    const ModelConfig config = load_config(name);
    const std::string weights = kGolden + std::string(name) + "/weights.safetensors";
    auto [batch, targets] = golden_batches(name)[0];
    for (int i = 0; i < 5; ++i) targets[static_cast<std::size_t>(i)] = -1;
    ModelRun cpu = make_run(Device::cpu(), DType::f32, config, weights, OptimizerOptions{});
    ModelRun gpu = make_run(Device::cuda(0), DType::f32, config, weights, OptimizerOptions{});
    const double loss_cpu = cpu.gpt().forward_backward(batch, targets, cpu.grads());
    const double loss_gpu = gpu.gpt().forward_backward(batch, targets, gpu.grads(), 0, 1.0, -1, 5);
    EXPECT_NEAR(loss_gpu, loss_cpu, 1e-5 * std::fabs(loss_cpu));
    const auto cp = cpu.model->named_parameters(), gp = gpu.model->named_parameters();
    for (std::size_t i = 0; i < cp.size(); ++i)
      EXPECT_TRUE(close(gpu.grads().of(gp[i].tensor).to_floats(),
                        cpu.grads().of(cp[i].tensor).to_floats(), 1e-4))
          << cp[i].name;
  }
}

// Deterministic kernels: a rerun, and every recompute level, give the same gradient bits.
TEST_F(CudaTraining, GradientsAreBitReproducible) {
  ModelConfig config = load_config("gpt2-tiny");
  config.n_head = 1;
  const std::string weights = kGolden + "gpt2-tiny/weights.safetensors";
  const auto batches = golden_batches("gpt2-tiny");
  for (DType t : {DType::f32, DType::bf16}) {
    std::vector<std::vector<float>> first;
    for (int level : {0, 0, 1, 2, 3}) {
      ModelRun r = make_run(Device::cuda(0), t, config, weights, OptimizerOptions{});
      r.gpt().forward_backward(batches[0].first, batches[0].second, r.grads(), level);
      std::size_t k = 0;
      for (const auto& p : r.model->named_parameters()) {
        const auto g = r.grads().of(p.tensor).to_floats();
        if (first.size() <= k)
          first.push_back(g);
        else
          EXPECT_TRUE(identical(g, first[k]))
              << dtype_name(t) << " level " << level << " " << p.name;
        ++k;
      }
    }
  }
}

// Every allocation of the CUDA step (workspaces included) happens on meta too: the meta
// prediction of a training step is the cuda arena's measurement, byte for byte.
TEST_F(CudaTraining, ArenaEqualsTheMetaPrediction) {
  for (const auto& [name, t] :
       {std::make_pair("gpt2-124m", DType::bf16), std::make_pair("gpt-day18", DType::f16),
        std::make_pair("gpt2-tiny", DType::f32)}) {
    MemoryQuery q;
    q.dtype = t;
    q.batch = 2;
    q.seq = std::min<std::int64_t>(67, load_config(name).max_positions - 1);
    q.recompute = 1;
    const MemoryResult predicted = simulate_memory(load_config(name), q);
    q.device = Device::cuda(0);
    const MemoryResult measured = simulate_memory(load_config(name), q);
    EXPECT_EQ(predicted.peak, measured.peak) << name;
    EXPECT_EQ(predicted.at_peak, measured.at_peak) << name;
    EXPECT_EQ(predicted.at_end, measured.at_end) << name;
    EXPECT_EQ(predicted.peak_at, measured.peak_at) << name;
  }
}

struct ByteRun {
  std::unique_ptr<Dataset> data;  // the trainer keeps a reference: it must not move
  std::shared_ptr<Arena> arena;
  std::unique_ptr<Gpt> model;
  std::unique_ptr<Trainer> trainer;
};

ByteRun byte_run(DType t, const TrainOptions& o) {
  const std::string text = byte_text();
  ByteRun r;
  r.data = std::make_unique<Dataset>(Dataset::from_tokens({text.begin(), text.end()}, 256));
  ModelConfig config = load_config("gpt2-bytes-tiny");
  config.n_head = 2;  // 32-wide heads
  r.arena = Arena::create(Device::cuda(0), 256ull << 20);
  r.model = build_gpt(config, r.arena, t);
  init_parameters(*r.model, 1);
  r.trainer = std::make_unique<Trainer>(*r.model, *r.data, o);
  return r;
}

// 16-bit parameters are their f32 master weights, rounded.
void expect_params_are_rounded_masters(Model& model, const Optimizer& opt, DType t) {
  const auto params = model.named_parameters();
  ASSERT_EQ(opt.master_weights().size(), params.size());
  for (std::size_t i = 0; i < params.size(); ++i)
    EXPECT_TRUE(identical(params[i].tensor.to_floats(),
                          testing::round_to(t, opt.master_weights()[i].to_floats())))
        << params[i].name;
}

TEST_F(CudaTraining, Bf16TinyModelLearns) {
  TrainOptions o;
  o.steps = 50, o.batch = 8, o.seq = 32, o.warmup = 5, o.optim.lr = 3e-3;
  ByteRun r = byte_run(DType::bf16, o);
  EXPECT_FALSE(r.trainer->optimizer().loss_scaling());  // bf16: no loss scaling
  const double before = r.trainer->evaluate();
  while (r.trainer->steps_done() < o.steps) EXPECT_FALSE(r.trainer->step().skipped);
  const double after = r.trainer->evaluate();
  std::printf("bf16 on cuda: validation loss %.3f -> %.3f after %lld steps\n", before, after,
              static_cast<long long>(o.steps));
  EXPECT_TRUE(std::isfinite(after));
  EXPECT_LT(after, before - 1.0);
  expect_params_are_rounded_masters(*r.model, r.trainer->optimizer(), DType::bf16);
}

TEST_F(CudaTraining, F16OverflowSkipsTheStepAndHalvesTheScale) {
  TrainOptions o;
  o.steps = 100, o.batch = 8, o.seq = 32, o.warmup = 5, o.optim.lr = 3e-3;
  const double init = std::ldexp(1.0, 40);  // dlogits alone overflow f16 at this scale
  o.optim.loss_scale_init = init;
  ByteRun r = byte_run(DType::f16, o);
  Optimizer& opt = r.trainer->optimizer();
  ASSERT_TRUE(opt.loss_scaling());  // automatic for f16
  std::vector<std::vector<float>> before;
  for (const auto& p : r.model->named_parameters()) before.push_back(p.tensor.to_floats());
  StepReport rep = r.trainer->step();
  EXPECT_TRUE(rep.skipped);
  EXPECT_EQ(rep.skipped_steps, 1);
  EXPECT_EQ(rep.loss_scale, init);
  EXPECT_EQ(opt.loss_scale(), init / 2);
  EXPECT_TRUE(std::isfinite(rep.loss));
  std::size_t k = 0;
  for (const auto& p : r.model->named_parameters())
    EXPECT_TRUE(identical(p.tensor.to_floats(), before[k++])) << "skipped step moved " << p.name;
  // Halving until the gradients fit in f16, then an applied step.
  std::int64_t skipped = 1;
  while (rep.skipped && r.trainer->steps_done() < 60) {
    rep = r.trainer->step();
    if (rep.skipped) ++skipped;
    EXPECT_EQ(rep.skipped_steps, skipped);
  }
  ASSERT_FALSE(rep.skipped) << "still overflowing at scale " << opt.loss_scale();
  EXPECT_EQ(opt.loss_scale(), std::ldexp(init, -static_cast<int>(skipped)));
  EXPECT_TRUE(std::isfinite(rep.grad_norm));
  std::printf("f16: %lld steps skipped, first applied at loss scale %g\n",
              static_cast<long long>(skipped), opt.loss_scale());
  expect_params_are_rounded_masters(*r.model, opt, DType::f16);
}

}  // namespace
}  // namespace cugpt
