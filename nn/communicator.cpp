#include "nn/communicator.h"

#include <cstdlib>
#include <cstring>

#include "kernels/error.h"

namespace cugpt {

namespace {

template <typename T>
void sum_pieces(const T* pieces, int n, std::size_t count, T* out) {
  for (std::size_t i = 0; i < count; ++i) {
    T s = pieces[i];
    for (int r = 1; r < n; ++r) s += pieces[static_cast<std::size_t>(r) * count + i];
    out[i] = s;
  }
}

class SingleCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string name() const override { return "single"; }
  void reduce_scatter_sum(void*, void*, const std::vector<std::size_t>&, DType) override {}
  void all_gather(void*, const std::vector<std::size_t>&, DType) override {}
  void all_reduce_sum(std::vector<double>&) override {}
  void send(const void*, std::size_t, int) override {
    throw Error("communicator: a single process has no other rank to send to");
  }
  void receive(void*, std::size_t, int) override {
    throw Error("communicator: a single process has no other rank to receive from");
  }
  void barrier() override {}
  void abort(int code) override { std::exit(code); }
};

class SimulatedCommunicator final : public Communicator {
 public:
  SimulatedCommunicator(int rank, int size) : rank_(rank), size_(size) {
    if (size < 1 || rank < 0 || rank >= size)
      throw Error("communicator: rank " + std::to_string(rank) + " of a world of " +
                  std::to_string(size));
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override { return "simulated"; }
  void reduce_scatter_sum(void*, void*, const std::vector<std::size_t>&, DType) override {
    refuse();
  }
  void all_gather(void*, const std::vector<std::size_t>&, DType) override { refuse(); }
  void all_reduce_sum(std::vector<double>&) override { refuse(); }
  void send(const void*, std::size_t, int) override { refuse(); }
  void receive(void*, std::size_t, int) override { refuse(); }
  void barrier() override {}
  void abort(int code) override { std::exit(code); }

 private:
  int rank_, size_;
  [[noreturn]] static void refuse() {
    throw Error("communicator: a simulated rank (meta device) moves no data");
  }
};

int env_int(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return 0;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  return (*end == '\0' && n > 0 && n < (1 << 20)) ? static_cast<int>(n) : 0;
}

}  // namespace

void sum_in_rank_order(const void* pieces, int n, std::size_t count, void* out, DType dtype) {
  if (dtype == DType::f32)
    sum_pieces(static_cast<const float*>(pieces), n, count, static_cast<float*>(out));
  else if (dtype == DType::f64)
    sum_pieces(static_cast<const double*>(pieces), n, count, static_cast<double*>(out));
  else
    throw Error(std::string("communicator: host reductions take f32 or f64, not ") +
                dtype_name(dtype));
}

std::unique_ptr<Communicator> single_communicator() {
  return std::make_unique<SingleCommunicator>();
}

std::unique_ptr<Communicator> simulated_communicator(int rank, int size) {
  return std::make_unique<SimulatedCommunicator>(rank, size);
}

int launched_world_size() {
  // Open MPI, MPICH/Intel MPI (PMI), PMIx launchers and Slurm's srun.
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_NTASKS"})
    if (const int n = env_int(name)) return n;
  return 1;
}

int launched_rank() {
  // The same launchers, in the same order: the first variable set answers ("0" included).
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "SLURM_PROCID"})
    if (const char* v = std::getenv(name); v && *v) return env_int(name);
  return 0;
}

}  // namespace cugpt
