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

std::vector<int> shard_owners(const Module& model, int world) {
  if (world < 1) throw Error("data parallel: the world needs at least one rank");
  const std::vector<Tensor> params = trainable_parameters(model);
  std::int64_t total = 0;
  for (const Tensor& t : params) total += t.numel();
  std::vector<int> owners;
  std::int64_t seen = 0;
  int rank = 0;
  for (const Tensor& t : params) {
    owners.push_back(rank);
    seen += t.numel();
    // Rank k's run ends once the running count reaches (k + 1)/N of the total.
    while (rank + 1 < world && seen * world >= total * (rank + 1)) ++rank;
  }
  return owners;
}

std::vector<bool> owned_by(const std::vector<int>& owners, int rank) {
  std::vector<bool> out;
  for (const int o : owners) out.push_back(o == rank);
  return out;
}

GradientSync::GradientSync(const Module& model, Communicator& comm, bool zero,
                           std::uint64_t bucket_bytes)
    : comm_(comm), zero_(zero), params_(trainable_parameters(model)) {
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
  const int n = comm.size();
  if (zero) {
    const std::vector<int> owners = shard_owners(model, n);
    lo_.assign(static_cast<std::size_t>(n), total);
    hi_.assign(static_cast<std::size_t>(n), total);
    for (std::size_t i = params_.size(); i-- > 0;) {
      const auto r = static_cast<std::size_t>(owners[i]);
      lo_[r] = offsets_[i];
      if (i + 1 == params_.size() || owners[i + 1] != owners[i])
        hi_[r] = offsets_[i] + params_[i].numel();
    }
    // A rank that owns nothing has an empty range where the next one starts.
    for (std::size_t r = static_cast<std::size_t>(n); r-- > 0;)
      if (lo_[r] == total && hi_[r] == total && r + 1 < static_cast<std::size_t>(n))
        lo_[r] = hi_[r] = lo_[r + 1];
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
      1, std::min(static_cast<std::int64_t>(bucket_bytes) / es / n, longest));
  const auto& arena = first.arena_ptr();
  // Persistent for the run: placed low, beside the model's memory, out of the activations' way.
  bucket_ = Tensor::empty(arena, {n * piece_}, dtype, Category::workspace, Placement::low);
  scratch_ = Tensor::empty(arena, {n * piece_}, dtype, Category::workspace, Placement::low);
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
void GradientSync::rounds(F&& body) const {
  const std::size_t n = lo_.size();
  std::vector<std::int64_t> cursor = lo_;
  std::vector<std::size_t> counts(n);
  for (;;) {
    bool any = false;
    for (std::size_t r = 0; r < n; ++r) {
      counts[r] = static_cast<std::size_t>(std::min(piece_, hi_[r] - cursor[r]));
      any = any || counts[r] > 0;
    }
    if (!any) return;
    body(counts, cursor);
    for (std::size_t r = 0; r < n; ++r) cursor[r] += static_cast<std::int64_t>(counts[r]);
  }
}

void GradientSync::reduce(Gradients& grads) {
  if (bucket_.device().is_meta()) return;  // the buffers are allocated; no data to move
  std::vector<Tensor> g(grads.tensors());
  char* bucket = static_cast<char*>(bucket_.data());
  const DType dtype = bucket_.dtype();
  const std::size_t es = dtype_size(dtype);
  const auto me = static_cast<std::size_t>(comm_.rank());
  rounds([&](const std::vector<std::size_t>& counts, const std::vector<std::int64_t>& at) {
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

void GradientSync::gather_parameters() {
  if (!zero_ || bucket_.device().is_meta()) return;
  std::vector<Tensor> p(params_);
  char* bucket = static_cast<char*>(bucket_.data());
  const DType dtype = bucket_.dtype();
  const std::size_t es = dtype_size(dtype);
  const auto me = static_cast<std::size_t>(comm_.rank());
  rounds([&](const std::vector<std::size_t>& counts, const std::vector<std::int64_t>& at) {
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
