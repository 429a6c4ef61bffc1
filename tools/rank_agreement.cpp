#include "tools/rank_agreement.h"

#include <cstdint>
#include <cstdio>
#include <exception>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/printable.h"

namespace cugpt::tools {

std::string error_text(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::bad_alloc&) {
    return "out of host memory (the request is larger than this machine can allocate)";
  } catch (const std::length_error&) {
    return "out of host memory (a size beyond what a container can hold)";
  } catch (const std::exception& x) {
    return one_line(x.what());
  } catch (...) {
    return "unknown error";
  }
}

void agree(Communicator* comm, const std::function<void()>& step) {
  if (!comm || comm->size() < 2) {
    step();
    return;
  }
  std::string error;
  try {
    step();
  } catch (...) {
    error = error_text(std::current_exception());
  }
  // One flag per rank, summed: every rank learns which failed.
  std::vector<double> failed(static_cast<std::size_t>(comm->size()), 0.0);
  failed[static_cast<std::size_t>(comm->rank())] = error.empty() ? 0.0 : 1.0;
  comm->all_reduce_sum(failed);
  int first = -1;
  for (std::size_t r = 0; r < failed.size() && first < 0; ++r)
    if (failed[r] > 0) first = static_cast<int>(r);
  if (first < 0) return;
  // The first failing rank's message, for rank 0 to print (the same on every rank, most often).
  if (first != 0 && comm->rank() == first) {
    const std::uint64_t n = error.size();
    comm->send(&n, sizeof n, 0);
    comm->send(error.data(), error.size(), 0);
  } else if (first != 0 && comm->rank() == 0) {
    std::uint64_t n = 0;
    comm->receive(&n, sizeof n, first);
    error.assign(static_cast<std::size_t>(n), '\0');
    comm->receive(error.data(), error.size(), first);
  }
  if (comm->rank() == 0) {
    const std::string who = first == 0 ? "" : "rank " + std::to_string(first) + ": ";
    std::fprintf(stderr, "cugpt: error: %s%s\n", who.c_str(), one_line(error).c_str());
    std::fflush(stderr);
  }
  throw RanksFailed{1};
}

}  // namespace cugpt::tools
