// Forward hooks: which module outputs and which attention maps a forward pass captures, what it
// captured, and which outputs it replaces. A Hooks object is attached to a model
// (Module::attach_hooks); every module then knows its qualified name, and its forward offers its
// output here. Captures are host f32 copies, so they outlive the forward's arena and read the
// same on cpu and cuda. Writes (ablation, patching) replace part of an output before anything
// downstream reads it, and before it is captured.
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

// A replacement of (part of) a hooked value (B, T, N): the columns [col_begin, col_begin +
// col_count) of the rows at `position` (-1: every position) take `values`, or zero when values
// is empty. values are full rows broadcast over what they omit: N values (one row for every
// position, e.g. a mean over a reference batch), T * N (one sequence) or B * T * N (a saved
// activation of the same batch). One attention head's output is the columns [h D, (h + 1) D)
// of "<attention>.heads".
struct Write {
  std::string pattern;  // a glob, as for captures
  std::int64_t position = -1;
  std::int64_t col_begin = 0, col_count = -1;  // -1: to the end of the row
  std::vector<float> values;
};

class Hooks {
 public:
  // Outputs of the modules whose qualified names match any pattern.
  void capture_outputs(const std::vector<std::string>& patterns);
  // Attention probabilities (B, H, T, T) of the attention modules matching any pattern.
  void capture_attention(const std::vector<std::string>& patterns);

  // Replaces what the matching hook points output during every forward until clear_writes().
  void write(Write w);
  void clear_writes() { writes_.clear(); }

  bool wants_output(const std::string& name) const;
  bool wants_attention(const std::string& name) const;

  // What a module's forward returns at hook point `name`: t with the matching writes applied
  // (a new tensor on t's arena; t itself when none match), recorded when it is wanted.
  Tensor apply(const std::string& name, Tensor t);

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
  std::vector<Write> writes_;
};

}  // namespace cugpt
