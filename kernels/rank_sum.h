// rank_sum: the deterministic reduction of a data-parallel exchange on the device
// (nn/communicator_nccl.cpp): `n` pieces of `count` elements side by side at `pieces` (piece s
// at s * count, rank s's copy) summed in rank order, ((p_0 + p_1) + p_2) + ..., into `out`.
// f32 and f64 add in their own type (the cpu's sum_in_rank_order, bit for bit); bf16 and f16
// add in f32 in the same order and round once.
#pragma once

#include <cstddef>

#include "kernels/dtype.h"
#include "kernels/runtime.h"

namespace cugpt::kernels {

void rank_sum_cuda(const void* pieces, int n, std::size_t count, void* out, DType dtype,
                   Stream stream);

}  // namespace cugpt::kernels
