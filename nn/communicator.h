// Collective communication between the ranks of a data-parallel run (train/distributed.h): one
// process per rank, launched by mpirun. The reductions are deterministic: a rank's piece is the
// sum of every rank's copy of it added in rank order (0 + 1 + ... + N-1) in the element dtype,
// computed by cugpt itself after a collective that only moves bytes (MPI_Alltoallv), so the same
// ranks and inputs give the same bits, and each element is summed exactly as a single process
// summing the N contributions in rank order would. Implementations: `single` (one process, no
// library), `mpi` (host buffers: the cpu device; nn/communicator_mpi.cpp, compiled when MPI is
// found, else a stub whose every call says cugpt was built without MPI), `nccl` (device buffers:
// the cuda device; nn/communicator_nccl.cpp, with CUDA, MPI and NCCL, else a stub), and
// `simulated` (a rank of a run predicted on the meta device, which moves no data).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "kernels/dtype.h"

namespace cugpt {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string name() const = 0;
  // Whether another thread than the one that made it may call it (one thread at a time, each
  // call ordered after the previous one: MPI_THREAD_SERIALIZED). GradientSync's communication
  // thread needs it to overlap the exchange with the backward.
  virtual bool any_thread() const { return true; }

  // `data` holds pieces of counts[0], ..., counts[N-1] elements of `dtype` back to back, on
  // every rank. On return rank r's piece r holds the sum over the ranks of their piece r, added
  // in rank order; the other pieces are left as they were. `scratch` holds at least
  // N * counts[rank()] elements.
  virtual void reduce_scatter_sum(void* data, void* scratch, const std::vector<std::size_t>& counts,
                                  DType dtype) = 0;
  // Piece r of `data` (laid out as above) is copied from rank r to every rank.
  virtual void all_gather(void* data, const std::vector<std::size_t>& counts, DType dtype) = 0;
  // Host doubles summed over the ranks in rank order, the sum on every rank.
  virtual void all_reduce_sum(std::vector<double>& values) = 0;
  // Host bytes: from rank `from` to rank `to` (both call; other ranks do not).
  virtual void send(const void* data, std::size_t bytes, int to) = 0;
  virtual void receive(void* data, std::size_t bytes, int from) = 0;
  virtual void barrier() = 0;
  // Ends every rank of the run (after an error on one, so that the others do not wait forever).
  virtual void abort(int code) = 0;
};

// One process: every collective is the identity.
std::unique_ptr<Communicator> single_communicator();
// Rank `rank` of `size` on the meta device: it names the rank for a memory prediction and
// refuses to move data.
std::unique_ptr<Communicator> simulated_communicator(int rank, int size);

// Whether this build has MPI (CMake found it: CUGPT_MPI).
bool mpi_built();
// The world size the launcher (mpirun, srun) gave this process through its environment, or 1.
int launched_world_size();
// This process's rank among them (the launcher's environment, read before MPI_Init), or 0.
int launched_rank();
// MPI_Init once and the world communicator; a one-line error in a build without MPI. The last
// communicator destroyed finalizes MPI.
std::unique_ptr<Communicator> mpi_communicator();

// Whether this build has NCCL (CMake found CUDA, MPI and NCCL: CUGPT_NCCL).
bool nccl_built();
// The communicator of a data-parallel run on cuda (nn/communicator_nccl.cpp): device buffers
// through NCCL, one GPU per rank (the launcher's local rank modulo the node's devices, made
// current here, before any arena), bootstrapped and with host values through `host` (MPI, which
// must outlive it). A one-line error in a build without NCCL.
std::unique_ptr<Communicator> nccl_communicator(Communicator& host);

// rank-order sum of `n` pieces of `count` elements at `pieces` (piece s at s * count) into out.
void sum_in_rank_order(const void* pieces, int n, std::size_t count, void* out, DType dtype);

}  // namespace cugpt
