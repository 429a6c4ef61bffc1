// The NCCL communicator: device buffers (the cuda device), one GPU per rank. NCCL moves bytes
// only (grouped ncclSend/ncclRecv); every sum is cugpt's own rank-order sum on the device
// (kernels/rank_sum.h), so, as with MPI, the bits do not depend on NCCL's choice of algorithm.
// Host values (the loss, the norm's partial sums, checkpoint shards) and the bootstrap go through
// the MPI communicator it wraps: rank 0's ncclUniqueId is sent to every rank over MPI.
// All device work is enqueued on the default stream, after the backward's kernels and before
// the optimizer's, which orders it without events.
#include <cstdlib>
#include <string>

#include "kernels/error.h"
#include "kernels/nccl.h"
#include "kernels/rank_sum.h"
#include "kernels/runtime.h"
#include "nn/communicator.h"

namespace cugpt {

namespace {

// The GPU of this rank: its index among the ranks of its node (the launcher's local rank,
// else the world rank) modulo the node's devices.
int local_device(int rank) {
  int local = rank;
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"})
    if (const char* v = std::getenv(name); v && *v) {
      local = std::atoi(v);
      break;
    }
  std::string reason;
  const int devices = cuda_device_count(&reason);
  if (devices == 0) throw Error("NCCL: " + reason);
  return local % devices;
}

class NcclCommunicator final : public Communicator {
 public:
  explicit NcclCommunicator(Communicator& host) : host_(&host) {
    cuda_set_device(local_device(host_->rank()));
    NcclUniqueId id{};
    if (host_->rank() == 0) {
      id = nccl_unique_id();
      for (int r = 1; r < host_->size(); ++r) host_->send(id.data(), id.size(), r);
    } else {
      host_->receive(id.data(), id.size(), 0);
    }
    comm_ = nccl_comm_init(host_->size(), id, host_->rank());
  }
  ~NcclCommunicator() override { nccl_comm_destroy(comm_); }
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const override { return host_->rank(); }
  int size() const override { return host_->size(); }
  std::string name() const override { return "nccl"; }
  bool any_thread() const override { return false; }

  void reduce_scatter_sum(void* data, void* scratch, const std::vector<std::size_t>& counts,
                          DType dtype) override {
    const std::size_t es = dtype_size(dtype);
    const auto n = static_cast<std::size_t>(size());
    const auto me = static_cast<std::size_t>(rank());
    if (counts.size() != n) throw Error("NCCL: reduce-scatter needs one count per rank");
    const std::size_t own = counts[me];
    char* bytes = static_cast<char*>(data);
    char* copies = static_cast<char*>(scratch);
    std::size_t offset = 0, mine = 0;
    // Rank s's piece r lands at scratch[s * own] on rank r: its N copies side by side.
    nccl_group_start();
    for (std::size_t r = 0; r < n; ++r) {
      if (r == me) {
        mine = offset;
        cuda_memcpy_d2d(copies + me * own * es, bytes + offset * es, own * es);
      } else {
        if (counts[r] > 0)
          nccl_send_bytes(bytes + offset * es, counts[r] * es, static_cast<int>(r), comm_, nullptr);
        if (own > 0)
          nccl_recv_bytes(copies + r * own * es, own * es, static_cast<int>(r), comm_, nullptr);
      }
      offset += counts[r];
    }
    nccl_group_end();
    kernels::rank_sum_cuda(copies, size(), own, bytes + mine * es, dtype, nullptr);
  }

  void all_gather(void* data, const std::vector<std::size_t>& counts, DType dtype) override {
    const std::size_t es = dtype_size(dtype);
    const auto n = static_cast<std::size_t>(size());
    const auto me = static_cast<std::size_t>(rank());
    if (counts.size() != n) throw Error("NCCL: all-gather needs one count per rank");
    char* bytes = static_cast<char*>(data);
    std::size_t mine = 0;
    for (std::size_t r = 0; r < me; ++r) mine += counts[r];
    // The pieces differ in size (ncclAllGather takes equal ones): each rank's to every rank.
    nccl_group_start();
    std::size_t offset = 0;
    for (std::size_t r = 0; r < n; ++r) {
      if (r != me) {
        if (counts[me] > 0)
          nccl_send_bytes(bytes + mine * es, counts[me] * es, static_cast<int>(r), comm_, nullptr);
        if (counts[r] > 0)
          nccl_recv_bytes(bytes + offset * es, counts[r] * es, static_cast<int>(r), comm_, nullptr);
      }
      offset += counts[r];
    }
    nccl_group_end();
  }

  // Host values: through MPI.
  void all_reduce_sum(std::vector<double>& values) override { host_->all_reduce_sum(values); }
  void send(const void* data, std::size_t bytes, int to) override { host_->send(data, bytes, to); }
  void receive(void* data, std::size_t bytes, int from) override {
    host_->receive(data, bytes, from);
  }
  void barrier() override { host_->barrier(); }
  void abort(int code) override {
    nccl_comm_abort(comm_);
    comm_ = nullptr;
    host_->abort(code);
  }

 private:
  Communicator* host_;  // MPI: outlives this communicator
  ncclComm* comm_ = nullptr;
};

}  // namespace

bool nccl_built() {
  return true;
}

std::unique_ptr<Communicator> nccl_communicator(Communicator& host) {
  return std::make_unique<NcclCommunicator>(host);
}

}  // namespace cugpt
