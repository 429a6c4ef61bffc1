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

namespace cugpt {

using Stream = CUstream_st*;  // nullptr is the default stream
using Event = CUevent_st*;

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

// Copies beside the kernels (optimizer offload, train/offload.h). Every kernel runs on the legacy
// default stream; a copy stream made here does not synchronise with it implicitly, so the order
// between them is the events' alone. Host memory must be page-locked for a copy to overlap.
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

}  // namespace cugpt
