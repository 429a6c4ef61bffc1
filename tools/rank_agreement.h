// The setup of a data-parallel run (`mpirun -n N cugpt train`) fails the way a single process
// does: one line, from rank 0, and every rank's exit through MPI_Finalize with the same code.
// A setup step may fail on some ranks only (a lock only rank 0 takes, a file one node lacks), so
// every rank runs the step and then all learn in one collective whether any failed; rank 0 prints
// the first failing rank's message (received from it), and every rank throws RanksFailed, which
// `run_ranks` turns into its exit code. A step holds no collective of its own, so a rank that
// failed never leaves another waiting in one. Faults inside the step loop still end the run with
// MPI_Abort: the ranks may be inside different collectives by then.
#pragma once

#include <exception>
#include <functional>
#include <string>

#include "nn/communicator.h"

namespace cugpt::tools {

// On every rank, once a step failed on one: rank 0 has printed the error.
struct RanksFailed {
  int code = 1;
};

// Runs `step`. With one process (`comm` null or of size 1) its exception propagates unchanged.
void agree(Communicator* comm, const std::function<void()>& step);

// What main prints for an exception (without "cugpt: error: "), one line.
std::string error_text(const std::exception_ptr& e);

}  // namespace cugpt::tools
