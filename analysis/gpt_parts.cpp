#include "analysis/gpt_parts.h"

#include "models/gpt.h"

namespace cugpt::analysis {

namespace {

Module* child_of_type(const Module& m, const std::string& type) {
  for (const auto& [name, child] : m.children())
    if (child->type_name() == type) return child;
  return nullptr;
}

const Linear* linear_child(const Module& m, const std::string& name) {
  for (const auto& [n, child] : m.children())
    if (n == name) return dynamic_cast<const Linear*>(child);
  return nullptr;
}

// A Linear's weight as [in, out] host floats, whichever layout it is stored in.
std::vector<float> in_out_weight(const Linear& lin, std::int64_t in, std::int64_t out) {
  std::vector<float> w = lin.weight().to_floats();
  if (lin.type_name() == "Conv1D") return w;  // already [in, out]
  std::vector<float> t(w.size());
  for (std::int64_t o = 0; o < out; ++o)
    for (std::int64_t i = 0; i < in; ++i)
      t[static_cast<std::size_t>(i * out + o)] = w[static_cast<std::size_t>(o * in + i)];
  return t;
}

}  // namespace

GptParts gpt_parts(Model& model, const std::string& command) {
  Gpt* gpt = dynamic_cast<Gpt*>(&model);
  if (!gpt)
    throw Error(command + ": " + model.config().name +
                " is not a causal GPT (the gpt-day18 or gpt2 family)");
  const ModelConfig& c = model.config();
  GptParts p;
  p.L = c.n_layer, p.H = c.n_head, p.C = c.n_embd, p.D = c.n_embd / c.n_head, p.V = c.vocab_size;
  p.eps = c.layer_norm_eps;
  model.attach_hooks(nullptr);  // every module learns its path; hooks come with each run
  p.resid.push_back("embeddings");
  for (std::size_t l = 0; l < gpt->blocks().size(); ++l) {
    const GptBlock& block = gpt->blocks()[l];
    const auto* attn =
        dynamic_cast<const MultiHeadAttention*>(child_of_type(block, "MultiHeadAttention"));
    Module* ffwd = child_of_type(block, "MLP");
    if (!ffwd) ffwd = child_of_type(*child_of_type(block, "FeedForward"), "MLP");
    p.resid.push_back(block.path());
    p.attention.push_back(attn->path());
    p.heads.push_back(attn->path() + ".heads");
    p.mlp.push_back(ffwd->path());
    const Linear* out = linear_child(*attn, attn->spec().out_name);
    p.w_o.push_back(in_out_weight(*out, p.C, p.C));
    p.b_o.push_back(out->bias() ? out->bias()->to_floats() : std::vector<float>{});
  }
  if (gpt->wte().weight().device().is_meta())
    throw Error(command + " needs a device with values: cpu or cuda");
  const bool gpt2 = c.family == ModelFamily::gpt2;
  const Module* ln_f = model.find_module(gpt2 ? "transformer.ln_f" : "ln_f");
  const auto* ln = dynamic_cast<const LayerNorm*>(ln_f);
  p.ln_f_weight = &ln->weight();
  p.ln_f_bias = &ln->bias();
  p.ln_gamma = ln->weight().to_floats();
  p.ln_beta = ln->bias().to_floats();
  if (gpt2) {
    p.unembed = &gpt->wte().weight();  // tied
  } else {
    const auto* head = dynamic_cast<const Linear*>(model.find_module("lm_head"));
    p.unembed = &head->weight();
    p.unembed_bias = head->bias();
  }
  p.w_u = p.unembed->to_floats();
  if (p.unembed_bias) p.b_u = p.unembed_bias->to_floats();
  return p;
}

std::vector<float> run_logits(Model& model, Hooks& hooks, const Batch& batch) {
  model.attach_hooks(&hooks);
  try {
    std::vector<float> logits = model.forward(batch).to_floats();
    model.attach_hooks(nullptr);
    return logits;
  } catch (...) {
    model.attach_hooks(nullptr);
    throw;
  }
}

std::vector<float> mean_row(const Capture& c) {
  const std::int64_t N = c.shape[c.shape.ndim() - 1];
  const std::size_t rows = c.values.size() / static_cast<std::size_t>(N);
  std::vector<double> sum(static_cast<std::size_t>(N), 0.0);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::int64_t j = 0; j < N; ++j) sum[j] += c.values[r * N + j];
  std::vector<float> out(sum.size());
  for (std::size_t j = 0; j < sum.size(); ++j) out[j] = static_cast<float>(sum[j] / rows);
  return out;
}

const Capture& need(const Hooks& hooks, const std::string& name) {
  const Capture* c = hooks.find(name);
  if (!c) throw Error("no capture named " + name);
  return *c;
}

}  // namespace cugpt::analysis
