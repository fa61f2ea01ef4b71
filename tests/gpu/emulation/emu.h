// CPU emulation of the CUDA kernels for machines without a GPU (run_emulated_tests.sh): one
// fiber (a ucontext with its own stack) per CUDA thread, all on the launching host thread, run
// in thread-index order, each until it waits at a barrier or returns; blocks one after another.
// So a thread runs ahead of the others up to the next barrier, deterministically: a read of what
// another thread writes without the barrier between sees the old value (or the NaN fill below)
// on every run, and a barrier some threads of the block never reach stops the launch with a
// message instead of hanging. __syncthreads is a block barrier, warp
// shuffles go through a per-warp exchange with a warp barrier, static __shared__ arrays become
// function statics (shared by the block's threads; blocks never overlap), dynamic shared memory
// is a per-block buffer filled with NaN bytes so reads of unwritten smem show up.
// Tensor-core mma.sync (kernels/attention_mma.cuh) is a warp-collective exchange computing the
// PTX fragment layout in fp32, ldmatrix a warp-collective exchange of the row addresses; cp.async
// lands only when its thread waits, its destination NaN until then (copy_async_16 below).
// Limits: all threads of a warp must reach each shuffle (true of these kernels: early exits are
// warp- or block-uniform; one that some lanes skip stops the launch like a barrier), no
// memory-model or timing checks, no cuBLASLt. A launch on a deferred stream (stream_emu.h) runs
// when that stream's work is waited for.
#pragma once
// Kernel helpers with an inline-PTX body (kernels/attention_mma.cuh) call emu:: twins instead.
#define BERT_CUDA_EMULATION 1
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <sys/mman.h>
#include <ucontext.h>
#include <tuple>
#include <vector>
#include <cstring>

#include "tests/gpu/emulation/stream_emu.h"

#undef __shared__
#define __shared__ static
#undef __launch_bounds__
#define __launch_bounds__(...)
#undef __global__
#define __global__
#undef __device__
#define __device__
#undef __forceinline__
#define __forceinline__ inline

namespace emu {
using std::min;
using std::max;

// Parks the running fiber until *generation != seen (defined with the fibers below).
inline void block_current_fiber(const long* generation, long seen);

// A barrier of n fibers: the last to arrive opens it and runs on; the others are parked until
// the scheduler finds their generation passed.
class Barrier {
 public:
  explicit Barrier(int n = 0) : n_(n) {}
  void reset(int n) { n_ = n; count_ = 0; generation_ = 0; }
  void wait() {
    const long seen = generation_;
    if (++count_ == n_) { count_ = 0; ++generation_; return; }
    block_current_fiber(&generation_, seen);
  }
 private:
  int n_ = 0; int count_ = 0; long generation_ = 0;
};

struct Block {
  Barrier barrier;
  std::vector<Barrier*> warp_barriers;
  std::vector<std::vector<unsigned char>> exchange;  // per warp 32 × 8 bytes
  std::vector<std::vector<uint32_t>> mma_exchange;   // per warp 32 × 6 words (a[4], b[2])
  std::vector<unsigned char> dynamic_shared;
  std::atomic<int> dependency_syncs{0};  // threads that called grid_dependency_sync()
};

inline thread_local uint3 t_thread, t_block;
inline thread_local dim3 t_block_dim, t_grid_dim;
inline thread_local Block* t_ctx = nullptr;

template <typename T> T* dynamic_shared() { return reinterpret_cast<T*>(t_ctx->dynamic_shared.data()); }

inline void syncthreads() { t_ctx->barrier.wait(); }

// kernels/kernel_launch.cuh's grid_dependency_sync(): counted, so run() can stop on a kernel
// some of whose threads never call it (on the GPU, under programmatic dependent launch, such a
// thread could read what the previous kernel has not finished writing).
inline void note_grid_dependency_sync() { ++t_ctx->dependency_syncs; }

template <typename T> T shfl_xor(unsigned, T value, int offset) {
  const int tid = t_thread.x + t_thread.y * t_block_dim.x + t_thread.z * t_block_dim.x * t_block_dim.y;
  const int warp = tid / 32, lane = tid % 32;
  Barrier* wb = t_ctx->warp_barriers[warp];
  unsigned char* ex = t_ctx->exchange[warp].data();
  std::memcpy(ex + lane * 8, &value, sizeof(T));
  wb->wait();
  T other;
  std::memcpy(&other, ex + (lane ^ offset) * 8, sizeof(T));
  wb->wait();
  return other;
}

inline float bf16_bits_to_float(uint32_t bits) {
  const uint32_t word = bits << 16;
  float value;
  std::memcpy(&value, &word, sizeof value);
  return value;
}

// mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32, warp-collective: every lane publishes its
// fragments, rebuilds A (16×16) and B (16×8) per the PTX ISA layout (lane = 4g + t;
// a[0] = A[g][2t..], a[1] = A[g+8][2t..], a[2] = A[g][2t+8..], a[3] = A[g+8][2t+8..];
// b[0] = B[2t..2t+1][g], b[1] = B[2t+8..2t+9][g]; low half = lower index) and adds its own
// C elements c[0..1] = C[g][2t..2t+1], c[2..3] = C[g+8][2t..2t+1] in fp32.
inline void mma_bf16_16816(float c[4], const uint32_t a[4], const uint32_t b[2]) {
  const int tid = t_thread.x + t_thread.y * t_block_dim.x + t_thread.z * t_block_dim.x * t_block_dim.y;
  const int warp = tid / 32, lane = tid % 32;
  Barrier* wb = t_ctx->warp_barriers[warp];
  uint32_t* ex = t_ctx->mma_exchange[warp].data();
  std::memcpy(ex + lane * 6, a, 4 * sizeof(uint32_t));
  std::memcpy(ex + lane * 6 + 4, b, 2 * sizeof(uint32_t));
  wb->wait();
  float A[16][16], B[16][8];
  for (int l = 0; l < 32; ++l) {
    const int g = l / 4, t = l % 4;
    const uint32_t* f = ex + l * 6;
    const int rows[4] = {g, g + 8, g, g + 8}, cols[4] = {2 * t, 2 * t, 2 * t + 8, 2 * t + 8};
    for (int r = 0; r < 4; ++r) {
      A[rows[r]][cols[r]] = bf16_bits_to_float(f[r] & 0xFFFFu);
      A[rows[r]][cols[r] + 1] = bf16_bits_to_float(f[r] >> 16);
    }
    for (int r = 0; r < 2; ++r) {
      B[2 * t + 8 * r][g] = bf16_bits_to_float(f[4 + r] & 0xFFFFu);
      B[2 * t + 8 * r + 1][g] = bf16_bits_to_float(f[4 + r] >> 16);
    }
  }
  wb->wait();
  const int g = lane / 4, t = lane % 4;
  for (int e = 0; e < 4; ++e) {
    const int row = g + 8 * (e / 2), col = 2 * t + e % 2;
    float sum = c[e];
    for (int k = 0; k < 16; ++k) sum += A[row][k] * B[k][col];
    c[e] = sum;
  }
}

// ldmatrix.sync.aligned.m8n8.x4[.trans].shared.b16, warp-collective: lane l publishes the
// address of row l % 8 of matrix l / 8 (16 bytes, which must be 16-byte aligned: the GPU faults
// otherwise, so the emulation stops too); lane (g = lane / 4, t = lane % 4) then receives
// r[i] = M_i[g][2t..2t+1], or with `transpose` M_i[2t][g], M_i[2t+1][g], low half first.
inline void ldmatrix_x4(uint32_t r[4], const void* row, bool transpose) {
  const int tid = t_thread.x + t_thread.y * t_block_dim.x + t_thread.z * t_block_dim.x * t_block_dim.y;
  const int warp = tid / 32, lane = tid % 32;
  if (reinterpret_cast<std::uintptr_t>(row) % 16 != 0) {
    std::fprintf(stderr, "emulated ldmatrix: lane %d row address %p is not 16-byte aligned\n",
                 lane, row);
    std::abort();
  }
  Barrier* wb = t_ctx->warp_barriers[warp];
  unsigned char* ex = t_ctx->exchange[warp].data();
  std::memcpy(ex + lane * 8, &row, sizeof row);
  wb->wait();
  const int g = lane / 4, t = lane % 4;
  auto element = [&](int matrix, int matrix_row, int column) {
    const void* address;
    std::memcpy(&address, ex + (8 * matrix + matrix_row) * 8, sizeof address);
    uint16_t bits;
    std::memcpy(&bits, static_cast<const unsigned char*>(address) + 2 * column, sizeof bits);
    return static_cast<uint32_t>(bits);
  };
  for (int i = 0; i < 4; ++i)
    r[i] = transpose ? element(i, 2 * t, g) | element(i, 2 * t + 1, g) << 16
                     : element(i, g, 2 * t) | element(i, g, 2 * t + 1) << 16;
  wb->wait();
}

// cp.async.cg.shared.global 16 bytes (kernels/attention_mma.cuh's copy_async_16) as late as the
// hardware may land it: the copy is recorded and its 16 destination bytes are filled with NaN
// bytes; it lands (global read, shared written, or zeros when !valid) when the issuing thread
// waits (wait_copies, cp.async.wait_all). So a read of the destination before the wait, by the
// issuing thread or by another thread without the barrier that must follow the wait, sees NaN
// or the previous tile instead of the data; and a copy issued into a buffer that another thread
// still reads (no barrier before the issue) overwrites it with NaN under that reader.
struct PendingCopy {
  void* shared;
  const void* global;
  bool valid;
};
inline thread_local std::vector<PendingCopy>* t_pending_copies = nullptr;  // the running fiber's

inline void copy_async_16(void* shared, const void* global, bool valid) {
  std::memset(shared, 0xFF, 16);
  t_pending_copies->push_back({shared, global, valid});
}

inline void wait_copies() {
  for (const PendingCopy& copy : *t_pending_copies) {
    if (copy.valid)
      std::memcpy(copy.shared, copy.global, 16);
    else
      std::memset(copy.shared, 0, 16);
  }
  t_pending_copies->clear();
}

inline void syncwarp() {
  const int tid = t_thread.x + t_thread.y * t_block_dim.x + t_thread.z * t_block_dim.x * t_block_dim.y;
  t_ctx->warp_barriers[tid / 32]->wait();
}

inline cudaError_t func_set_attribute(...) { return cudaSuccess; }

inline cudaError_t sort_keys(void* temp, size_t& bytes, const uint64_t* in, uint64_t* out, int n,
                             int, int, cudaStream_t = nullptr) {
  if (temp == nullptr) { bytes = 16; return cudaSuccess; }
  std::copy(in, in + n, out);
  std::sort(out, out + n);
  return cudaSuccess;
}

// ---- fibers ------------------------------------------------------------------------------
#if defined(__SANITIZE_ADDRESS__)
extern "C" void __sanitizer_start_switch_fiber(void** fake_stack_save, const void* bottom, size_t size);
extern "C" void __sanitizer_finish_switch_fiber(void* fake_stack_save, const void** bottom_old,
                                                size_t* size_old);
#else
inline void __sanitizer_start_switch_fiber(void**, const void*, size_t) {}
inline void __sanitizer_finish_switch_fiber(void*, const void**, size_t*) {}
#endif

constexpr size_t kFiberStackBytes = 256 * 1024;
constexpr size_t kGuardBytes = 4096;  // below each stack, no access: an overflow faults

struct Fiber {
  ucontext_t context;
  unsigned char* stack = nullptr;  // kFiberStackBytes above a guard page, mapped once
  uint3 thread;
  std::vector<PendingCopy> pending;
  const long* generation = nullptr;  // the barrier generation it waits to see pass, or null
  long seen = 0;
  bool done = false;
  void* fake_stack = nullptr;  // AddressSanitizer's, while switched out
};

// One per host thread: the fibers (reused by every block and launch) and the context that
// runs them.
struct Scheduler {
  ucontext_t context;
  std::vector<Fiber> fibers;
  Fiber* current = nullptr;
  std::function<void()> body;  // the kernel call of the block being run
  const void* host_stack = nullptr;  // the host thread's stack, as AddressSanitizer saw it
  size_t host_stack_size = 0;
  ~Scheduler() {
    for (Fiber& f : fibers) munmap(f.stack - kGuardBytes, kFiberStackBytes + kGuardBytes);
  }
  void reserve(int count) {
    while (static_cast<int>(fibers.size()) < count) {
      void* region = mmap(nullptr, kFiberStackBytes + kGuardBytes, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (region == MAP_FAILED || mprotect(region, kGuardBytes, PROT_NONE) != 0) {
        std::fprintf(stderr, "emulated launch: cannot map a fiber stack\n");
        std::abort();
      }
      fibers.emplace_back();
      fibers.back().stack = static_cast<unsigned char*>(region) + kGuardBytes;
    }
  }
};
inline thread_local Scheduler t_scheduler;

// Parks the running fiber until *generation != seen (Barrier::wait).
inline void block_current_fiber(const long* generation, long seen) {
  Scheduler& s = t_scheduler;
  Fiber* f = s.current;
  f->generation = generation;
  f->seen = seen;
  __sanitizer_start_switch_fiber(&f->fake_stack, s.host_stack, s.host_stack_size);
  swapcontext(&f->context, &s.context);
  __sanitizer_finish_switch_fiber(f->fake_stack, &s.host_stack, &s.host_stack_size);
}

inline void fiber_main() {
  Scheduler& s = t_scheduler;
  __sanitizer_finish_switch_fiber(nullptr, &s.host_stack, &s.host_stack_size);
  s.body();
  wait_copies();  // copies never waited for still land on the GPU
  s.current->done = true;
  __sanitizer_start_switch_fiber(nullptr, s.host_stack, s.host_stack_size);
}  // uc_link resumes the scheduler

inline bool reverse_order() {
  static const bool reverse = [] {
    const char* value = std::getenv("BERT_EMU_REVERSE");
    return value != nullptr && std::strcmp(value, "1") == 0;
  }();
  return reverse;
}

template <typename... KArgs, typename... Args>
void run(void (*kernel)(KArgs...), dim3 grid, dim3 block, size_t smem, std::tuple<Args...> args) {
  const int threads = block.x * block.y * block.z;
  const int warps = (threads + 31) / 32;
  Scheduler& s = t_scheduler;
  s.reserve(threads);
  s.body = [&] { std::apply([&](auto... a) { kernel(static_cast<KArgs>(a)...); }, args); };
  for (unsigned bz = 0; bz < grid.z; ++bz)
    for (unsigned by = 0; by < grid.y; ++by)
      for (unsigned bx = 0; bx < grid.x; ++bx) {
        Block ctx;
        ctx.barrier.reset(threads);
        std::vector<Barrier> wbs(warps);
        for (auto& w : wbs) w.reset(32);
        for (auto& w : wbs) ctx.warp_barriers.push_back(&w);
        ctx.exchange.assign(warps, std::vector<unsigned char>(32 * 8));
        ctx.mma_exchange.assign(warps, std::vector<uint32_t>(32 * 6));
        ctx.dynamic_shared.assign(smem + 16, 0xFF);  // garbage-ish fill: NaN floats
        t_ctx = &ctx;
        t_block = make_uint3(bx, by, bz);
        t_block_dim = block;
        t_grid_dim = grid;
        for (int t = 0; t < threads; ++t) {
          Fiber& f = s.fibers[t];
          f.thread = make_uint3(t % block.x, (t / block.x) % block.y, t / (block.x * block.y));
          f.pending.clear();
          f.generation = nullptr;
          f.done = false;
          getcontext(&f.context);
          f.context.uc_stack.ss_sp = f.stack;
          f.context.uc_stack.ss_size = kFiberStackBytes;
          f.context.uc_link = &s.context;
          makecontext(&f.context, fiber_main, 0);
        }
        // Sweeps in thread order (BERT_EMU_REVERSE=1: the other way round, so a read of another
        // thread's write without the barrier between fails whichever of the two comes first),
        // resuming every fiber not parked at a closed barrier.
        for (int running = threads; running > 0;) {
          bool resumed = false;
          for (int i = 0; i < threads; ++i) {
            Fiber& f = s.fibers[reverse_order() ? threads - 1 - i : i];
            if (f.done || (f.generation != nullptr && *f.generation == f.seen)) continue;
            f.generation = nullptr;
            s.current = &f;
            t_thread = f.thread;
            t_pending_copies = &f.pending;
            void* fake_stack = nullptr;
            __sanitizer_start_switch_fiber(&fake_stack, f.stack, kFiberStackBytes);
            swapcontext(&s.context, &f.context);
            __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
            resumed = true;
            if (f.done) --running;
          }
          if (!resumed) {
            std::fprintf(stderr,
                         "emulated launch: block (%u, %u, %u): %d of %d threads wait at a barrier "
                         "that the others never reach\n",
                         bx, by, bz, running, threads);
            std::abort();
          }
        }
        s.current = nullptr;
        t_pending_copies = nullptr;
        if (ctx.dependency_syncs.load() != threads) {
          std::fprintf(stderr,
                       "emulated launch: %d of %d threads of block (%u, %u, %u) called "
                       "grid_dependency_sync() (kernels/kernel_launch.cuh: the first statement "
                       "of every kernel)\n",
                       ctx.dependency_syncs.load(), threads, bx, by, bz);
          std::abort();
        }
      }
}

struct Launch {
  dim3 grid, block; size_t smem;
  template <typename K> struct Bound {
    K kernel; dim3 grid, block; size_t smem; cudaStream_t stream;
    // At once, or queued on a deferred stream (stream_emu.h) with its arguments as they are now.
    template <typename... Args> void operator()(Args... args) const {
      const Bound bound = *this;
      const auto arguments = std::make_tuple(args...);
      run_on(stream, [bound, arguments] { run(bound.kernel, bound.grid, bound.block, bound.smem, arguments); });
    }
  };
};
template <typename K>
Launch::Bound<K> launch(K kernel, dim3 grid, dim3 block, size_t smem = 0, cudaStream_t stream = nullptr) {
  return Launch::Bound<K>{kernel, grid, block, smem, stream};
}
}  // namespace emu

#define threadIdx (::emu::t_thread)
#define blockIdx (::emu::t_block)
#define blockDim (::emu::t_block_dim)
#define gridDim (::emu::t_grid_dim)
#define __syncthreads() ::emu::syncthreads()
#define __shfl_xor_sync(mask, value, offset) ::emu::shfl_xor(mask, value, offset)
#define __syncwarp(...) ::emu::syncwarp()
using std::min;
using std::max;
