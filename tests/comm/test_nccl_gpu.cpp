// NcclCommunicator on one GPU (tests/comm/CMakeLists.txt: a plain launch, where the communicator
// initialises MPI as a singleton, and mpirun -np 1). NCCL refuses two ranks on one GPU, so the
// sums here are over one rank: the values must come back unchanged, and what the tests really
// check is the stream ordering and the watchdog. Ordering is made observable with gates: a host
// function that holds a stream until the test opens it (cudaLaunchHostFunc, no device code).
// Exits 77 ("SKIPPED: ...") without a CUDA device, like tests/gpu/gpu_main.cpp.
#define CATCH_CONFIG_RUNNER
#include <cuda_runtime_api.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "comm/nccl_communicator.h"
#include "core/error.h"
#include "kernels/cuda_device_probe.h"

namespace bert {
namespace {

#define REQUIRE_CUDA(call) REQUIRE((call) == cudaSuccess)

std::shared_ptr<MpiCommunicator> g_bootstrap;
std::unique_ptr<NcclCommunicator> g_comm;
cudaStream_t g_compute = nullptr;

// Holds a stream at this point until open() (or, so that a failing test cannot hang the
// process, until a safety timeout). The host function must not call CUDA, and does not.
class StreamGate {
 public:
  explicit StreamGate(void* stream) {
    REQUIRE_CUDA(cudaLaunchHostFunc(static_cast<cudaStream_t>(stream), &StreamGate::hold, this));
  }
  ~StreamGate() { open(); }
  void open() { open_ = true; }

 private:
  static void hold(void* self) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    auto* gate = static_cast<StreamGate*>(self);
    while (!gate->open_ && std::chrono::steady_clock::now() < give_up)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::atomic<bool> open_{false};
};

// Device buffer of `n` elements of T.
template <typename T>
struct DeviceBuffer {
  explicit DeviceBuffer(size_t n) : count(n) { REQUIRE_CUDA(cudaMalloc(reinterpret_cast<void**>(&data), n * sizeof(T))); }
  ~DeviceBuffer() { cudaFree(data); }
  Tensor tensor(ScalarType dtype) const { return Tensor{data, count, dtype}; }
  T* data = nullptr;
  size_t count;
};

// Pinned host memory, so cudaMemcpyAsync is truly asynchronous (ordered on the stream).
template <typename T>
struct PinnedBuffer {
  explicit PinnedBuffer(size_t n) : count(n) { REQUIRE_CUDA(cudaMallocHost(reinterpret_cast<void**>(&data), n * sizeof(T))); }
  ~PinnedBuffer() { cudaFreeHost(data); }
  T* data = nullptr;
  size_t count;
};

bool eventually(const std::function<bool()>& condition, double seconds = 5) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < until) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return condition();
}

template <typename T>
void check_all_reduce(ScalarType dtype) {
  NcclCommunicator& comm = *g_comm;
  const size_t n = 100003;  // not a multiple of any NCCL chunk
  PinnedBuffer<T> host(n);
  for (size_t i = 0; i < n; ++i) host.data[i] = T(0.25) * T(i % 1000) * T(comm.rank() + 1);
  DeviceBuffer<T> device(n);
  REQUIRE_CUDA(cudaMemcpyAsync(device.data, host.data, n * sizeof(T), cudaMemcpyHostToDevice, g_compute));
  comm.all_reduce_sum(device.tensor(dtype));
  REQUIRE_CUDA(cudaMemcpyAsync(host.data, device.data, n * sizeof(T), cudaMemcpyDeviceToHost, g_compute));
  REQUIRE_CUDA(cudaStreamSynchronize(g_compute));
  const int ranks = comm.world_size();
  const T rank_sum = T(ranks * (ranks + 1) / 2);
  size_t wrong = 0;
  for (size_t i = 0; i < n; ++i) wrong += host.data[i] != T(0.25) * T(i % 1000) * rank_sum;
  REQUIRE(wrong == 0);
}

TEST_CASE("NCCL all_reduce_sum on the compute stream, f32 and f64", "[nccl][gpu]") {
  REQUIRE(g_comm->name() == "nccl");
  REQUIRE(g_comm->tensor_memory() == CommMemory::kDevice);
  check_all_reduce<float>(ScalarType::kF32);
  check_all_reduce<double>(ScalarType::kF64);
  DeviceBuffer<uint16_t> bf16(8);
  REQUIRE_THROWS_AS(g_comm->all_reduce_sum(bf16.tensor(ScalarType::kBF16)), BertError);
  REQUIRE_THROWS_AS(g_comm->all_reduce_sum_async(bf16.tensor(ScalarType::kBF16)), BertError);
  // Every collective is seen complete by the watchdog (its events are recycled).
  REQUIRE(eventually([] { return g_comm->outstanding() == 0; }));
}

TEST_CASE("NCCL broadcast(Tensor) and the host collectives over MPI", "[nccl][gpu]") {
  NcclCommunicator& comm = *g_comm;
  const size_t n = 4097;
  PinnedBuffer<int32_t> host(n);
  for (size_t i = 0; i < n; ++i) host.data[i] = comm.is_root() ? int32_t(i * 7) : -1;
  DeviceBuffer<int32_t> device(n);
  REQUIRE_CUDA(cudaMemcpyAsync(device.data, host.data, n * sizeof(int32_t), cudaMemcpyHostToDevice, g_compute));
  comm.broadcast(device.tensor(ScalarType::kI32));
  REQUIRE_CUDA(cudaMemcpyAsync(host.data, device.data, n * sizeof(int32_t), cudaMemcpyDeviceToHost, g_compute));
  REQUIRE_CUDA(cudaStreamSynchronize(g_compute));
  size_t wrong = 0;
  for (size_t i = 0; i < n; ++i) wrong += host.data[i] != int32_t(i * 7);
  REQUIRE(wrong == 0);

  REQUIRE(comm.all_reduce_sum_double(1.5) == 1.5 * comm.world_size());
  std::vector<double> values = {1.0, double(comm.rank())};
  comm.all_reduce_sum(values.data(), values.size());
  REQUIRE(values[0] == double(comm.world_size()));
  comm.barrier();
}

TEST_CASE("all_reduce_sum_async starts after the compute stream's earlier work", "[nccl][gpu]") {
  NcclCommunicator& comm = *g_comm;
  const size_t n = 1 << 16;
  PinnedBuffer<float> host(n);
  for (size_t i = 0; i < n; ++i) host.data[i] = float(i % 977);
  DeviceBuffer<float> grads(n);
  REQUIRE(eventually([&] { return comm.outstanding() == 0; }));
  {
    StreamGate backward(g_compute);  // the kernels that produce the bucket have not run yet
    REQUIRE_CUDA(cudaMemcpyAsync(grads.data, host.data, n * sizeof(float), cudaMemcpyHostToDevice, g_compute));
    comm.all_reduce_sum_async(grads.tensor(ScalarType::kF32));
    // Had the communication stream not waited for the compute stream, the (one-rank) reduction
    // would be done within microseconds and the watchdog would have seen it complete.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    REQUIRE(comm.outstanding() == 1);
    backward.open();
    REQUIRE(eventually([&] { return comm.outstanding() == 0; }));
  }
  comm.wait_all();
  std::vector<float> result(n);
  REQUIRE_CUDA(cudaMemcpyAsync(result.data(), grads.data, n * sizeof(float), cudaMemcpyDeviceToHost, g_compute));
  REQUIRE_CUDA(cudaStreamSynchronize(g_compute));
  size_t wrong = 0;
  for (size_t i = 0; i < n; ++i) wrong += result[i] != float(i % 977) * float(comm.world_size());
  REQUIRE(wrong == 0);
}

TEST_CASE("async reductions overlap later compute work; wait_all orders the compute stream after them",
          "[nccl][gpu]") {
  NcclCommunicator& comm = *g_comm;
  const size_t n = 1 << 16;
  PinnedBuffer<float> host(n);
  for (size_t i = 0; i < n; ++i) host.data[i] = 0.5f * float(i % 613);
  DeviceBuffer<float> bucket_a(n), bucket_b(n), other(n);
  REQUIRE_CUDA(cudaMemcpyAsync(bucket_a.data, host.data, n * sizeof(float), cudaMemcpyHostToDevice, g_compute));
  REQUIRE_CUDA(cudaMemcpyAsync(bucket_b.data, host.data, n * sizeof(float), cudaMemcpyHostToDevice, g_compute));
  cudaEvent_t backward_done = nullptr, after_wait = nullptr, after_tensor_collective = nullptr;
  REQUIRE_CUDA(cudaEventCreateWithFlags(&backward_done, cudaEventDisableTiming));
  REQUIRE_CUDA(cudaEventCreateWithFlags(&after_wait, cudaEventDisableTiming));
  REQUIRE_CUDA(cudaEventCreateWithFlags(&after_tensor_collective, cudaEventDisableTiming));
  {
    StreamGate network(comm.communication_stream());  // a slow all-reduce
    comm.all_reduce_sum_async(bucket_a.tensor(ScalarType::kF32));
    comm.all_reduce_sum_async(bucket_b.tensor(ScalarType::kF32));
    // More "backward" work on the compute stream runs while both reductions are held.
    REQUIRE_CUDA(cudaMemsetAsync(other.data, 0, n * sizeof(float), g_compute));
    REQUIRE_CUDA(cudaEventRecord(backward_done, g_compute));
    REQUIRE(eventually([&] { return cudaEventQuery(backward_done) == cudaSuccess; }));
    REQUIRE(comm.outstanding() == 2);

    const auto before = std::chrono::steady_clock::now();
    comm.wait_all();  // must not block the host
    REQUIRE(std::chrono::steady_clock::now() - before < std::chrono::seconds(1));
    std::vector<float> result(n);
    REQUIRE_CUDA(cudaMemcpyAsync(host.data, bucket_b.data, n * sizeof(float), cudaMemcpyDeviceToHost, g_compute));
    REQUIRE_CUDA(cudaEventRecord(after_wait, g_compute));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    REQUIRE(cudaEventQuery(after_wait) == cudaErrorNotReady);  // the compute stream waits
    network.open();
    REQUIRE_CUDA(cudaStreamSynchronize(g_compute));
    REQUIRE(eventually([&] { return comm.outstanding() == 0; }));
  }
  size_t wrong = 0;
  for (size_t i = 0; i < n; ++i) wrong += host.data[i] != 0.5f * float(i % 613) * float(comm.world_size());
  REQUIRE(wrong == 0);

  // A Tensor collective made while an async one is outstanding is ordered after it.
  {
    StreamGate network(comm.communication_stream());
    comm.all_reduce_sum_async(bucket_a.tensor(ScalarType::kF32));
    comm.all_reduce_sum(other.tensor(ScalarType::kF32));
    REQUIRE_CUDA(cudaEventRecord(after_tensor_collective, g_compute));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    REQUIRE(cudaEventQuery(after_tensor_collective) == cudaErrorNotReady);
    network.open();
    REQUIRE_CUDA(cudaStreamSynchronize(g_compute));
  }
  REQUIRE(eventually([&] { return comm.outstanding() == 0; }));
  cudaEventDestroy(backward_done);
  cudaEventDestroy(after_wait);
  cudaEventDestroy(after_tensor_collective);
}

// Last: it aborts a communicator of its own (sharing the MPI bootstrap), with the job-ending
// step replaced by a hook that records the message.
TEST_CASE("a collective that does not complete ends with a message naming rank and collective",
          "[nccl][gpu][watchdog]") {
  std::mutex mutex;
  std::vector<std::string> messages;
  CommOptions options;
  options.timeout_seconds = 0.2;
  NcclCommunicator comm(options, g_compute, g_bootstrap, [&](const std::string& message) {
    std::lock_guard<std::mutex> lock(mutex);
    messages.push_back(message);
  });
  REQUIRE(comm.outstanding() == 0);
  DeviceBuffer<float> grads(1024);
  const auto started = std::chrono::steady_clock::now();
  {
    StreamGate hung_peer(comm.communication_stream());  // the reduction never finishes
    comm.all_reduce_sum_async(grads.tensor(ScalarType::kF32));
    REQUIRE(eventually([&] { return comm.failed(); }));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    CHECK(seconds >= 0.2);
    CHECK(seconds < 2.0);
    // ncclCommAbort may synchronise the device: release the stream, as NCCL's abort flag would
    // release its own kernels stuck waiting for a dead peer.
    hung_peer.open();
    REQUIRE(eventually([&] {
      std::lock_guard<std::mutex> lock(mutex);
      return !messages.empty();
    }, 15));
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    REQUIRE(messages == std::vector<std::string>{
                            "rank " + std::to_string(comm.rank()) +
                            ": NCCL all_reduce_sum_async: did not complete within 0.2 s (a peer may have died)"});
  }
  REQUIRE_THROWS_WITH(comm.all_reduce_sum(grads.tensor(ScalarType::kF32)),
                      Catch::Contains("aborted after: rank ") && Catch::Contains("did not complete"));
  REQUIRE_CUDA(cudaStreamSynchronize(static_cast<cudaStream_t>(comm.communication_stream())));
  REQUIRE_CUDA(cudaStreamSynchronize(g_compute));
}

}  // namespace
}  // namespace bert

int main(int argc, char** argv) {
  if (bert::report_missing_cuda_device()) return bert::kSkipExitCode;
  int failed = 1;
  try {
    const int device = bert::select_local_cuda_device();
    if (cudaStreamCreateWithFlags(&bert::g_compute, cudaStreamNonBlocking) != cudaSuccess) {
      std::fprintf(stderr, "error: cudaStreamCreate failed\n");
      return 1;
    }
    bert::CommOptions options;
    options.timeout_seconds = 60;  // generous: a failed REQUIRE must not look like a stall
    bert::g_bootstrap = std::make_shared<bert::MpiCommunicator>(options);
    bert::g_comm = std::make_unique<bert::NcclCommunicator>(options, bert::g_compute, bert::g_bootstrap);
    std::printf("rank %d of %d on GPU %d\n", bert::g_comm->rank(), bert::g_comm->world_size(), device);
    failed = Catch::Session().run(argc, argv);
    bert::g_comm.reset();
    bert::g_bootstrap.reset();  // MPI_Finalize
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return failed > 0 ? 1 : 0;
}
