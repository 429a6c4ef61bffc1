// Forward hooks: which module outputs and which attention maps a forward pass captures, and
// what it captured. A Hooks object is attached to a model (Module::attach_hooks); every module
// then knows its qualified name, and its forward offers its output here. Captures are host f32
// copies, so they outlive the forward's arena and read the same on cpu and cuda.
#pragma once

#include <string>
#include <vector>

#include "nn/tensor.h"

namespace cugpt {

// Qualified-name globs: '*' matches any run of characters within one dotted segment, '**' any
// run across segments ("blocks.*.sa" matches "blocks.3.sa", not "blocks.3.sa.key").
bool glob_match(const std::string& pattern, const std::string& name);

struct Capture {
  std::string name;  // the module's qualified name; "<name>.probs" for attention maps
  Shape shape;
  std::vector<float> values;
  std::string note;  // how it was obtained, where that is not simply "the module's output"
};

class Hooks {
 public:
  // Outputs of the modules whose qualified names match any pattern.
  void capture_outputs(const std::vector<std::string>& patterns);
  // Attention probabilities (B, H, T, T) of the attention modules matching any pattern.
  void capture_attention(const std::vector<std::string>& patterns);

  bool wants_output(const std::string& name) const;
  bool wants_attention(const std::string& name) const;

  // Records a copy of t (nothing on the meta device, which holds no values).
  void record(const std::string& name, const Tensor& t, const std::string& note = "");
  void record(Capture capture);

  const std::vector<Capture>& captures() const { return captures_; }
  // The capture of that name, or nullptr.
  const Capture* find(const std::string& name) const;
  void clear() { captures_.clear(); }

 private:
  std::vector<std::string> outputs_, attention_;
  std::vector<Capture> captures_;
};

}  // namespace cugpt
