// NCCL as the rest of cugpt sees it, as kernels/runtime.h is the CUDA runtime: plain types only,
// so that no layer above kernels/ includes nccl.h (and, through it, cuda_runtime.h). Byte
// transfers only: every sum is cugpt's own (kernels/rank_sum.h). Compiled when CUGPT_NCCL is on
// (nn/communicator_nccl.cpp is its one user); each call throws cugpt::Error with NCCL's message.
#pragma once

#include <array>
#include <cstddef>

#include "kernels/runtime.h"

// ncclComm_t is `struct ncclComm*`; declaring the struct lets nn/ hold one.
struct ncclComm;

namespace cugpt {

using NcclUniqueId = std::array<char, 128>;  // NCCL_UNIQUE_ID_BYTES

NcclUniqueId nccl_unique_id();
ncclComm* nccl_comm_init(int size, const NcclUniqueId& id, int rank);
void nccl_comm_destroy(ncclComm* comm) noexcept;
void nccl_comm_abort(ncclComm* comm) noexcept;
// Sends and receives between a start and an end run as one group (no deadlock between pairs).
void nccl_group_start();
void nccl_group_end();
void nccl_send_bytes(const void* data, std::size_t bytes, int peer, ncclComm* comm, Stream stream);
void nccl_recv_bytes(void* data, std::size_t bytes, int peer, ncclComm* comm, Stream stream);

}  // namespace cugpt
