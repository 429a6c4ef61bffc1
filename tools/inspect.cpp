// `cugpt inspect <config> --weights FILE (--tokens "..." | --text "...") --out DIR [--layers]
// [--heads] [--hook GLOB] [--device] [--dtype] [--tokenizer]`: one forward pass with hooks,
// writing what a student wants to look at — the residual stream and each sublayer's output per
// layer (.npy), attention probabilities per layer ([H, T, T] .npy) with a heatmap per head
// (PNG), and per-layer statistics (printed, CSV and JSON).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "io/atomic_dir.h"
#include "io/atomic_file.h"
#include "io/npy.h"
#include "models/activation_stats.h"
#include "models/factory.h"
#include "models/weights.h"
#include "nn/hooks.h"
#include "text/tokenizer.h"
#include "tools/batch.h"
#include "tools/commands.h"
#include "tools/load_warnings.h"
#include "tools/tokenizer_choice.h"
#include "viz/heatmap.h"

namespace cugpt::tools {

namespace {

struct InspectCli {
  std::string config, weights, tokens, text, tokenizer = "byte", out, layers, heads, mask;
  std::string device = "cpu", dtype = "f32";
  std::vector<std::string> hooks;
  bool tokenizer_given = false;
};

// "all" (or empty) -> 0..n-1; else comma-separated indices, each checked against n.
std::vector<std::int64_t> parse_indices(const std::string& text, std::int64_t n,
                                        const std::string& what) {
  std::vector<std::int64_t> out;
  if (text.empty() || text == "all") {
    for (std::int64_t i = 0; i < n; ++i) out.push_back(i);
    return out;
  }
  for (const auto& row : parse_token_rows(text, what.c_str()))
    for (std::int32_t i : row) {
      if (i < 0 || i >= n)
        throw Error("inspect: " + what + " " + std::to_string(i) + " out of range (0 to " +
                    std::to_string(n - 1) + ")");
      out.push_back(i);
    }
  return out;
}

// Depth-first search for the first module of a type below `m`.
Module* find_type(Module& m, const std::string& type) {
  for (auto& [name, child] : m.children()) {
    if (child->type_name() == type) return child;
    if (Module* found = find_type(*child, type)) return found;
  }
  return nullptr;
}

// A capture of batch row 0 as an array without the batch dimension.
void write_capture(const std::string& path, const Capture& c) {
  const std::vector<std::int64_t> dims = c.shape.vec();
  const std::vector<std::int64_t> shape(dims.begin() + 1, dims.end());
  write_npy(path, c.values.data(), shape);
}

struct LayerFiles {
  std::string block, attention, mlp;
};

int run_inspect(const InspectCli& o) {
  const ModelConfig config = load_config(o.config);
  const Device device = parse_device(o.device);
  if (device.is_meta()) throw Error("inspect needs a device with values: cpu or cuda");
  const DType dtype = parse_dtype(o.dtype);
  check_compute_dtype(device, dtype);
  if (!o.tokens.empty() == !o.text.empty())
    throw Error("inspect: give the input one way: --tokens \"1,2,3\" or --text \"...\"");
  bool recorded = false;
  const auto tokenizer =
      choose_tokenizer(o.tokenizer, o.tokenizer_given, o.weights, config.vocab_size, &recorded);
  std::vector<std::vector<std::int32_t>> rows;
  if (o.text.empty()) {
    rows = parse_token_rows(o.tokens);
  } else {
    rows.push_back(tokenizer->encode(o.text));
  }
  if (rows.size() != 1) throw Error("inspect: one sequence at a time (no ';' in --tokens)");
  std::vector<std::vector<std::int32_t>> mask_rows;
  if (!o.mask.empty()) mask_rows = parse_token_rows(o.mask, "mask");
  const Batch batch = make_batch(config, rows, o.mask.empty() ? nullptr : &mask_rows);
  const std::int64_t T = batch.T, H = config.n_head;
  std::vector<std::string> labels;
  for (std::int32_t id : rows[0])
    labels.push_back(!o.text.empty() || o.tokenizer_given || recorded ? tokenizer->token_text(id)
                                                                      : std::to_string(id));

  // Every file goes to a hidden directory beside --out, published as one set at the end: a
  // failure anywhere leaves --out as it was. A bad --out fails now, before the forward.
  AtomicDir out(o.out, "stats.json");
  auto arena = Arena::create(device, default_budget(device));
  auto model = build_model(config, arena, dtype);
  print_load_warnings(load_weights(*model, o.weights), o.weights);
  Hooks hooks;
  model->attach_hooks(&hooks);
  Module* list = find_type(*model, "ModuleList");
  if (!list) throw Error("inspect: " + config.name + " has no list of layers");
  const std::vector<std::int64_t> layers = parse_indices(o.layers, config.n_layer, "layer");
  const std::vector<std::int64_t> heads = parse_indices(o.heads, H, "head");
  std::vector<LayerFiles> names;
  std::vector<std::string> outputs = o.hooks, attention;
  outputs.push_back("embeddings");
  for (std::int64_t i : layers) {
    Module& block = *list->children()[static_cast<std::size_t>(i)].second;
    Module* attn = find_type(block, "MultiHeadAttention");
    Module* mlp = find_type(block, "MLP");
    names.push_back({block.path(), attn ? attn->path() : "", mlp ? mlp->path() : ""});
    for (const std::string& n : {names.back().block, names.back().attention, names.back().mlp})
      if (!n.empty()) outputs.push_back(n);
    if (attn) attention.push_back(attn->path());
  }
  hooks.capture_outputs(outputs);
  hooks.capture_attention(attention);
  model->forward(batch);

  const std::string dir = out.prefix();
  std::set<std::string> written;
  auto save = [&](const std::string& name, const std::string& file) {
    const Capture* c = hooks.find(name);
    if (!c) return;
    write_capture(dir + file, *c);
    written.insert(name);
  };
  save("embeddings", "embeddings.npy");
  nlohmann::json stats = nlohmann::json::array();
  std::string csv = "layer,mean,std,rms,max_abs";
  for (std::int64_t h = 0; h < H; ++h) csv += ",entropy_h" + std::to_string(h);
  csv += "\n";
  std::printf("%s on %s (%s), %lld tokens: per-layer residual stream and attention entropy\n",
              config.name.c_str(), device.str().c_str(), o.dtype.c_str(),
              static_cast<long long>(T));
  std::printf("%5s %10s %10s %10s %10s   %s\n", "layer", "mean", "std", "rms", "max|x|",
              "entropy per head (nats)");
  for (std::size_t n = 0; n < layers.size(); ++n) {
    const std::string L = "layer" + std::to_string(layers[n]);
    save(names[n].block, L + "_residual.npy");
    save(names[n].attention, L + "_attention.npy");
    save(names[n].mlp, L + "_mlp.npy");
    const Capture* block = hooks.find(names[n].block);
    const Capture* probs = hooks.find(names[n].attention + ".probs");
    const ValueStats s = value_stats(block->values);
    std::vector<double> entropy;
    if (probs) {
      // Row 0 of the batch: [H, T, T].
      std::vector<float> p(probs->values.begin(), probs->values.begin() + H * T * T);
      write_npy(dir + L + "_probs.npy", p.data(), {H, T, T});
      written.insert(probs->name);
      entropy = attention_entropy(p, 1, H, T);
      for (std::int64_t h : heads) {
        const std::vector<float> head(p.begin() + h * T * T, p.begin() + (h + 1) * T * T);
        viz::write_attention_heatmap(
            dir + L + "_head" + std::to_string(h) + ".png", head, T, labels,
            config.name + " layer " + std::to_string(layers[n]) + " head " + std::to_string(h));
      }
    }
    std::string ent;
    for (double e : entropy) ent += (ent.empty() ? "" : " ") + std::to_string(e).substr(0, 5);
    std::printf("%5lld %10.4f %10.4f %10.4f %10.4f   %s\n", static_cast<long long>(layers[n]),
                s.mean, s.std, s.rms, s.max_abs, ent.c_str());
    csv += std::to_string(layers[n]) + "," + std::to_string(s.mean) + "," + std::to_string(s.std) +
           "," + std::to_string(s.rms) + "," + std::to_string(s.max_abs);
    for (double e : entropy) csv += "," + std::to_string(e);
    csv += "\n";
    stats.push_back(
        {{"layer", layers[n]},
         {"residual", {{"mean", s.mean}, {"std", s.std}, {"rms", s.rms}, {"max_abs", s.max_abs}}},
         {"entropy", entropy}});
  }
  // A --hook glob that captured nothing is most likely a typo: say so, with where names are.
  for (const std::string& pattern : o.hooks) {
    bool any = false;
    for (const Capture& c : hooks.captures()) any = any || glob_match(pattern, c.name);
    if (!any)
      std::fprintf(stderr,
                   "cugpt: warning: --hook '%s' matches no module (see `cugpt params %s --tree` "
                   "for the qualified names)\n",
                   pattern.c_str(), o.config.c_str());
  }
  // Whatever else --hook asked for, under its qualified name.
  for (const Capture& c : hooks.captures())
    if (!written.count(c.name)) write_capture(dir + "hook_" + c.name + ".npy", c);
  nlohmann::json notes = nlohmann::json::object();
  for (const Capture& c : hooks.captures())
    if (!c.note.empty()) notes[c.name] = c.note;
  const nlohmann::json report = {
      {"config", config.name}, {"device", device.str()}, {"dtype", o.dtype}, {"tokens", rows[0]},
      {"labels", labels},      {"layers", stats},        {"notes", notes}};
  write_file_atomic(dir + "stats.csv", csv);
  write_file_atomic(dir + "stats.json", report.dump(2) + "\n");
  out.commit();
  if (!notes.empty())
    std::printf("attention probabilities: %s\n", notes.begin().value().get<std::string>().c_str());
  std::printf(
      "wrote %s: activations (.npy), attention maps (.npy, PNG per head), stats.csv, "
      "stats.json\n",
      o.out.c_str());
  return 0;
}

}  // namespace

void add_inspect(CLI::App& app) {
  auto o = std::make_shared<InspectCli>();
  auto* sub = app.add_subcommand("inspect", "Capture activations and attention maps of a forward");
  sub->add_option("config", o->config, "Config path or bundled name")->required();
  sub->add_option("--weights", o->weights, "safetensors checkpoint")->required();
  sub->add_option("--tokens", o->tokens, "Input ids: \"1,2,3\" (one sequence)");
  sub->add_option("--text", o->text, "Input text, encoded by --tokenizer");
  auto* tokenizer =
      sub->add_option("--tokenizer", o->tokenizer,
                      "byte, a folder with vocab.json and merges.txt, or a checkpoint carrying "
                      "one (default: the one --weights records, else byte)");
  sub->add_option("--mask", o->mask, "Attention mask \"1,1,0\" (RoBERTa padding)");
  sub->add_option("--out", o->out, "Output folder")->required();
  sub->add_option("--layers", o->layers, "Layers to capture: \"0,3\" or all")
      ->capture_default_str();
  sub->add_option("--heads", o->heads, "Heads to draw: \"0,5\" or all")->capture_default_str();
  sub->add_option("--hook", o->hooks, "Also capture modules matching this glob (repeatable)");
  sub->add_option("--device", o->device, "cpu or cuda[:N]")->capture_default_str();
  sub->add_option("--dtype", o->dtype,
                  "Compute dtype (cpu: f32 or f64; the checkpoint converts to it)")
      ->capture_default_str();
  on_run(sub, [o, tokenizer] {
    o->tokenizer_given = tokenizer->count() > 0;
    return run_inspect(*o);
  });
}

}  // namespace cugpt::tools
