// Host stand-ins for the CUDA runtime calls the CUDA backend makes (engine/cuda), for the CPU
// emulation: memory is host memory (kernels/device_buffer.h is replaced by device_buffer_emu.h),
// one "device" exists, and copies, memsets and launches run at once, except on a stream created
// at the lowest priority (cudaStreamCreateWithPriority with the least priority: the backend's
// side stream), which is deferred: its work runs when waited for
// (tests/gpu/emulation/stream_emu.h). An event remembers the stream and
// the queue position it was recorded at.
#include <cuda_runtime_api.h>

#include <cstdlib>
#include <cstring>

#include "tests/gpu/emulation/stream_emu.h"

namespace {

struct EmuEvent {
  const void* stream = nullptr;  // the deferred stream it was last recorded on, or null
  size_t position = 0;           // that stream's queue length then
};

// Runs the deferred work the event stands for (nothing for an event recorded elsewhere).
void reach(cudaEvent_t event) {
  const EmuEvent* e = reinterpret_cast<const EmuEvent*>(event);
  if (emu::DeferredStream* stream = e == nullptr ? nullptr : emu::deferred_stream(e->stream))
    stream->run_until(e->position);
}

cudaStream_t new_stream() { return reinterpret_cast<cudaStream_t>(new char); }

}  // namespace

extern "C" {

cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}
cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* properties, int) {
  std::memset(properties, 0, sizeof(*properties));
  std::strcpy(properties->name, "CPU emulation");
  return cudaSuccess;
}
const char* cudaGetErrorString(cudaError_t) { return "emulated error"; }
cudaError_t cudaGetLastError() { return cudaSuccess; }
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int) {
  *stream = new_stream();
  return cudaSuccess;
}
constexpr int kLeastPriority = 0, kGreatestPriority = -5;  // an H100's range
cudaError_t cudaDeviceGetStreamPriorityRange(int* least, int* greatest) {
  *least = kLeastPriority;
  *greatest = kGreatestPriority;
  return cudaSuccess;
}
cudaError_t cudaStreamCreateWithPriority(cudaStream_t* stream, unsigned int, int priority) {
  *stream = new_stream();
  if (priority >= kLeastPriority) emu::deferred_streams()[*stream];
  return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  // A GPU finishes what was queued on a destroyed stream.
  if (emu::DeferredStream* deferred = emu::deferred_stream(stream)) deferred->run_all();
  emu::deferred_streams().erase(stream);
  delete reinterpret_cast<char*>(stream);
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  if (emu::DeferredStream* deferred = emu::deferred_stream(stream)) deferred->run_all();
  return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void* data, int value, size_t bytes, cudaStream_t stream) {
  emu::run_on(stream, [=] { std::memset(data, value, bytes); });
  return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind,
                            cudaStream_t stream) {
  emu::run_on(stream, [=] { std::memmove(dst, src, bytes); });
  return cudaSuccess;
}

// Device allocations, pinned host memory, events and memory info (the backend's arenas,
// pinned upload ring and out-of-memory message).
// The emulated device's memory (cudaMemGetInfo's total): a larger request fails as on an 80 GB
// card, instead of reaching malloc (which AddressSanitizer stops on sizes no machine has).
constexpr size_t kDeviceBytes = size_t{80} << 30;
cudaError_t cudaMalloc(void** p, size_t bytes) {
  *p = bytes > kDeviceBytes ? nullptr : std::malloc(bytes);
  return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t cudaFree(void* p) { std::free(p); return cudaSuccess; }
cudaError_t cudaHostAlloc(void** p, size_t bytes, unsigned int) {
  *p = std::malloc(bytes);
  return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t cudaFreeHost(void* p) { std::free(p); return cudaSuccess; }
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned int) {
  *e = reinterpret_cast<cudaEvent_t>(new EmuEvent);
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t e) {
  delete reinterpret_cast<EmuEvent*>(e);
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  EmuEvent* e = reinterpret_cast<EmuEvent*>(event);
  const emu::DeferredStream* deferred = emu::deferred_stream(stream);
  e->stream = deferred != nullptr ? stream : nullptr;
  e->position = deferred != nullptr ? deferred->work.size() : 0;
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t e) {
  reach(e);
  return cudaSuccess;
}
// Work on an ordinary stream has run already, so waiting runs only the deferred work the event
// stands for. (A deferred stream waiting on an event would need that work to run first: the
// backend's side stream only waits on the main stream, which never lags.)
cudaError_t cudaStreamWaitEvent(cudaStream_t, cudaEvent_t e, unsigned int) {
  reach(e);
  return cudaSuccess;
}
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total) {
  *free_bytes = size_t{3} << 29;
  *total = kDeviceBytes;
  return cudaSuccess;
}
// BERT_PROFILE_STEP's bracket (Backend::profile_range): no profiler watches an emulation.
cudaError_t cudaProfilerStart() { return cudaSuccess; }
cudaError_t cudaProfilerStop() { return cudaSuccess; }
}  // extern "C"
