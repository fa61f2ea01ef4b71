// The CPU emulation's own rules (emu.h), on small kernels written for them: barriers order the
// block's threads, a read without the barrier sees the old value on every run, warp exchanges,
// cp.async landing only at its thread's wait, stacks reused over blocks of up to 1,024
// threads, a barrier that some threads never reach stopping the launch instead of hanging, and
// a deferred stream (stream_emu.h, runtime_emu.cpp) running its work only when waited for.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <vector>

#include "tests/gpu/emulation/emu.h"

namespace {

constexpr int kMaxThreads = 1024;

// out[tid] = the value that thread tid + 1 (mod n) wrote, with or without the barrier between.
void neighbour_kernel(int* out, int value, bool barrier) {
  emu::note_grid_dependency_sync();
  __shared__ int slots[kMaxThreads];
  const int tid = threadIdx.x, n = blockDim.x;
  slots[tid] = value;
  if (barrier) __syncthreads();
  out[blockIdx.x * n + tid] = slots[(tid + 1) % n];
}

void xor_kernel(int* out) {
  emu::note_grid_dependency_sync();
  out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, static_cast<int>(threadIdx.x), 1);
}

// Thread 0 issues one 16-byte copy and reads its destination before and after the wait.
void copy_kernel(const float* global, float* before, float* after) {
  emu::note_grid_dependency_sync();
  __shared__ float tile[4];
  if (threadIdx.x != 0) return;
  emu::copy_async_16(tile, global, true);
  std::memcpy(before, tile, sizeof tile);
  emu::wait_copies();
  std::memcpy(after, tile, sizeof tile);
}

void fill_kernel(int* out, int value) {
  emu::note_grid_dependency_sync();
  out[threadIdx.x] = value;
}

// Thread 0 leaves before the barrier the others wait at.
void early_exit_kernel() {
  emu::note_grid_dependency_sync();
  if (threadIdx.x == 0) return;
  __syncthreads();
}

int reverse() {
  const char* value = std::getenv("BERT_EMU_REVERSE");
  return value != nullptr && std::strcmp(value, "1") == 0;
}

}  // namespace

TEST_CASE("emulation: a barrier shows every thread's write, in blocks of up to 1024 threads",
          "[emu]") {
  for (const int threads : {32, 128, kMaxThreads}) {
    const int blocks = 3;
    std::vector<int> out(blocks * threads, -1);
    emu::launch(neighbour_kernel, dim3(blocks), dim3(threads))(out.data(), threads + 7, true);
    for (int value : out) REQUIRE(value == threads + 7);
  }
}

TEST_CASE("emulation: a read without the barrier sees the old value, the same on every run",
          "[emu]") {
  const int threads = 64;
  std::vector<int> out(threads);
  for (int run = 0; run < 2; ++run) {
    emu::launch(neighbour_kernel, dim3(1), dim3(threads))(out.data(), 1, true);
    emu::launch(neighbour_kernel, dim3(1), dim3(threads))(out.data(), 2, false);
    // In thread order, thread t reads slot t + 1 before thread t + 1 writes it; only the last
    // thread reads a slot (0) already written. BERT_EMU_REVERSE=1 gives the mirror image.
    for (int t = 0; t + 1 < threads; ++t) REQUIRE(out[t] == (reverse() ? 2 : 1));
    REQUIRE(out[threads - 1] == (reverse() ? 1 : 2));
  }
}

TEST_CASE("emulation: warp shuffles exchange between lanes", "[emu]") {
  std::vector<int> out(64);
  emu::launch(xor_kernel, dim3(1), dim3(64))(out.data());
  for (int t = 0; t < 64; ++t) REQUIRE(out[t] == (t ^ 1));
}

TEST_CASE("emulation: cp.async lands at its thread's wait, NaN until then", "[emu]") {
  const float global[4] = {1.0f, 2.0f, 3.0f, 4.0f};
  float before[4], after[4];
  emu::launch(copy_kernel, dim3(1), dim3(32))(global, before, after);
  for (int i = 0; i < 4; ++i) {
    CHECK(std::isnan(before[i]));
    CHECK(after[i] == global[i]);
  }
}

TEST_CASE("emulation: a barrier some threads never reach stops the launch with a message",
          "[emu]") {
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    std::signal(SIGABRT, SIG_DFL);  // the child dies of it; Catch2's handler stays the parent's
    emu::launch(early_exit_kernel, dim3(1), dim3(64))();
    _exit(0);  // not reached when the emulation stops the launch
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGABRT);
}

TEST_CASE("emulation: a deferred stream's work runs when waited for, up to what is waited for",
          "[emu]") {
  int least = 1, greatest = 1;
  REQUIRE(cudaDeviceGetStreamPriorityRange(&least, &greatest) == cudaSuccess);
  REQUIRE(greatest < least);
  cudaStream_t side = nullptr, ordinary = nullptr, urgent = nullptr;
  REQUIRE(cudaStreamCreateWithPriority(&side, cudaStreamNonBlocking, least) == cudaSuccess);
  REQUIRE(cudaStreamCreateWithFlags(&ordinary, cudaStreamNonBlocking) == cudaSuccess);
  REQUIRE(cudaStreamCreateWithPriority(&urgent, cudaStreamNonBlocking, greatest + 1) ==
          cudaSuccess);
  cudaEvent_t first = nullptr, second = nullptr;
  REQUIRE(cudaEventCreateWithFlags(&first, cudaEventDisableTiming) == cudaSuccess);
  REQUIRE(cudaEventCreateWithFlags(&second, cudaEventDisableTiming) == cudaSuccess);
  std::vector<int> out(4, 0), copied(4, 0);
  const std::vector<int> zeros(4, 0), sevens(4, 7), nines(4, 9);

  emu::launch(fill_kernel, dim3(1), dim3(4), 0, side)(out.data(), 7);
  cudaEventRecord(first, side);
  cudaMemcpyAsync(copied.data(), out.data(), 4 * sizeof(int), cudaMemcpyDefault, side);
  emu::launch(fill_kernel, dim3(1), dim3(4), 0, side)(out.data(), 9);
  cudaEventRecord(second, side);
  REQUIRE(out == zeros);  // all of it still queued
  cudaStreamWaitEvent(ordinary, first, 0);
  REQUIRE(out == sevens);  // up to the first event only
  REQUIRE(copied == zeros);
  cudaEventSynchronize(second);
  REQUIRE(copied == sevens);  // in queue order
  REQUIRE(out == nines);

  // An ordinary stream runs at once, as does one above the lowest priority; a destroyed
  // deferred stream finishes its work first.
  emu::launch(fill_kernel, dim3(1), dim3(4), 0, urgent)(out.data(), 2);
  REQUIRE(out == std::vector<int>(4, 2));
  emu::launch(fill_kernel, dim3(1), dim3(4), 0, ordinary)(out.data(), 3);
  REQUIRE(out == std::vector<int>(4, 3));
  emu::launch(fill_kernel, dim3(1), dim3(4), 0, side)(out.data(), 5);
  REQUIRE(out == std::vector<int>(4, 3));
  cudaStreamDestroy(side);
  REQUIRE(out == std::vector<int>(4, 5));
  cudaStreamDestroy(ordinary);
  cudaStreamDestroy(urgent);
  cudaEventDestroy(first);
  cudaEventDestroy(second);
}
