#include "train/distributed.h"

#include <algorithm>
#include <cstring>

#include "kernels/runtime.h"

namespace cugpt {

namespace {

void copy_bytes(const Device& device, void* dst, const void* src, std::size_t bytes) {
  if (device.is_cuda())
    cuda_memcpy_d2d(dst, src, bytes);
  else
    std::memcpy(dst, src, bytes);
}

}  // namespace

GradientSync::GradientSync(const Module& model, Communicator& comm, bool zero,
                           std::uint64_t bucket_bytes)
    : GradientSync(model, comm, SyncOptions{zero, bucket_bytes, false, {}}) {}

GradientSync::GradientSync(const Module& model, Communicator& comm, const SyncOptions& options)
    : comm_(comm), zero_(options.zero), params_(trainable_parameters(model)) {
  if (params_.empty()) throw Error("data parallel: the model has no trainable parameters");
  const Tensor& first = params_[0];
  const DType dtype = first.dtype();
  std::int64_t total = 0;
  for (const Tensor& t : params_) {
    if (t.dtype() != dtype)
      throw Error("data parallel: the trainable parameters must share one dtype");
    offsets_.push_back(total);
    total += t.numel();
  }
  if (first.device().is_cuda() && comm.name() == "mpi")
    throw Error("data parallel on cuda needs NCCL: the MPI communicator moves host memory");
  if (first.device().is_cpu() && comm.name() == "nccl")
    throw Error("data parallel on cpu needs MPI: the NCCL communicator moves device memory");
  const int n = comm.size();
  if (zero_) {
    const ShardLayout layout = ShardLayout::of(model, n, comm.rank());
    for (int r = 0; r < n; ++r) {
      lo_.push_back(layout.flat(r).first);
      hi_.push_back(layout.flat(r).last);
    }
  } else {
    for (int r = 0; r < n; ++r) {
      lo_.push_back(total * r / n);
      hi_.push_back(total * (r + 1) / n);
    }
  }
  std::int64_t longest = 1;
  for (std::size_t r = 0; r < lo_.size(); ++r) longest = std::max(longest, hi_[r] - lo_[r]);
  const auto es = static_cast<std::int64_t>(dtype_size(dtype));
  // The bucket holds one piece per rank: its size, not the piece's, is what the card pays.
  piece_ = std::max<std::int64_t>(
      1, std::min(static_cast<std::int64_t>(options.bucket_bytes) / es / n, longest));
  const auto& arena = first.arena_ptr();
  // Persistent for the run: placed low, beside the model's memory, out of the activations' way.
  bucket_ = Tensor::empty(arena, {n * piece_}, dtype, Category::workspace, Placement::low);
  scratch_ = Tensor::empty(arena, {n * piece_}, dtype, Category::workspace, Placement::low);
  if (!options.overlap) return;
  if (options.blocks.empty()) throw Error("data parallel: overlap needs the model's blocks");
  // Each block's parameters are one run of the flat vector (registry order is the modules').
  std::vector<bool> in_block(params_.size(), false);
  for (const Module* block : options.blocks) {
    Segment seg{total, 0};
    std::int64_t elements = 0;
    for (const Tensor& t : trainable_parameters(*block)) {
      std::size_t i = 0;
      while (i < params_.size() && params_[i].storage_id() != t.storage_id()) ++i;
      if (i == params_.size() || in_block[i])
        throw Error("data parallel: a block's parameter is not one of the model's");
      in_block[i] = true;
      seg.first = std::min(seg.first, offsets_[i]);
      seg.last = std::max(seg.last, offsets_[i] + t.numel());
      elements += t.numel();
    }
    if (elements == 0) seg = Segment{};
    if (seg.last - seg.first != elements)
      throw Error("data parallel: a block's parameters are not contiguous in registry order");
    blocks_.push_back(seg);
  }
  // What no block holds, in runs of consecutive parameters.
  for (std::size_t i = 0; i < params_.size(); ++i) {
    if (in_block[i]) continue;
    const std::int64_t end = offsets_[i] + params_[i].numel();
    if (!rest_.empty() && rest_.back().last == offsets_[i])
      rest_.back().last = end;
    else
      rest_.push_back(Segment{offsets_[i], end});
  }
  started_.assign(blocks_.size(), false);
  // A thread of its own only where the communicator may be called from it, on host memory
  // (cuda work is ordered by its stream instead) with data to move (not meta).
  if (comm.any_thread() && first.device().is_cpu()) worker_ = std::thread([this] { work(); });
}

GradientSync::~GradientSync() {
  if (!worker_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  // The queued exchanges finish first: every rank queued them, so their collectives complete
  // (after an error, run_ranks then ends the run through abort).
  worker_.join();
}

void GradientSync::copy_flat(std::vector<Tensor>& tensors, std::int64_t first, std::int64_t n,
                             char* buf, bool into_buffer) const {
  const std::size_t es = dtype_size(tensors[0].dtype());
  const Device device = tensors[0].device();
  auto i = static_cast<std::size_t>(std::upper_bound(offsets_.begin(), offsets_.end(), first) -
                                    offsets_.begin() - 1);
  while (n > 0) {
    const std::int64_t at = first - offsets_[i];
    const std::int64_t take = std::min(n, tensors[i].numel() - at);
    char* t = static_cast<char*>(tensors[i].data()) + static_cast<std::size_t>(at) * es;
    const std::size_t bytes = static_cast<std::size_t>(take) * es;
    if (into_buffer)
      copy_bytes(device, buf, t, bytes);
    else
      copy_bytes(device, t, buf, bytes);
    buf += bytes;
    first += take;
    n -= take;
    ++i;
  }
}

template <typename F>
void GradientSync::rounds(const std::vector<std::int64_t>& lo, const std::vector<std::int64_t>& hi,
                          F&& body) const {
  const std::size_t n = lo.size();
  std::vector<std::int64_t> cursor = lo;
  std::vector<std::size_t> counts(n);
  for (;;) {
    bool any = false;
    for (std::size_t r = 0; r < n; ++r) {
      counts[r] = static_cast<std::size_t>(std::min(piece_, hi[r] - cursor[r]));
      any = any || counts[r] > 0;
    }
    if (!any) return;
    body(counts, cursor);
    for (std::size_t r = 0; r < n; ++r) cursor[r] += static_cast<std::int64_t>(counts[r]);
  }
}

void GradientSync::exchange(std::vector<Tensor>& g, Segment s) {
  // Each rank's part of the segment: its own range's (ZeRO: the owners'), or an even cut.
  const std::size_t n = lo_.size();
  std::vector<std::int64_t> lo(n), hi(n);
  for (std::size_t r = 0; r < n; ++r) {
    if (zero_) {
      lo[r] = std::max(lo_[r], s.first);
      hi[r] = std::max(lo[r], std::min(hi_[r], s.last));
    } else {
      const std::int64_t len = s.last - s.first;
      lo[r] = s.first + len * static_cast<std::int64_t>(r) / static_cast<std::int64_t>(n);
      hi[r] = s.first + len * static_cast<std::int64_t>(r + 1) / static_cast<std::int64_t>(n);
    }
  }
  char* bucket = static_cast<char*>(bucket_.data());
  const DType dtype = bucket_.dtype();
  const std::size_t es = dtype_size(dtype);
  const auto me = static_cast<std::size_t>(comm_.rank());
  rounds(lo, hi, [&](const std::vector<std::size_t>& counts, const std::vector<std::int64_t>& at) {
    std::size_t offset = 0, mine = 0;
    for (std::size_t r = 0; r < counts.size(); ++r) {
      if (r == me) mine = offset;
      copy_flat(g, at[r], static_cast<std::int64_t>(counts[r]), bucket + offset * es, true);
      offset += counts[r];
    }
    comm_.reduce_scatter_sum(bucket, scratch_.data(), counts, dtype);
    if (zero_) {
      copy_flat(g, at[me], static_cast<std::int64_t>(counts[me]), bucket + mine * es, false);
      return;
    }
    comm_.all_gather(bucket, counts, dtype);
    offset = 0;
    for (std::size_t r = 0; r < counts.size(); ++r) {
      copy_flat(g, at[r], static_cast<std::int64_t>(counts[r]), bucket + offset * es, false);
      offset += counts[r];
    }
  });
}

void GradientSync::work() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopped with nothing left
    const std::size_t block = queue_.front();
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    try {
      exchange(step_grads_, blocks_[block]);
    } catch (...) {
      lock.lock();
      if (!error_) error_ = std::current_exception();
      lock.unlock();
    }
    lock.lock();
    busy_ = false;
    if (queue_.empty()) idle_.notify_all();
  }
}

void GradientSync::wait_idle() {
  std::unique_lock<std::mutex> lock(mutex_);
  idle_.wait(lock, [&] { return queue_.empty() && !busy_; });
  if (error_) {
    std::exception_ptr e = error_;
    error_ = nullptr;
    std::rethrow_exception(e);
  }
}

void GradientSync::block_done(std::size_t block, Gradients& grads) {
  if (block >= blocks_.size())
    throw Error("data parallel: block " + std::to_string(block) + " has no exchange (overlap off)");
  if (bucket_.device().is_meta() || started_[block]) return;
  started_[block] = true;
  if (!worker_.joinable()) {
    std::vector<Tensor> g(grads.tensors());
    exchange(g, blocks_[block]);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (queue_.empty() && !busy_) step_grads_ = grads.tensors();  // the step's first block
    queue_.push_back(block);
  }
  wake_.notify_one();
}

void GradientSync::reduce(Gradients& grads) {
  if (bucket_.device().is_meta()) return;  // the buffers are allocated; no data to move
  std::vector<Tensor> g(grads.tensors());
  if (blocks_.empty()) {
    exchange(g, Segment{0, offsets_.back() + params_.back().numel()});
    return;
  }
  if (worker_.joinable()) wait_idle();
  // The same order on every rank: the blocks no block_done started (last to first, as the
  // backward would have), then the rest in flat order.
  for (std::size_t b = blocks_.size(); b-- > 0;)
    if (!started_[b]) exchange(g, blocks_[b]);
  for (const Segment& s : rest_) exchange(g, s);
  started_.assign(blocks_.size(), false);
}

void GradientSync::gather_parameters() {
  if (!zero_ || bucket_.device().is_meta()) return;
  std::vector<Tensor> p(params_);
  char* bucket = static_cast<char*>(bucket_.data());
  const DType dtype = bucket_.dtype();
  const std::size_t es = dtype_size(dtype);
  const auto me = static_cast<std::size_t>(comm_.rank());
  rounds(
      lo_, hi_, [&](const std::vector<std::size_t>& counts, const std::vector<std::int64_t>& at) {
        std::size_t offset = 0;
        for (std::size_t r = 0; r < me; ++r) offset += counts[r];
        copy_flat(p, at[me], static_cast<std::int64_t>(counts[me]), bucket + offset * es, true);
        comm_.all_gather(bucket, counts, dtype);
        offset = 0;
        for (std::size_t r = 0; r < counts.size(); ++r) {
          if (r != me)
            copy_flat(p, at[r], static_cast<std::int64_t>(counts[r]), bucket + offset * es, false);
          offset += counts[r];
        }
      });
}

}  // namespace cugpt
