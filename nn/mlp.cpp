#include "nn/mlp.h"

#include "nn/ops.h"

namespace cugpt {

Mlp::Mlp(const std::shared_ptr<Arena>& arena, const MlpSpec& spec, DType dtype)
    : spec_(spec),
      up_(arena, spec.n_embd, spec.hidden, true, dtype, spec.layout),
      down_(arena, spec.hidden, spec.n_embd, true, dtype, spec.layout) {
  register_module(spec.up_name, up_);
  register_module(spec.down_name, down_);
}

Tensor Mlp::forward(const Tensor& x) const {
  const Tensor h = ops::linear_act(x, up_.weight(), up_.bias(),
                                   spec_.layout == WeightLayout::in_out, spec_.activation);
  return down_.forward(h);
}

}  // namespace cugpt
