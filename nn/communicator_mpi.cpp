// The MPI communicator: host buffers (the cpu device). Collectives only move bytes
// (MPI_Alltoallv, MPI_Allgatherv, MPI_Allgather); every sum is cugpt's own, in rank order, so the
// result does not depend on the MPI library's choice of reduction algorithm.
#include <mpi.h>

#include <climits>
#include <cstring>

#include "kernels/error.h"
#include "nn/communicator.h"

namespace cugpt {

namespace {

int g_live = 0;  // communicators alive: the last one finalizes MPI

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw Error(std::string("MPI: ") + what + ": " +
              std::string(text, static_cast<std::size_t>(len)));
}

int as_int(std::size_t bytes) {
  if (bytes > static_cast<std::size_t>(INT_MAX))
    throw Error("MPI: a message of " + std::to_string(bytes) + " bytes is over MPI's int counts");
  return static_cast<int>(bytes);
}

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    int ready = 0;
    MPI_Initialized(&ready);
    // Serialized: GradientSync's communication thread makes the calls during the backward,
    // the main thread the others, never both at once.
    if (!ready)
      check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided_), "init");
    else
      MPI_Query_thread(&provided_);
    ++g_live;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  ~MpiCommunicator() override {
    int done = 0;
    MPI_Finalized(&done);
    if (--g_live == 0 && !done) MPI_Finalize();
  }
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override { return "mpi"; }
  bool any_thread() const override { return provided_ >= MPI_THREAD_SERIALIZED; }

  void reduce_scatter_sum(void* data, void* scratch, const std::vector<std::size_t>& counts,
                          DType dtype) override {
    const std::size_t es = dtype_size(dtype);
    const auto n = static_cast<std::size_t>(size_);
    if (counts.size() != n) throw Error("MPI: reduce-scatter needs one count per rank");
    std::vector<int> send_counts(n), send_displs(n), recv_counts(n), recv_displs(n);
    std::size_t offset = 0, mine = 0;
    for (std::size_t r = 0; r < n; ++r) {
      send_counts[r] = as_int(counts[r] * es);
      send_displs[r] = as_int(offset * es);
      if (r == static_cast<std::size_t>(rank_)) mine = offset;
      offset += counts[r];
    }
    const std::size_t own = counts[static_cast<std::size_t>(rank_)];
    for (std::size_t r = 0; r < n; ++r) {
      recv_counts[r] = as_int(own * es);
      recv_displs[r] = as_int(r * own * es);
    }
    // Rank s's piece r lands at scratch[s * own] on rank r: its N copies side by side.
    check(MPI_Alltoallv(data, send_counts.data(), send_displs.data(), MPI_BYTE, scratch,
                        recv_counts.data(), recv_displs.data(), MPI_BYTE, MPI_COMM_WORLD),
          "reduce-scatter");
    sum_in_rank_order(scratch, size_, own, static_cast<char*>(data) + mine * es, dtype);
  }

  void all_gather(void* data, const std::vector<std::size_t>& counts, DType dtype) override {
    const std::size_t es = dtype_size(dtype);
    const auto n = static_cast<std::size_t>(size_);
    if (counts.size() != n) throw Error("MPI: all-gather needs one count per rank");
    std::vector<int> bytes(n), displs(n);
    std::size_t offset = 0;
    for (std::size_t r = 0; r < n; ++r) {
      bytes[r] = as_int(counts[r] * es);
      displs[r] = as_int(offset * es);
      offset += counts[r];
    }
    check(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_BYTE, data, bytes.data(), displs.data(), MPI_BYTE,
                         MPI_COMM_WORLD),
          "all-gather");
  }

  void all_reduce_sum(std::vector<double>& values) override {
    const std::size_t count = values.size();
    std::vector<double> all(count * static_cast<std::size_t>(size_));
    check(MPI_Allgather(values.data(), as_int(count * sizeof(double)), MPI_BYTE, all.data(),
                        as_int(count * sizeof(double)), MPI_BYTE, MPI_COMM_WORLD),
          "all-reduce");
    sum_in_rank_order(all.data(), size_, count, values.data(), DType::f64);
  }

  void send(const void* data, std::size_t bytes, int to) override {
    check(MPI_Send(data, as_int(bytes), MPI_BYTE, to, 0, MPI_COMM_WORLD), "send");
  }
  void receive(void* data, std::size_t bytes, int from) override {
    check(MPI_Recv(data, as_int(bytes), MPI_BYTE, from, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
          "receive");
  }
  void barrier() override { check(MPI_Barrier(MPI_COMM_WORLD), "barrier"); }
  void abort(int code) override { MPI_Abort(MPI_COMM_WORLD, code); }

 private:
  int rank_ = 0, size_ = 1;
  int provided_ = MPI_THREAD_SINGLE;
};

}  // namespace

bool mpi_built() {
  return true;
}

std::unique_ptr<Communicator> mpi_communicator() {
  return std::make_unique<MpiCommunicator>();
}

}  // namespace cugpt
