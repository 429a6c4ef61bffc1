// The fallback of attention_forward_cuda for head dims the tiled kernels are not built for (the
// tiny configs' D = 8, say): exact, simple and slow. Internal to kernels/cuda.
#pragma once

#include "kernels/attention.h"

namespace cugpt::kernels {

// Any D >= 1 and T up to kGenericMaxKeys; same arguments and results as the tiled kernels.
constexpr int kGenericMaxKeys = 12288;
void attention_generic_cuda(const AttentionCudaArgs& a, Stream stream);

}  // namespace cugpt::kernels
