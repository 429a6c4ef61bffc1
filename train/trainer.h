// The training loop of the GPT families: micro-batches with gradient accumulation, AdamW or
// SGD with global-norm clipping, warmup + cosine learning rate, validation, and checkpoints
// (model and optimizer, written atomically) from which a run resumes bit-identically on cpu.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "io/checkpoint_dir.h"
#include "models/gpt.h"
#include "nn/optimizer.h"
#include "train/dataset.h"
#include "train/distributed.h"
#include "train/offload.h"

namespace cugpt {

struct TrainOptions {
  std::int64_t steps = 100;
  std::int64_t batch = 8, seq = 64;
  std::int64_t accum = 1;  // micro-batches per optimizer step
  OptimizerOptions optim;
  std::int64_t warmup = 10;
  double min_lr_fraction = 0.1;  // the cosine ends at lr * this
  int recompute = 0;
  std::int64_t eval_every = 0, eval_batches = 4;
  std::uint64_t seed = 1234;
  // Data parallel (a communicator of several ranks): batch is per rank, ZeRO stage 0 or 1, and
  // the bytes of gradients exchanged a round, all ranks' pieces together (train/distributed.h).
  int zero = 0;
  std::uint64_t bucket_bytes = kDefaultBucketBytes;
  // Each block's gradients exchanged while the backward goes on with the blocks below it (the
  // same bits as after the backward; train/distributed.h).
  bool overlap = true;
  // Optimizer offload (train/offload.h): the optimizer's states and master weights, and the
  // host's copies of the parameters and gradients, in `host_arena` (cpu; meta for a meta model).
  OffloadMode offload = OffloadMode::none;
  std::shared_ptr<Arena> host_arena;
};

// Linear warmup to lr over `warmup` steps, then cosine decay to lr * min_lr_fraction at `steps`.
double learning_rate(const TrainOptions& o, std::int64_t step);

struct StepReport {
  std::int64_t step = 0;  // optimizer steps done after this one
  double loss = 0, lr = 0, grad_norm = 0, ms = 0, tokens_per_s = 0;
  double loss_scale = 1;           // the scale this step's backward used (1: no loss scaling)
  bool skipped = false;            // the gradients overflowed: no update (f16 loss scaling)
  std::int64_t skipped_steps = 0;  // skipped so far, this one included
};

class Trainer {
 public:
  Trainer(Gpt& model, const Dataset& data, const TrainOptions& options);
  // One rank of a data-parallel run (train/distributed.h) when `comm` has several ranks: this
  // rank's slice of every global batch, gradients summed over the ranks before the optimizer's
  // step, optimizer states sharded with options.zero = 1.
  Trainer(Gpt& model, const Dataset& data, const TrainOptions& options, Communicator* comm);

  StepReport step();
  double evaluate() const;  // mean validation loss over eval_batches batches
  std::int64_t steps_done() const { return optimizer_.steps(); }
  // With offload, the optimizer updates the host's copies of the parameters, and the gradients
  // are the card's (those of the blocks in slots under optimizer+gradients).
  Optimizer& optimizer() { return optimizer_; }
  Gradients& gradients() { return grads_; }
  const Offload* offload() const { return offload_.get(); }
  // Several ranks: the gradient exchange (null for a single process).
  const GradientSync* sync() const { return sync_.get(); }

  // model.safetensors (parameters) and optimizer.safetensors (states, master weights, and the
  // loss scaler's state in the metadata), each stamped with the step, committed together as
  // one checkpoint of `dir` (io/checkpoint_dir.h). save(dir) locks the directory for the save;
  // a run that saves several times holds a CheckpointDir. resume() verifies the manifest (sizes,
  // checksums, steps) and refuses a torn or mixed pair naming the file.
  // With several ranks, every rank calls save (ZeRO sends its shard of the states to rank 0),
  // and only the rank that passes `out`, rank 0, writes.
  void save(const std::string& dir) const;
  void save(CheckpointDir& out) const;
  void save(CheckpointDir* out) const;
  void resume(const std::string& dir);
  // The same with the manifest verify_checkpoint(dir) already returned (`train --resume` checks
  // it before anything else): the files' checksums are read once, not twice.
  void resume(const std::string& dir, const CheckpointManifest& verified);
  // What every later save records besides the step and the optimizer's state (train/run_record.h):
  // `files` goes into both safetensors files' metadata, `manifest` into the manifest's.
  void describe(std::map<std::string, std::string> files,
                std::map<std::string, std::string> manifest);

 private:
  // The gradients and the optimizer's states, allocated together (on the card, or split by the
  // offload between the card and the host), and the parameters the optimizer updates.
  struct State {
    std::unique_ptr<Offload> offload;
    TrainingState training;
    std::vector<NamedParameter> params;
    std::vector<bool> decay;
  };
  static State allocate(Gpt& model, const TrainOptions& options, const Communicator* comm);
  Trainer(Gpt& model, const Dataset& data, const TrainOptions& options, Communicator* comm,
          State state);

  Gpt& model_;
  const Dataset& data_;
  TrainOptions options_;
  std::unique_ptr<Offload> offload_;
  Gradients grads_;
  Optimizer optimizer_;
  std::map<std::string, std::string> file_record_, manifest_record_;
  Communicator* comm_ = nullptr;        // null or one rank: a single process
  std::unique_ptr<GradientSync> sync_;  // several ranks
  int world() const { return comm_ ? comm_->size() : 1; }
  int rank() const { return comm_ ? comm_->rank() : 0; }
};

}  // namespace cugpt
