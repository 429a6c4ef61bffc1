// `cugpt params <config> [--list] [--tree] [--json]`: the parameter summary, computed from the
// registry of a model built on the meta device.
#include <cstdio>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "models/param_report.h"
#include "nn/bytes.h"
#include "nn/shape.h"
#include "tools/commands.h"
#include "tools/format.h"

namespace cugpt::tools {

namespace {

struct ParamsOptions {
  std::string config;
  bool list = false;
  bool tree = false;
  bool json = false;
};

std::string shape_str(const std::vector<std::int64_t>& s) {
  return Shape(s).str();
}

void print_summary(const ParamReport& r) {
  const ModelConfig& c = r.config;
  std::printf("%s (%s): vocab %lld, n_embd %lld, n_layer %lld, n_head %lld, positions %lld\n",
              c.name.c_str(), family_name(c.family), static_cast<long long>(c.vocab_size),
              static_cast<long long>(c.n_embd), static_cast<long long>(c.n_layer),
              static_cast<long long>(c.n_head), static_cast<long long>(c.max_positions));
  std::printf("counted from the module registry of the model built on the meta device\n\n");
  std::printf("%-26s %16s %16s %12s\n", "Part", "Analytic", "Exact", "Difference");
  for (const auto& row : r.rows) {
    std::printf("%-26s %16s %16s %12s%s%s\n", row.label.c_str(), with_commas(row.analytic).c_str(),
                with_commas(row.exact).c_str(), with_commas(row.exact - row.analytic).c_str(),
                row.note.empty() ? "" : "  ", row.note.c_str());
  }
  std::printf("%-26s %16s %16s %12s\n", "Total", with_commas(r.analytic_total).c_str(),
              with_commas(r.total).c_str(), with_commas(r.total - r.analytic_total).c_str());
  std::printf(
      "\nAnalytic = weight matrices and embedding tables only (no biases, no LayerNorm), the\n"
      "Day-18 method. Exact - analytic = biases %s + LayerNorm %s + other %s.\n\n",
      with_commas(r.biases).c_str(), with_commas(r.layernorm).c_str(),
      with_commas(r.other).c_str());
  std::printf("Total parameters:     %s\n", with_commas(r.total).c_str());
  std::printf("Trainable parameters: %s\n", with_commas(r.trainable).c_str());
  std::printf("Tensors:              %zu\n", r.tensors.size());
  std::printf("Size:                 %.2f M\n\n", static_cast<double>(r.total) / 1e6);

  std::printf("Bytes (arena on the meta device, 256-byte aligned blocks):\n");
  std::printf("%-6s %14s %14s %14s %14s %16s\n", "dtype", "parameters", "gradients", "adamw m+v",
              "master (f32)", "AdamW training");
  for (const auto& b : r.bytes) {
    const auto cat = [&](Category c) {
      return format_bytes(b.train_categories[static_cast<int>(c)]);
    };
    std::printf("%-6s %14s %14s %14s %14s %16s\n", dtype_name(b.dtype),
                format_bytes(b.parameters).c_str(), cat(Category::gradient).c_str(),
                cat(Category::optimizer_state).c_str(), cat(Category::master_weight).c_str(),
                format_bytes(b.train_adamw).c_str());
  }
  std::printf(
      "(AdamW training = parameters + gradients + m + v, plus f32 master weights for\n"
      "16-bit parameters; activations come on top and depend on batch and sequence.)\n");
}

void print_list(const ParamReport& r) {
  std::printf("%5s  %-60s %-16s %12s %14s\n", "index", "name", "shape", "numel", "running");
  for (const auto& t : r.tensors)
    std::printf("%5d  %-60s %-16s %12s %14s\n", t.index, t.name.c_str(), shape_str(t.shape).c_str(),
                with_commas(t.numel).c_str(), with_commas(t.running_total).c_str());
  std::printf("%zu tensors, %s parameters\n", r.tensors.size(), with_commas(r.total).c_str());
}

void print_tree(const ParamReport& r) {
  for (const auto& n : r.tree) {
    std::string label = n.name.empty() ? r.config.name : n.name.substr(n.name.rfind('.') + 1);
    label = std::string(static_cast<std::size_t>(2 * n.depth), ' ') + label + " (" + n.type + ")";
    std::printf("%-60s %14s %12s\n", label.c_str(), with_commas(n.count).c_str(),
                format_bytes(n.bytes).c_str());
  }
  std::printf("(f32 parameters; a tied tensor is counted where it was first registered)\n");
}

nlohmann::json to_json(const ParamReport& r) {
  using nlohmann::json;
  json j;
  j["model"] = r.config.name;
  j["family"] = family_name(r.config.family);
  j["total"] = r.total;
  j["trainable"] = r.trainable;
  j["tensors"] = json::array();
  for (const auto& t : r.tensors)
    j["tensors"].push_back({{"index", t.index},
                            {"name", t.name},
                            {"shape", t.shape},
                            {"numel", t.numel},
                            {"running_total", t.running_total}});
  json rows = json::array();
  for (const auto& row : r.rows)
    rows.push_back({{"label", row.label},
                    {"analytic", row.analytic},
                    {"exact", row.exact},
                    {"note", row.note}});
  j["analytic"] = {
      {"total", r.analytic_total},
      {"sections", rows},
      {"difference", {{"biases", r.biases}, {"layernorm", r.layernorm}, {"other", r.other}}}};
  json bytes = json::object();
  for (const auto& b : r.bytes) {
    json cats = json::object();
    for (int i = 0; i < kNumCategories; ++i)
      if (b.train_categories[i]) cats[category_name(category_at(i))] = b.train_categories[i];
    bytes[dtype_name(b.dtype)] = {
        {"parameters", b.parameters}, {"train_adamw", b.train_adamw}, {"categories", cats}};
  }
  j["bytes"] = bytes;
  return j;
}

int run_params(const ParamsOptions& o) {
  const ParamReport r = make_param_report(load_config(o.config));
  if (o.json) {
    std::printf("%s\n", to_json(r).dump(2).c_str());
    return 0;
  }
  print_summary(r);
  if (o.tree) {
    std::printf("\n");
    print_tree(r);
  }
  if (o.list) {
    std::printf("\n");
    print_list(r);
  }
  return 0;
}

}  // namespace

void print_param_summary(const std::string& config) {
  print_summary(make_param_report(load_config(config)));
}

void add_params(CLI::App& app) {
  auto o = std::make_shared<ParamsOptions>();
  auto* sub = app.add_subcommand("params", "Parameter counts: analytic vs exact, tensors, bytes");
  sub->add_option("config", o->config, "Config path or bundled name")->required();
  sub->add_flag("--list", o->list, "Every tensor: index, name, shape, count, running total");
  sub->add_flag("--tree", o->tree, "The module tree with counts and bytes per subtree");
  sub->add_flag("--json", o->json, "Machine-readable output");
  on_run(sub, [o] { return run_params(*o); });
}

}  // namespace cugpt::tools
