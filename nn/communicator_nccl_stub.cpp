// A build without NCCL (no CUDA, no MPI or no libnccl found): the communicator says so in one line.
#include "kernels/error.h"
#include "nn/communicator.h"

namespace cugpt {

bool nccl_built() {
  return false;
}

std::unique_ptr<Communicator> nccl_communicator(Communicator&) {
  throw Error(
      "this cugpt was built without NCCL: data parallel on cuda needs CUDA, MPI and NCCL "
      "(libnccl, nccl.h) when it is built");
}

}  // namespace cugpt
