// Subcommand registration: each add_<name> adds its subcommand and the action to run when it is
// selected; run_selected runs the action of the one the user chose.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <nlohmann/json_fwd.hpp>

namespace cugpt::tools {

// Registers `action` to run when `sub` is the chosen subcommand.
void on_run(CLI::App* sub, std::function<int()> action);
int run_selected(CLI::App& app);

void add_report(CLI::App& app);
void add_params(CLI::App& app);
void add_init(CLI::App& app);
void add_forward(CLI::App& app);
void add_generate(CLI::App& app);
void add_bench(CLI::App& app);
void add_train(CLI::App& app);
void add_memory(CLI::App& app);
void add_inspect(CLI::App& app);
void add_tokenize(CLI::App& app);
// The analyses (analysis/): lens.cpp, ablate.cpp, patch.cpp, attribute.cpp, patterns.cpp.
void add_lens(CLI::App& app);
void add_ablate(CLI::App& app);
void add_patch(CLI::App& app);
void add_attribute(CLI::App& app);
void add_patterns(CLI::App& app);

// The Day-18 style parameter table, shared by `params` and `report`.
void print_param_summary(const std::string& config);
// Does the config train, forward and generate in 4 GiB, for `report`; into *json instead of
// stdout when json is given.
void print_memory_verdicts(const std::string& config, nlohmann::json* json = nullptr);
// A short forward benchmark of the config on the best device present, for `report`; into *json
// (bench --json's object) instead of stdout when json is given.
void print_short_bench(const std::string& config, nlohmann::json* json = nullptr);

}  // namespace cugpt::tools
