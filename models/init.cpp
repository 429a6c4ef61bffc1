#include "models/init.h"

#include <cmath>
#include <random>
#include <set>

namespace cugpt {

namespace {

class Normal {
 public:
  explicit Normal(std::uint64_t seed) : rng_(seed) {}
  double next() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    // 53-bit uniforms in (0, 1]; u1 > 0 keeps the log finite.
    const double u1 = (static_cast<double>(rng_() >> 11) + 1.0) * 0x1.0p-53;
    const double u2 = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
    const double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(2.0 * M_PI * u2);
    has_spare_ = true;
    return r * std::cos(2.0 * M_PI * u2);
  }

 private:
  std::mt19937_64 rng_;
  double spare_ = 0;
  bool has_spare_ = false;
};

void collect_layernorm(const Module& m, std::set<const void*>& out) {
  if (m.type_name() == "LayerNorm")
    for (const auto& [name, t] : m.own_parameters()) out.insert(t.storage_id());
  for (const auto& [name, child] : m.children()) collect_layernorm(*child, out);
}

}  // namespace

void init_parameters(Module& model, std::uint64_t seed, double std) {
  std::set<const void*> layernorm;
  collect_layernorm(model, layernorm);
  Normal normal(seed);
  for (auto& p : model.named_parameters()) {
    Tensor& t = p.tensor;
    if (t.device().is_meta()) continue;
    const bool is_weight =
        p.name.size() >= 7 && p.name.compare(p.name.size() - 7, 7, ".weight") == 0;
    if (layernorm.count(t.storage_id())) {
      t.fill(is_weight ? 1.0 : 0.0);
    } else if (t.ndim() == 1) {
      t.zero();
    } else {
      std::vector<float> values(static_cast<std::size_t>(t.numel()));
      for (float& v : values) v = static_cast<float>(std * normal.next());
      t.copy_from_floats(values);
    }
  }
}

}  // namespace cugpt
