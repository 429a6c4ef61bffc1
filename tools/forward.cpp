// `cugpt forward <config> --weights FILE --tokens "1,2,3;4,5,6" --out logits.npy`: logits of a
// batch as a NumPy array [B, T, V] (float32). With CUGPT_LOGITS_PITCH the model's logits rows
// are padded (models/gpt.h); the file still holds V columns per row.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>

#include "io/atomic_file.h"
#include "io/npy.h"
#include "models/factory.h"
#include "models/weights.h"
#include "nn/bytes.h"
#include "tools/batch.h"
#include "tools/commands.h"
#include "tools/load_warnings.h"

namespace cugpt::tools {

namespace {

struct ForwardOptions {
  std::string config;
  std::string weights;
  std::string tokens;
  std::string mask;
  std::string device = "cpu";
  std::string dtype = "f32";
  std::string out;
  bool allow_missing = false;
  bool allow_extra = false;
};

int run_forward(const ForwardOptions& o) {
  const ModelConfig config = load_config(o.config);
  const Device device = parse_device(o.device);
  const DType dtype = parse_dtype(o.dtype);
  if (device.is_meta()) throw Error("forward needs a device with memory: cpu or cuda");
  check_compute_dtype(device, dtype);
  const auto rows = parse_token_rows(o.tokens);
  std::vector<std::vector<std::int32_t>> mask_rows;
  if (!o.mask.empty()) mask_rows = parse_token_rows(o.mask, "mask");
  const Batch batch = make_batch(config, rows, o.mask.empty() ? nullptr : &mask_rows);
  { AtomicFile probe(o.out); }  // an unwritable --out fails now, not after the forward

  auto arena = Arena::create(device, default_budget(device));
  auto model = build_model(config, arena, dtype);
  LoadOptions lo;
  lo.allow_missing = o.allow_missing;
  lo.allow_extra = o.allow_extra;
  const LoadReport report = load_weights(*model, o.weights, lo);
  print_load_warnings(report, o.weights);

  const Tensor logits = model->forward(batch);
  std::vector<float> values = logits.to_floats();
  // The first V columns of each row are the logits; a wider row (its pitch) ends in padding.
  const std::int64_t V = config.vocab_size, pitch = logits.size(-1);
  if (pitch != V) {
    const std::size_t rows = values.size() / static_cast<std::size_t>(pitch);
    for (std::size_t r = 0; r < rows; ++r)
      std::copy_n(values.begin() + static_cast<std::ptrdiff_t>(r * pitch), V,
                  values.begin() + static_cast<std::ptrdiff_t>(r * V));
    values.resize(rows * static_cast<std::size_t>(V));
  }
  std::vector<std::int64_t> shape = logits.shape().vec();
  shape.back() = V;
  write_npy(o.out, values.data(), shape);
  const ArenaStats s = arena->stats();
  std::printf("wrote %s: logits %s (float32) from %s on %s in %s; arena peak %s\n", o.out.c_str(),
              Shape(shape).str().c_str(), config.name.c_str(), device.str().c_str(),
              dtype_name(dtype), format_bytes(s.peak).c_str());
  return 0;
}

}  // namespace

void add_forward(CLI::App& app) {
  auto o = std::make_shared<ForwardOptions>();
  auto* sub = app.add_subcommand("forward", "Logits of a token batch, written as .npy");
  sub->add_option("config", o->config, "Config path or bundled name")->required();
  sub->add_option("--weights", o->weights, "safetensors checkpoint")->required();
  sub->add_option("--tokens", o->tokens, "Token ids: \"1,2,3;4,5,6\" is two sequences")->required();
  sub->add_option("--mask", o->mask,
                  "Attention mask, same layout (roberta; default: 1 for given tokens, 0 for "
                  "padding added to shorter rows)");
  sub->add_option("--device", o->device, "cpu or cuda[:N]")->capture_default_str();
  sub->add_option("--dtype", o->dtype,
                  "Compute dtype (cpu: f32 or f64; the checkpoint converts to it)")
      ->capture_default_str();
  sub->add_option("--out", o->out, "Output .npy file")->required();
  sub->add_flag("--allow-missing", o->allow_missing, "Accept a checkpoint lacking tensors");
  sub->add_flag("--allow-extra", o->allow_extra, "Accept a checkpoint with unknown tensors");
  on_run(sub, [o] { return run_forward(*o); });
}

}  // namespace cugpt::tools
