// The `cugpt` command line. Each subcommand lives in its own file and registers itself here.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <new>
#include <stdexcept>
#include <string>

#include "io/printable.h"

#include "kernels/cpu/threads.h"
#include "nn/communicator.h"
#include "tools/commands.h"

int main(int argc, char** argv) {
  // Under mpirun every rank parses the same arguments and meets the same error before MPI
  // starts: rank 0 says it, the others exit with the same code in silence (issue 29).
  const bool speaks = cugpt::launched_world_size() < 2 || cugpt::launched_rank() == 0;
  const auto error = [speaks](const std::string& message, const char* suffix = "") {
    if (speaks) std::fprintf(stderr, "cugpt: error: %s%s\n", message.c_str(), suffix);
  };
  CLI::App app{"cugpt: a from-scratch C++/CUDA GPT framework for small GPUs"};
  app.set_version_flag("--version", std::string("cugpt ") + CUGPT_VERSION);
  app.require_subcommand(1);
  // Global: `cugpt --threads 2 bench ...` or `cugpt bench ... --threads 2` (fallthrough).
  int threads = 0;
  app.add_option("--threads", threads,
                 "Threads for the cpu kernels (default: CUGPT_THREADS, else every core)")
      ->check(CLI::Range(1, 4096));
  app.fallthrough();
  cugpt::tools::add_report(app);
  cugpt::tools::add_params(app);
  cugpt::tools::add_init(app);
  cugpt::tools::add_forward(app);
  cugpt::tools::add_generate(app);
  cugpt::tools::add_bench(app);
  cugpt::tools::add_train(app);
  cugpt::tools::add_memory(app);
  cugpt::tools::add_inspect(app);
  cugpt::tools::add_tokenize(app);
  cugpt::tools::add_lens(app);
  cugpt::tools::add_ablate(app);
  cugpt::tools::add_patch(app);
  cugpt::tools::add_attribute(app);
  cugpt::tools::add_patterns(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line, like every other error; --help lists the options.
    error(cugpt::one_line(e.what()), " (see cugpt --help)");
    return 2;
  }
  try {
    if (threads > 0) cugpt::kernels::set_cpu_threads(threads);
    cugpt::kernels::cpu_threads();  // a bad CUGPT_THREADS fails here, in one line
    return cugpt::tools::run_selected(app);
  } catch (const std::bad_alloc&) {
    // Not "std::bad_alloc": what the user can act on. (Plans are checked before allocating;
    // this is the net under them.)
    error("out of host memory (the request is larger than this machine can allocate)");
    return 1;
  } catch (const std::length_error&) {
    error("out of host memory (a size beyond what a container can hold)");
    return 1;
  } catch (const std::exception& e) {
    // cugpt's own errors are one line already; control characters from a file or an argument
    // are escaped here once more, whatever path they took.
    error(cugpt::one_line(e.what()));
    return 1;
  }
}
