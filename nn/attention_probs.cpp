// Attention probabilities recomputed on the host, for capture where the forward's kernel keeps
// none (the fused CUDA kernel): the layer's q and k are copied back in their dtype and the cpu
// kernel's softmax runs on them in f32.
#include <cmath>

#include "kernels/attention.h"
#include "nn/ops.h"

namespace cugpt::ops {

std::vector<float> attention_probs_host(const AttentionInputs& in, std::int64_t C, std::int64_t H,
                                        bool causal, const std::vector<std::int32_t>* key_mask) {
  const Shape& s = in.q->shape();
  const std::vector<float> q = in.q->to_floats();
  const std::vector<float> k = in.k->shares_storage(*in.q) ? q : in.k->to_floats();
  kernels::AttentionArgs<float> a;
  a.B = static_cast<int>(s[0]);
  a.T = static_cast<int>(s[1]);
  a.H = static_cast<int>(H);
  a.D = static_cast<int>(C / H);
  a.row_stride = static_cast<int>(s[2]);
  a.q = q.data() + in.q_col;
  a.k = k.data() + in.k_col;
  a.v = k.data() + in.k_col;  // the output is discarded: any buffer of the layout will do
  std::vector<float> out(static_cast<std::size_t>(a.B) * a.T * C);
  std::vector<float> probs(static_cast<std::size_t>(a.B) * H * a.T * a.T);
  a.out = out.data();
  a.causal = causal;
  a.key_mask = key_mask ? key_mask->data() : nullptr;
  a.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(a.D)));
  a.probs = probs.data();
  kernels::attention_forward_cpu(a);
  return probs;
}

}  // namespace cugpt::ops
