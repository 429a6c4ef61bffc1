// The CUDA runtime as the rest of cugpt sees it: plain C++ types only, so that nn/ and models/
// never include cuda_runtime.h. Implemented in kernels/cuda/runtime.cu when CUGPT_CUDA is ON,
// and in kernels/runtime_stub.cpp (every call reports "built without CUDA") when it is OFF.
#pragma once

#include <cstddef>
#include <string>

// cudaStream_t is `struct CUstream_st*`, cudaEvent_t `struct CUevent_st*`; declaring the
// structs lets headers name streams and events.
struct CUstream_st;
struct CUevent_st;
struct CUgraphExec_st;

namespace cugpt {

using Stream = CUstream_st*;  // nullptr is the default stream
using Event = CUevent_st*;
using GraphExec = CUgraphExec_st*;

// The stream the cuda backend (nn/backend_cuda.cpp) launches every op on, this thread: the
// legacy default stream (nullptr) unless a StreamScope has set another. A decode step captured
// as a CUDA graph (models/decode_step.h) runs on its own non-blocking stream this way, since the
// legacy stream cannot be captured.
namespace detail {
inline thread_local Stream this_thread_stream = nullptr;
}
inline Stream current_stream() {
  return detail::this_thread_stream;
}
class StreamScope {
 public:
  explicit StreamScope(Stream stream) : previous_(detail::this_thread_stream) {
    detail::this_thread_stream = stream;
  }
  ~StreamScope() { detail::this_thread_stream = previous_; }
  StreamScope(const StreamScope&) = delete;
  StreamScope& operator=(const StreamScope&) = delete;

 private:
  Stream previous_;
};

// True when this build contains the CUDA device.
bool cuda_compiled();

struct CudaDeviceInfo {
  bool available = false;
  std::string reason;  // why not available ("no CUDA device: ...")
  int index = 0;
  std::string name;
  std::size_t total_bytes = 0;
  std::size_t free_bytes = 0;
  int sm_count = 0;
  int cc_major = 0;
  int cc_minor = 0;
  std::size_t shared_mem_per_block_optin = 0;
  std::size_t l2_bytes = 0;
  int driver_version = 0;
  int runtime_version = 0;
};

// Number of CUDA devices; 0 (and a reason in *reason) when none can be used.
int cuda_device_count(std::string* reason = nullptr);
CudaDeviceInfo cuda_probe(int index = 0);

// Thin wrappers that throw cugpt::Error with the CUDA error string on failure.
void cuda_set_device(int index);
void* cuda_malloc(std::size_t bytes);
void cuda_free(void* ptr) noexcept;
void cuda_memcpy_h2d(void* dst, const void* src, std::size_t bytes, Stream stream = nullptr);
void cuda_memcpy_d2h(void* dst, const void* src, std::size_t bytes, Stream stream = nullptr);
void cuda_memcpy_d2d(void* dst, const void* src, std::size_t bytes, Stream stream = nullptr);
void cuda_synchronize();

// Streams beside the kernels' (optimizer offload's copies, train/offload.h; a captured decode
// step, models/decode_step.h). The kernels run on current_stream(), the legacy default stream
// unless a StreamScope says otherwise; a stream made here does not synchronise with it
// implicitly, so the order between them is the events' (or a synchronize's) alone. Host memory
// must be page-locked for a copy to overlap.
Stream cuda_stream_create_nonblocking();
void cuda_stream_destroy(Stream stream) noexcept;
Event cuda_event_create();  // without timing
void cuda_event_destroy(Event event) noexcept;
void cuda_event_record(Event event, Stream stream);
// Work enqueued on `stream` after this call waits until the event has happened.
void cuda_stream_wait(Stream stream, Event event);
// The host waits until the event has happened.
void cuda_event_synchronize(Event event);
// Enqueues a copy in either direction (cudaMemcpyDefault) and returns at once.
void cuda_memcpy_async(void* dst, const void* src, std::size_t bytes, Stream stream);
// Page-locks (pins) host memory that is already allocated, and releases it again.
void cuda_host_register(void* ptr, std::size_t bytes);
void cuda_host_unregister(void* ptr) noexcept;
// Bytes the driver reports in use on the current device (total - free).
std::size_t cuda_used_bytes();
// The host waits until everything enqueued on `stream` has run.
void cuda_stream_synchronize(Stream stream);

// CUDA graphs. Capture records what is enqueued on `stream` instead of running it (relaxed
// mode: other threads and non-stream calls are unaffected); an op that would synchronise the
// host inside it fails the capture with an error. capture_end instantiates the graph.
struct CapturedGraph {
  GraphExec exec = nullptr;
  int kernels = 0;  // kernel nodes (cuBLAS's included)
  int nodes = 0;    // every node: kernels, copies, memsets
};
void cuda_capture_begin(Stream stream);
CapturedGraph cuda_capture_end(Stream stream);
// Ends a capture that failed part-way and drops what it recorded (the stream is usable again).
void cuda_capture_abort(Stream stream) noexcept;
void cuda_graph_launch(GraphExec exec, Stream stream);
void cuda_graph_destroy(GraphExec exec) noexcept;

}  // namespace cugpt
