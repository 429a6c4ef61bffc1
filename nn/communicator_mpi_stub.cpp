// A build without MPI (CMake found none): the communicator says so in one line.
#include "kernels/error.h"
#include "nn/communicator.h"

namespace cugpt {

bool mpi_built() {
  return false;
}

std::unique_ptr<Communicator> mpi_communicator() {
  throw Error(
      "this cugpt was built without MPI: install Open MPI (openmpi-bin libopenmpi-dev) and "
      "rebuild to run several ranks");
}

}  // namespace cugpt
