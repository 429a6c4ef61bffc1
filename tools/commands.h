// Subcommand registration: each add_<name> adds its subcommand and the action to run when it is
// selected; run_selected runs the action of the one the user chose.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace cugpt::tools {

// Registers `action` to run when `sub` is the chosen subcommand.
void on_run(CLI::App* sub, std::function<int()> action);
int run_selected(CLI::App& app);

void add_report(CLI::App& app);

}  // namespace cugpt::tools
