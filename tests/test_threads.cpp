// The cpu kernels give the same bits for any thread count (kernels/cpu/threads.h): each kernel
// at sizes that split into many chunks, then a whole model's logits, one training step's
// gradients (through the optimizer state they leave) and generation, at 1, 2 and 4 threads.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "io/checkpoint.h"
#include "kernels/activation.h"
#include "kernels/adamw.h"
#include "kernels/attention.h"
#include "kernels/cpu/threads.h"
#include "kernels/cross_entropy.h"
#include "kernels/embedding.h"
#include "kernels/layernorm.h"
#include "kernels/matmul.h"
#include "models/factory.h"
#include "models/generate.h"
#include "models/init.h"
#include "train/trainer.h"

namespace cugpt {
namespace {

using kernels::set_cpu_threads;

// Sets the thread count for a scope; back to the default after.
struct Threads {
  explicit Threads(int n) { set_cpu_threads(n); }
  ~Threads() { set_cpu_threads(0); }
};

std::vector<float> random_floats(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d;
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

std::string bytes_of(const std::vector<float>& v) {
  return {reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)};
}

// Runs f at 1, 2 and 4 threads; what it returns must not change.
void expect_same_for_any_threads(const std::function<std::string()>& f, const char* what) {
  std::string one;
  {
    Threads t(1);
    one = f();
  }
  ASSERT_FALSE(one.empty());
  for (const int n : {2, 4}) {
    Threads t(n);
    const std::string other = f();
    std::size_t first = 0;
    while (first < one.size() && first < other.size() && one[first] == other[first]) ++first;
    EXPECT_TRUE(other == one) << what << ": " << n << " threads differ from 1, first at byte "
                              << first << " of " << one.size();
  }
}

TEST(Threads, ChunkedSplitCoversEveryItemOnce) {
  for (const int n : {1, 2, 3, 4}) {
    Threads t(n);
    std::vector<int> seen(1001, 0);
    kernels::parallel_chunks(1001, 7, [&](std::int64_t a, std::int64_t b) {
      for (std::int64_t i = a; i < b; ++i) ++seen[i];
    });
    EXPECT_EQ(std::vector<int>(1001, 1), seen) << n << " threads";
  }
  EXPECT_THROW(set_cpu_threads(-1), Error);
  EXPECT_GE(kernels::default_cpu_threads(), 1);
}

TEST(Threads, ExceptionInAChunkReachesTheCaller) {
  Threads t(2);
  EXPECT_THROW(kernels::parallel_chunks(100, 1,
                                        [](std::int64_t a, std::int64_t) {
                                          if (a == 37) throw Error("chunk 37");
                                        }),
               Error);
}

TEST(Threads, GemmsForwardAndBackward) {
  // (N, IC) x (IC, OC) with several row and column tiles, both weight layouts.
  const int N = 300, IC = 96, OC = 520;
  const auto x = random_floats(N * IC, 1), w = random_floats(IC * OC, 2), b = random_floats(OC, 3);
  const auto g = random_floats(N * OC, 4);
  for (const bool in_out : {false, true}) {
    expect_same_for_any_threads(
        [&] {
          std::vector<float> y(N * OC), dx(N * IC), dw(IC * OC, 0.5f), db(OC, 0.25f);
          kernels::matmul_forward_cpu(y.data(), x.data(), w.data(), b.data(), N, IC, OC, in_out);
          kernels::matmul_backward_cpu(dx.data(), dw.data(), db.data(), g.data(), x.data(),
                                       w.data(), N, IC, OC, in_out);
          return bytes_of(y) + bytes_of(dx) + bytes_of(dw) + bytes_of(db);
        },
        in_out ? "matmul (in, out)" : "matmul (out, in)");
    // One row: the decode GEMV, split by column slices.
    expect_same_for_any_threads(
        [&] {
          std::vector<float> y(OC);
          kernels::matmul_forward_cpu(y.data(), x.data(), w.data(), nullptr, 1, IC, OC, in_out);
          return bytes_of(y);
        },
        "matmul, one row");
  }
}

TEST(Threads, AttentionLayerNormLossEmbeddingOptimizer) {
  const int B = 3, T = 40, H = 4, D = 16, C = H * D, V = 700;
  const auto qkv = random_floats(B * T * 3 * C, 5), dout = random_floats(B * T * C, 6);
  std::vector<std::int32_t> mask(B * T, 1), tokens(B * T), positions(B * T), targets(B * T);
  for (int i = 0; i < B * T; ++i) {
    tokens[i] = (i * 7) % 11;  // repeated ids: the scatter-add adds into the same rows
    positions[i] = i % T;
    targets[i] = (i * 13) % V;
  }
  mask[5] = mask[T + 9] = 0;
  expect_same_for_any_threads(
      [&] {
        std::vector<float> out(B * T * C), probs(B * H * T * T), dqkv(B * T * 3 * C, 0.f);
        kernels::AttentionArgs<float> a;
        a.B = B, a.T = T, a.H = H, a.D = D, a.row_stride = 3 * C, a.causal = true;
        a.q = qkv.data(), a.k = qkv.data() + C, a.v = qkv.data() + 2 * C;
        a.out = out.data(), a.probs = probs.data(), a.key_mask = mask.data(), a.scale = 0.25f;
        kernels::attention_forward_cpu(a);
        kernels::AttentionBackwardArgs<float> g;
        g.B = B, g.T = T, g.H = H, g.D = D, g.row_stride = 3 * C, g.causal = true;
        g.q = a.q, g.k = a.k, g.v = a.v, g.dout = dout.data(), g.key_mask = mask.data();
        g.dq = dqkv.data(), g.dk = dqkv.data() + C, g.dv = dqkv.data() + 2 * C, g.scale = 0.25f;
        kernels::attention_backward_cpu(g);
        return bytes_of(out) + bytes_of(probs) + bytes_of(dqkv);
      },
      "attention");
  const int N = 2000, LC = 192;
  const auto x = random_floats(N * LC, 7), gw = random_floats(LC, 8), gb = random_floats(LC, 9);
  const auto go = random_floats(N * LC, 10);
  expect_same_for_any_threads(
      [&] {
        std::vector<float> y(N * LC), mean(N), rstd(N), dx(N * LC), dw(LC, 0.f), db(LC, 0.f);
        kernels::layernorm_forward_cpu(y.data(), mean.data(), rstd.data(), x.data(), gw.data(),
                                       gb.data(), N, LC, 1e-5f);
        kernels::layernorm_backward_cpu(dx.data(), dw.data(), db.data(), go.data(), x.data(),
                                        gw.data(), mean.data(), rstd.data(), N, LC);
        std::vector<float> act(N * LC), dact(N * LC);
        kernels::activation_forward_cpu(act.data(), x.data(), act.size(),
                                        kernels::Activation::gelu_tanh);
        kernels::activation_backward_cpu(dact.data(), go.data(), x.data(), act.size(),
                                         kernels::Activation::gelu_tanh);
        return bytes_of(y) + bytes_of(dx) + bytes_of(dw) + bytes_of(db) + bytes_of(act) +
               bytes_of(dact);
      },
      "layernorm and gelu");
  const auto logits = random_floats(B * T * V, 11);
  expect_same_for_any_threads(
      [&] {
        std::vector<float> losses(B * T), dlogits(B * T * V);
        kernels::cross_entropy_forward_backward_cpu(losses.data(), dlogits.data(), logits.data(),
                                                    targets.data(), B * T, V, -100, 0.01f);
        std::vector<float> dwte(11 * C, 0.f), dwpe(T * C, 0.f);
        kernels::EmbeddingArgs e;
        e.B = B, e.T = T, e.C = C, e.tokens = tokens.data(), e.positions = positions.data();
        kernels::embedding_backward_cpu(e, dout.data(), dwte.data(), dwpe.data(), nullptr);
        std::vector<float> p = logits, m(p.size(), 0.f), v(p.size(), 0.f);
        kernels::AdamwHyper h;
        h.step = 1;
        kernels::adamw_step_cpu(p.data(), dlogits.data(), m.data(), v.data(), p.size(), h);
        const double ss = kernels::sum_squares_cpu(dlogits.data(), dlogits.size());
        return bytes_of(losses) + bytes_of(dlogits) + bytes_of(dwte) + bytes_of(dwpe) +
               bytes_of(p) + bytes_of(m) + bytes_of(v) +
               std::string(reinterpret_cast<const char*>(&ss), sizeof ss);
      },
      "cross-entropy, embedding backward, AdamW, sum of squares");
}

// A model wide enough that every layer splits into several chunks.
ModelConfig wide_config() {
  ModelConfig c = load_config("gpt2-bytes-tiny");
  c.n_embd = 256;
  c.ffn_dim = 1024;
  c.n_layer = 1;
  return c;
}

std::string raw(const Tensor& t) {
  std::string s(t.nbytes(), '\0');
  t.copy_to_host(s.data(), s.size());
  return s;
}

TEST(Threads, ModelLogitsGradientsAndGenerationAreTheSameBits) {
  const ModelConfig c = wide_config();
  Batch b;
  b.B = 4;
  b.T = 64;
  for (std::int64_t i = 0; i < b.B * b.T; ++i)
    b.tokens.push_back(static_cast<std::int32_t>((i * 37 + 5) % c.vocab_size));
  expect_same_for_any_threads(
      [&] {
        auto arena = Arena::create(Device::cpu(), 256 << 20);
        auto model = build_gpt(c, arena, DType::f32);
        init_parameters(*model, 3);
        return raw(model->forward(b));
      },
      "forward logits");
  std::string text;
  for (int i = 0; text.size() < 8000; ++i)
    text += "the quick brown fox " + std::to_string(i) + "\n";
  const Dataset data = Dataset::from_tokens({text.begin(), text.end()}, 256);
  expect_same_for_any_threads(
      [&] {
        auto arena = Arena::create(Device::cpu(), 512 << 20);
        auto model = build_gpt(c, arena, DType::f32);
        init_parameters(*model, 5);
        TrainOptions o;
        o.steps = 1;
        o.batch = 4;
        o.seq = 64;
        o.warmup = 0;
        o.seed = 5;
        Trainer t(*model, data, o);
        const StepReport s = t.step();
        // After one AdamW step, m = (1 - beta1) g: the optimizer state holds the gradients.
        std::string out(reinterpret_cast<const char*>(&s.loss), sizeof s.loss);
        out.append(reinterpret_cast<const char*>(&s.grad_norm), sizeof s.grad_norm);
        for (const auto& p : model->named_parameters()) out += raw(p.tensor);
        const auto dir = std::filesystem::temp_directory_path() /
                         ("cugpt_threads_" + std::to_string(::getpid()));
        t.save(dir.string());
        std::ifstream in(dir / "optimizer.safetensors", std::ios::binary);
        out.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        std::filesystem::remove_all(dir);
        return out;
      },
      "one training step");
  expect_same_for_any_threads(
      [&] {
        auto arena = Arena::create(Device::cpu(), 256 << 20);
        auto model = build_gpt(c, arena, DType::f32);
        init_parameters(*model, 3);
        Batch prompt;
        prompt.B = 2;
        prompt.T = 5;
        prompt.tokens = {1, 2, 3, 4, 5, 9, 8, 7, 6, 5};
        std::string out;
        for (const double temperature : {0.0, 1.5}) {  // greedy, then seeded sampling
          GenerateOptions o;
          o.max_new = 12;
          o.temperature = temperature;
          o.seed = 17;
          for (const auto& seq : generate(*model, prompt, o).tokens)
            out.append(reinterpret_cast<const char*>(seq.data()), seq.size() * 4);
        }
        return out;
      },
      "greedy and seeded generation");
}

}  // namespace
}  // namespace cugpt
