// The CUDA runtime API of kernels/runtime.h for builds with CUGPT_CUDA=OFF: the device probe
// says why there is no GPU, and anything that would touch one throws.
#include "kernels/error.h"
#include "kernels/runtime.h"

namespace cugpt {
namespace {
const char* kReason = "no CUDA device: cugpt was built without CUDA (CUGPT_CUDA=OFF)";
[[noreturn]] void no_cuda() {
  throw Error(kReason);
}
}  // namespace

bool cuda_compiled() {
  return false;
}

int cuda_device_count(std::string* reason) {
  if (reason) *reason = kReason;
  return 0;
}

CudaDeviceInfo cuda_probe(int index) {
  CudaDeviceInfo info;
  info.index = index;
  info.reason = kReason;
  return info;
}

void cuda_set_device(int) {
  no_cuda();
}
void* cuda_malloc(std::size_t) {
  no_cuda();
}
void cuda_free(void*) noexcept {}
void cuda_memcpy_h2d(void*, const void*, std::size_t, Stream) {
  no_cuda();
}
void cuda_memcpy_d2h(void*, const void*, std::size_t, Stream) {
  no_cuda();
}
void cuda_memcpy_d2d(void*, const void*, std::size_t, Stream) {
  no_cuda();
}
void cuda_synchronize() {
  no_cuda();
}
Stream cuda_stream_create_nonblocking() {
  no_cuda();
}
void cuda_stream_destroy(Stream) noexcept {}
Event cuda_event_create() {
  no_cuda();
}
void cuda_event_destroy(Event) noexcept {}
void cuda_event_record(Event, Stream) {
  no_cuda();
}
void cuda_stream_wait(Stream, Event) {
  no_cuda();
}
void cuda_event_synchronize(Event) {
  no_cuda();
}
void cuda_memcpy_async(void*, const void*, std::size_t, Stream) {
  no_cuda();
}
void cuda_host_register(void*, std::size_t) {
  no_cuda();
}
void cuda_host_unregister(void*) noexcept {}
std::size_t cuda_used_bytes() {
  no_cuda();
}
void cuda_stream_synchronize(Stream) {
  no_cuda();
}
void cuda_capture_begin(Stream) {
  no_cuda();
}
CapturedGraph cuda_capture_end(Stream) {
  no_cuda();
}
void cuda_capture_abort(Stream) noexcept {}
void cuda_graph_launch(GraphExec, Stream) {
  no_cuda();
}
void cuda_graph_destroy(GraphExec) noexcept {}

}  // namespace cugpt
