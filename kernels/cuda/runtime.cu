#include <vector>

#include "kernels/cuda/check.cuh"
#include "kernels/runtime.h"
#include "kernels/runtime_message.h"

namespace cugpt {

bool cuda_compiled() {
  return true;
}

int cuda_device_count(std::string* reason) {
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error so later calls report their own
    if (reason) {
      const CudaProbeFailure failure = err == cudaErrorInsufficientDriver
                                           ? CudaProbeFailure::insufficient_driver
                                       : err == cudaErrorNoDevice ? CudaProbeFailure::no_device
                                                                  : CudaProbeFailure::other;
      // Only the first two depend on whether a driver is there.
      const bool driver = failure == CudaProbeFailure::other || nvidia_driver_present();
      *reason = cuda_unavailable_reason(failure, driver, cudaGetErrorString(err));
    }
    return 0;
  }
  if (count == 0 && reason) *reason = "no CUDA device: the driver reports 0 devices";
  return count;
}

CudaDeviceInfo cuda_probe(int index) {
  CudaDeviceInfo info;
  info.index = index;
  int count = cuda_device_count(&info.reason);
  if (count == 0) return info;
  if (index < 0 || index >= count) {
    info.reason = "no CUDA device: index " + std::to_string(index) + " out of " +
                  std::to_string(count) + " devices";
    return info;
  }
  cudaDeviceProp prop{};
  CUDA_CHECK(cudaGetDeviceProperties(&prop, index));
  CUDA_CHECK(cudaSetDevice(index));
  CUDA_CHECK(cudaMemGetInfo(&info.free_bytes, &info.total_bytes));
  CUDA_CHECK(cudaDriverGetVersion(&info.driver_version));
  CUDA_CHECK(cudaRuntimeGetVersion(&info.runtime_version));
  info.available = true;
  info.name = prop.name;
  info.sm_count = prop.multiProcessorCount;
  info.cc_major = prop.major;
  info.cc_minor = prop.minor;
  info.shared_mem_per_block_optin = prop.sharedMemPerBlockOptin;
  info.l2_bytes = static_cast<std::size_t>(prop.l2CacheSize);
  return info;
}

void cuda_set_device(int index) {
  CUDA_CHECK(cudaSetDevice(index));
}

void* cuda_malloc(std::size_t bytes) {
  void* ptr = nullptr;
  CUDA_CHECK(cudaMalloc(&ptr, bytes));
  return ptr;
}

void cuda_free(void* ptr) noexcept {
  cudaFree(ptr);
}

void cuda_memcpy_h2d(void* dst, const void* src, std::size_t bytes, Stream stream) {
  CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream));
  CUDA_CHECK(cudaStreamSynchronize(stream));
}

void cuda_memcpy_d2h(void* dst, const void* src, std::size_t bytes, Stream stream) {
  CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream));
  CUDA_CHECK(cudaStreamSynchronize(stream));
}

void cuda_memcpy_d2d(void* dst, const void* src, std::size_t bytes, Stream stream) {
  CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream));
}

void cuda_synchronize() {
  CUDA_CHECK(cudaDeviceSynchronize());
}

Stream cuda_stream_create_nonblocking() {
  cudaStream_t stream = nullptr;
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  return stream;
}

void cuda_stream_destroy(Stream stream) noexcept {
  if (stream) cudaStreamDestroy(stream);
}

Event cuda_event_create() {
  cudaEvent_t event = nullptr;
  CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
  return event;
}

void cuda_event_destroy(Event event) noexcept {
  if (event) cudaEventDestroy(event);
}

void cuda_event_record(Event event, Stream stream) {
  CUDA_CHECK(cudaEventRecord(event, stream));
}

void cuda_stream_wait(Stream stream, Event event) {
  CUDA_CHECK(cudaStreamWaitEvent(stream, event, 0));
}

void cuda_event_synchronize(Event event) {
  CUDA_CHECK(cudaEventSynchronize(event));
}

void cuda_memcpy_async(void* dst, const void* src, std::size_t bytes, Stream stream) {
  CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, stream));
}

void cuda_host_register(void* ptr, std::size_t bytes) {
  CUDA_CHECK(cudaHostRegister(ptr, bytes, cudaHostRegisterDefault));
}

void cuda_host_unregister(void* ptr) noexcept {
  cudaHostUnregister(ptr);
}

void cuda_stream_synchronize(Stream stream) {
  CUDA_CHECK(cudaStreamSynchronize(stream));
}

void cuda_capture_begin(Stream stream) {
  CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeRelaxed));
}

CapturedGraph cuda_capture_end(Stream stream) {
  cudaGraph_t graph = nullptr;
  CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
  CapturedGraph out;
  try {
    std::size_t n = 0;
    CUDA_CHECK(cudaGraphGetNodes(graph, nullptr, &n));
    std::vector<cudaGraphNode_t> nodes(n);
    if (n) CUDA_CHECK(cudaGraphGetNodes(graph, nodes.data(), &n));
    out.nodes = static_cast<int>(n);
    for (cudaGraphNode_t node : nodes) {
      cudaGraphNodeType type{};
      CUDA_CHECK(cudaGraphNodeGetType(node, &type));
      if (type == cudaGraphNodeTypeKernel) ++out.kernels;
    }
    cudaGraphExec_t exec = nullptr;
    CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
    out.exec = exec;
  } catch (...) {
    cudaGraphDestroy(graph);
    throw;
  }
  cudaGraphDestroy(graph);
  return out;
}

void cuda_capture_abort(Stream stream) noexcept {
  cudaGraph_t graph = nullptr;
  if (cudaStreamEndCapture(stream, &graph) == cudaSuccess && graph) cudaGraphDestroy(graph);
  (void)cudaGetLastError();  // a failed capture leaves its error behind: clear it
}

void cuda_graph_launch(GraphExec exec, Stream stream) {
  CUDA_CHECK(cudaGraphLaunch(exec, stream));
}

void cuda_graph_destroy(GraphExec exec) noexcept {
  if (exec) cudaGraphExecDestroy(exec);
}

std::size_t cuda_used_bytes() {
  std::size_t free_b = 0, total_b = 0;
  CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  return total_b - free_b;
}

}  // namespace cugpt
