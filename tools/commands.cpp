#include "tools/commands.h"

#include <map>

namespace cugpt::tools {

namespace {
std::map<CLI::App*, std::function<int()>>& actions() {
  static std::map<CLI::App*, std::function<int()>> a;
  return a;
}
}  // namespace

void on_run(CLI::App* sub, std::function<int()> action) {
  actions()[sub] = std::move(action);
}

int run_selected(CLI::App& app) {
  for (CLI::App* sub : app.get_subcommands()) {
    auto it = actions().find(sub);
    if (it != actions().end()) return it->second();
  }
  return 2;
}

}  // namespace cugpt::tools
