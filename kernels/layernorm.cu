// LayerNorm kernels (kernels/layernorm.h). One warp owns a row; lane l holds the columns
// kVec·(l + 32·i) .. +kVec-1 in registers (i < kIters), so a row is read once, the statistics are
// two-pass over registers (mean, then Σ(x-mean)², as the reference does), and four neighbouring
// columns share one Philox call in the fused residual-dropout variant. kVec is 8 (16-byte
// accesses) when the width and every pointer allow it, else 4 (8-byte accesses).
// Backward: each block folds kBackwardRowsPerBlock rows of d_gamma/d_beta into one partial per
// column (each warp's running sums in shared memory, then the warps in a fixed order); one
// finishing pass adds the partials of both in a fixed order (kernels/column_reduce.cuh), so the
// parameter gradients are deterministic without atomics.
// Templated on the storage type T of activations and gamma/beta (bf16, or float under the fp32
// compute switch); statistics and parameter gradients are fp32 either way.
#include <initializer_list>
#include <type_traits>
#include <utility>

#include "kernels/column_reduce.cuh"
#include "kernels/cuda_common.cuh"
#include "kernels/dropout.cuh"
#include "kernels/kernel_limits.h"
#include "kernels/layernorm.h"

namespace bert {
namespace {

constexpr int kWarps = 8;
constexpr int kThreads = kWarps * 32;
constexpr int kMaxWidth = kLayerNormMaxWidth;
// Backward: rows folded into one d_gamma/d_beta partial (two per warp). Small enough that a
// batch of a few thousand rows fills every SM (5,557 rows: 348 blocks, 3 or 4 resident per
// SM); a fixed constant, so the sum order never depends on the device.
constexpr int kBackwardRowsPerBlock = 16;
constexpr int kBackwardRowsPerWarp = kBackwardRowsPerBlock / kWarps;

template <typename T>
struct ForwardArgs {
  T* out;
  T* sum;  // fused: saved residual + dropout(branch); may be null
  float* mean;
  float* rstd;
  const T* inp;       // plain: the input; fused: the branch
  const T* residual;  // fused only
  const T* gamma;
  const T* beta;
  int rows, width;
  float eps;
  DropoutSpec dropout;
};

// Mask-and-scale factors of kVec consecutive elements, four per Philox call.
template <int kVec>
__device__ __forceinline__ void dropout_factors(const DropoutSpec& spec, uint64_t first,
                                                float factor[kVec]) {
#pragma unroll
  for (int j = 0; j < kVec; j += 4) dropout_factors4(spec, first + j, factor + j);
}

// Lane l of a warp owns the columns kVec·(l + 32·i) .. +kVec-1, i < kIters.
template <int kVec>
__device__ __forceinline__ int lane_column(int lane, int i) {
  return kVec * (lane + 32 * i);
}

template <int kIters, int kVec, bool kFused, typename T>
__global__ void __launch_bounds__(kThreads) layernorm_forward_kernel(ForwardArgs<T> args) {
  grid_dependency_sync();
  const int lane = threadIdx.x & 31;
  const int row = blockIdx.x * kWarps + (threadIdx.x >> 5);
  if (row >= args.rows) return;  // whole warp leaves together; no block barrier follows
  const size_t base = static_cast<size_t>(row) * args.width;
  float x[kIters][kVec];
  // residual: the fused kernel's second input (one unused element otherwise).
  float residual[kFused ? kIters : 1][kFused ? kVec : 1];
  // All of the row's loads are issued before the first use and before the first store (a load
  // after a store to `sum` would wait for it: the compiler cannot rule out aliasing), so a warp
  // has the whole row in flight at once.
#pragma unroll
  for (int i = 0; i < kIters; ++i) {
    const int col = lane_column<kVec>(lane, i);
    if (col < args.width) {
      load_vec<kVec>(args.inp + base + col, x[i]);
      if constexpr (kFused) load_vec<kVec>(args.residual + base + col, residual[i]);
    } else {
#pragma unroll
      for (int j = 0; j < kVec; ++j) x[i][j] = 0.0f;
    }
  }
  if constexpr (kFused) {
#pragma unroll
    for (int i = 0; i < kIters; ++i) {
      const int col = lane_column<kVec>(lane, i);
      if (col >= args.width) continue;
      float factor[kVec];
      dropout_factors<kVec>(args.dropout, base + col, factor);
#pragma unroll
      for (int j = 0; j < kVec; ++j) x[i][j] = residual[i][j] + x[i][j] * factor[j];
      if (args.sum != nullptr) store_vec<kVec>(args.sum + base + col, x[i]);
    }
  }
  float total = 0.0f;
#pragma unroll
  for (int i = 0; i < kIters; ++i)
#pragma unroll
    for (int j = 0; j < kVec; ++j) total += x[i][j];
  const float mean = warp_sum(total) / args.width;
  float squares = 0.0f;
#pragma unroll
  for (int i = 0; i < kIters; ++i) {
    if (lane_column<kVec>(lane, i) < args.width) {
#pragma unroll
      for (int j = 0; j < kVec; ++j) {
        const float centered = x[i][j] - mean;
        squares += centered * centered;
      }
    }
  }
  const float rstd = 1.0f / sqrtf(warp_sum(squares) / args.width + args.eps);
#pragma unroll
  for (int i = 0; i < kIters; ++i) {
    const int col = lane_column<kVec>(lane, i);
    if (col < args.width) {
      float gamma[kVec], beta[kVec], y[kVec];
      load_vec<kVec>(args.gamma + col, gamma);
      load_vec<kVec>(args.beta + col, beta);
#pragma unroll
      for (int j = 0; j < kVec; ++j) y[j] = (x[i][j] - mean) * rstd * gamma[j] + beta[j];
      store_vec<kVec>(args.out + base + col, y);
    }
  }
  if (lane == 0) {
    if (args.mean != nullptr) args.mean[row] = mean;
    if (args.rstd != nullptr) args.rstd[row] = rstd;
  }
}

template <typename T>
struct BackwardArgs {
  T* d_main;       // d_inp (plain) or d_residual (fused): overwrite or add
  T* d_branch;     // fused: mask · d_sum / (1-p); null otherwise
  float* partial;  // [blocks, 2, width]: d_gamma then d_beta partials
  const T* d_out;
  const T* x;
  const T* gamma;
  const float* mean;
  const float* rstd;
  int rows, width;
  DropoutSpec dropout;
  bool add;
};

// Three blocks per SM at least (register cap 85) up to width 768: the running d_gamma/d_beta
// column sums live in shared memory, not registers, so 24 warps' row loads are in flight per SM.
// Wider rows (32 values per lane) keep two blocks, which leaves them room to hold a row.
// Dynamic shared memory: [d_gamma | d_beta][kWarps] regions of SumsLayout slots, each warp's
// own running sums (a lane only touches its own slots, so no barrier until the block adds its
// warps up).
template <int kIters, int kVec>
struct SumsLayout {
  // Value j of lane l's i-th vector (column kVec·(l + 32·i) + j) sits at slot
  // (i·kVec + j)·kPitch + l: a warp's accesses in the row loop are 32 consecutive floats, and
  // 32 consecutive columns in the block's final pass land in 32 distinct banks (kPitch ≡ 32/kVec
  // mod 32 spreads the kVec values of a lane over the banks).
  static constexpr int kPitch = 32 + 32 / kVec;
  static constexpr int kRegion = kIters * kVec * kPitch;  // floats per (warp, d_gamma or d_beta)
  static constexpr size_t kBytes = 2 * kWarps * kRegion * sizeof(float);
  __device__ static int slot(int col) {
    const int i = col / (kVec * 32), within = col % (kVec * 32);
    return (i * kVec + within % kVec) * kPitch + within / kVec;
  }
};

template <int kIters, int kVec, typename T>
__global__ void __launch_bounds__(kThreads, kIters* kVec > 24 ? 2 : 3)
    layernorm_backward_kernel(BackwardArgs<T> args) {
  grid_dependency_sync();
  using Sums = SumsLayout<kIters, kVec>;
  extern __shared__ float4 shared_raw[];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  float* sums = reinterpret_cast<float*>(shared_raw);
  float* warp_gamma = sums + warp * Sums::kRegion + lane;
  float* warp_beta = sums + (kWarps + warp) * Sums::kRegion + lane;
#pragma unroll
  for (int k = 0; k < kIters * kVec; ++k) warp_gamma[k * Sums::kPitch] = warp_beta[k * Sums::kPitch] = 0.0f;

  const int first_row = blockIdx.x * kBackwardRowsPerBlock + warp * kBackwardRowsPerWarp;
  for (int k = 0; k < kBackwardRowsPerWarp; ++k) {
    const int row = first_row + k;
    if (row >= args.rows) break;  // warp-uniform
    const size_t base = static_cast<size_t>(row) * args.width;
    const float mean = args.mean[row], rstd = args.rstd[row];
    float dy[kIters][kVec], xhat[kIters][kVec];
#pragma unroll
    for (int i = 0; i < kIters; ++i) {
      const int col = lane_column<kVec>(lane, i);
      if (col < args.width) {
        load_vec<kVec>(args.d_out + base + col, dy[i]);
        load_vec<kVec>(args.x + base + col, xhat[i]);
      } else {
#pragma unroll
        for (int j = 0; j < kVec; ++j) dy[i][j] = xhat[i][j] = 0.0f;
      }
    }
    float sum_g = 0.0f, sum_g_xhat = 0.0f;
#pragma unroll
    for (int i = 0; i < kIters; ++i) {
      const int col = lane_column<kVec>(lane, i);
      if (col >= args.width) continue;
      float gamma[kVec];
      load_vec<kVec>(args.gamma + col, gamma);
#pragma unroll
      for (int j = 0; j < kVec; ++j) {
        xhat[i][j] = (xhat[i][j] - mean) * rstd;
        const float g = dy[i][j] * gamma[j];
        sum_g += g;
        sum_g_xhat += g * xhat[i][j];
        warp_gamma[(i * kVec + j) * Sums::kPitch] += dy[i][j] * xhat[i][j];
        warp_beta[(i * kVec + j) * Sums::kPitch] += dy[i][j];
      }
    }
    const float mean_g = warp_sum(sum_g) / args.width;
    const float mean_g_xhat = warp_sum(sum_g_xhat) / args.width;
#pragma unroll
    for (int i = 0; i < kIters; ++i) {
      const int col = lane_column<kVec>(lane, i);
      if (col >= args.width) continue;
      float gamma[kVec], dx[kVec];
      load_vec<kVec>(args.gamma + col, gamma);  // L1 hit; cheaper than keeping it in registers
#pragma unroll
      for (int j = 0; j < kVec; ++j)
        dx[j] = rstd * (dy[i][j] * gamma[j] - mean_g - xhat[i][j] * mean_g_xhat);
      if (args.d_branch != nullptr) {
        float factor[kVec], d_branch[kVec];
        dropout_factors<kVec>(args.dropout, base + col, factor);
#pragma unroll
        for (int j = 0; j < kVec; ++j) d_branch[j] = dx[j] * factor[j];
        store_vec<kVec>(args.d_branch + base + col, d_branch);
      }
      if (args.add) {
        float old[kVec];
        load_vec<kVec>(args.d_main + base + col, old);
#pragma unroll
        for (int j = 0; j < kVec; ++j) dx[j] += old[j];
      }
      store_vec<kVec>(args.d_main + base + col, dx);
    }
  }

  // The block's partials: its warps' sums in warp order, d_gamma then d_beta.
  __syncthreads();
  float* target = args.partial + static_cast<size_t>(blockIdx.x) * 2 * args.width;
  for (int index = threadIdx.x; index < 2 * args.width; index += kThreads) {
    const int q = index < args.width ? 0 : 1, col = index - q * args.width;
    const float* slot = sums + q * kWarps * Sums::kRegion + Sums::slot(col);
    float total = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) total += slot[w * Sums::kRegion];
    target[index] = total;
  }
}

void check_shape(int rows, int width, const char* op) {
  BERT_CHECK(rows >= 0 && width > 0 && width % kLayerNormWidthMultiple == 0 && width <= kMaxWidth,
             std::string(op) + ": rows " + std::to_string(rows) + ", width " +
                 std::to_string(width) + " (width must be a positive multiple of " +
                 std::to_string(kLayerNormWidthMultiple) + ", at most " +
                 std::to_string(kMaxWidth) + ")");
}

// Every tensor must be non-null and 8-byte aligned (the contract); a null entry of `optional`
// is skipped. Returns the vector width: 8 (16-byte accesses) when the width and every pointer
// allow it, else 4.
int check_pointers(const char* op,
                   std::initializer_list<std::pair<const void*, const char*>> required,
                   std::initializer_list<const void*> optional, int width) {
  bool wide = width % 8 == 0;
  for (const auto& [pointer, what] : required) {
    BERT_CHECK(pointer != nullptr && is_aligned(pointer, 8),
               std::string(op) + ": " + what + " must be non-null and 8-byte aligned");
    wide = wide && is_aligned(pointer, 16);
  }
  for (const void* pointer : optional) {
    if (pointer == nullptr) continue;
    BERT_CHECK(is_aligned(pointer, 8), std::string(op) + ": tensors must be 8-byte aligned");
    wide = wide && is_aligned(pointer, 16);
  }
  return wide ? 8 : 4;
}

// Calls launch(iters, vec) with std::integral_constant arguments, kIters·kVec·32 >= width: the
// lanes' registers cover the row with as few idle lanes as the fixed instantiations allow.
template <typename Launch>
void dispatch_width(int width, int vec, const Launch& launch) {
  using I1 = std::integral_constant<int, 1>;
  using I2 = std::integral_constant<int, 2>;
  using V4 = std::integral_constant<int, 4>;
  using V8 = std::integral_constant<int, 8>;
  if (vec == 8) {
    if (width <= 256) launch(I1{}, V8{});
    else if (width <= 512) launch(I2{}, V8{});
    else if (width <= 768) launch(std::integral_constant<int, 3>{}, V8{});
    else launch(std::integral_constant<int, 4>{}, V8{});
  } else {
    if (width <= 128) launch(I1{}, V4{});
    else if (width <= 256) launch(I2{}, V4{});
    else if (width <= 768) launch(std::integral_constant<int, 6>{}, V4{});
    else launch(std::integral_constant<int, 8>{}, V4{});
  }
}

template <bool kFused, typename T>
void launch_forward(const ForwardArgs<T>& args, int vec, cudaStream_t stream) {
  const int blocks = div_up(args.rows, kWarps);
  dispatch_width(args.width, vec, [&](auto iters, auto vec_width) {
    constexpr int kIters = decltype(iters)::value, kVec = decltype(vec_width)::value;
    launch_kernel(layernorm_forward_kernel<kIters, kVec, kFused, T>, blocks, kThreads, 0, stream,
                  args);
  });
  CUDA_LAUNCH_CHECK("layernorm_forward_kernel");
}

int backward_blocks(int rows) { return div_up(rows, kBackwardRowsPerBlock); }

template <typename T>
void launch_backward(const BackwardArgs<T>& args, int vec, float* d_gamma, float* d_beta,
                     cudaStream_t stream) {
  const int blocks = backward_blocks(args.rows);
  dispatch_width(args.width, vec, [&](auto iters, auto vec_width) {
    constexpr int kIters = decltype(iters)::value, kVec = decltype(vec_width)::value;
    constexpr size_t kShared = SumsLayout<kIters, kVec>::kBytes;
    constexpr auto kernel = layernorm_backward_kernel<kIters, kVec, T>;
    allow_dynamic_shared_memory<kernel, kShared>();
    launch_kernel(kernel, blocks, kThreads, kShared, stream, args);
  });
  CUDA_LAUNCH_CHECK("layernorm_backward_kernel");
  // partial is [blocks][d_gamma | d_beta]: one finishing pass over 2·width columns.
  launch_column_partials_finish_split(d_gamma, d_beta, args.partial, blocks, args.width,
                                      2 * args.width, 2 * static_cast<size_t>(args.width), stream);
}

template <typename T>
void layernorm_forward(T* out, float* mean, float* rstd, const T* inp, const T* gamma,
                       const T* beta, int rows, int width, float eps, GpuStream stream) {
  const char* op = "layernorm_forward_cuda";
  check_shape(rows, width, op);
  if (rows == 0) return;
  const int vec =
      check_pointers(op, {{out, "out"}, {inp, "inp"}, {gamma, "gamma"}, {beta, "beta"}}, {}, width);
  const ForwardArgs<T> args{out,   nullptr, mean, rstd,  inp, nullptr,
                            gamma, beta,    rows, width, eps, DropoutSpec{}};
  launch_forward<false, T>(args, vec, stream);
}

template <typename T>
void layernorm_backward(T* d_inp, float* d_gamma, float* d_beta, const T* d_out, const T* inp,
                        const T* gamma, const float* mean, const float* rstd, int rows, int width,
                        Accumulate mode, GpuWorkspace workspace, GpuStream stream) {
  const char* op = "layernorm_backward_cuda";
  check_shape(rows, width, op);
  if (rows == 0) return;
  const int vec = check_pointers(
      op, {{d_inp, "d_inp"}, {d_out, "d_out"}, {inp, "inp"}, {gamma, "gamma"}}, {}, width);
  check_workspace(workspace, layernorm_backward_workspace_bytes(rows, width), op);
  const BackwardArgs<T> args{d_inp, nullptr,       static_cast<float*>(workspace.data),
                             d_out, inp,           gamma,
                             mean,  rstd,          rows,
                             width, DropoutSpec{}, mode == Accumulate::kAdd};
  launch_backward(args, vec, d_gamma, d_beta, stream);
}

template <typename T>
void residual_dropout_layernorm_forward(T* out, T* sum, float* mean, float* rstd, const T* branch,
                                        const T* residual, const T* gamma, const T* beta, int rows,
                                        int width, float eps, const DropoutSpec& dropout,
                                        GpuStream stream) {
  const char* op = "residual_dropout_layernorm_forward_cuda";
  check_shape(rows, width, op);
  if (rows == 0) return;
  const int vec = check_pointers(op,
                                 {{out, "out"},
                                  {branch, "branch"},
                                  {residual, "residual"},
                                  {gamma, "gamma"},
                                  {beta, "beta"}},
                                 {sum}, width);
  const ForwardArgs<T> args{out,   sum,  mean, rstd,  branch, residual,
                            gamma, beta, rows, width, eps,    dropout};
  launch_forward<true, T>(args, vec, stream);
}

template <typename T>
void residual_dropout_layernorm_backward(T* d_branch, T* d_residual, float* d_gamma, float* d_beta,
                                         const T* d_out, const T* sum, const T* gamma,
                                         const float* mean, const float* rstd, int rows, int width,
                                         const DropoutSpec& dropout, Accumulate residual_mode,
                                         GpuWorkspace workspace, GpuStream stream) {
  const char* op = "residual_dropout_layernorm_backward_cuda";
  check_shape(rows, width, op);
  if (rows == 0) return;
  const int vec = check_pointers(
      op, {{d_residual, "d_residual"}, {d_out, "d_out"}, {sum, "sum"}, {gamma, "gamma"}},
      {d_branch}, width);
  check_workspace(workspace, layernorm_backward_workspace_bytes(rows, width), op);
  const BackwardArgs<T> args{d_residual, d_branch, static_cast<float*>(workspace.data),
                             d_out,      sum,      gamma,
                             mean,       rstd,     rows,
                             width,      dropout,  residual_mode == Accumulate::kAdd};
  launch_backward(args, vec, d_gamma, d_beta, stream);
}

}  // namespace

size_t layernorm_backward_workspace_bytes(int rows, int width) {
  return static_cast<size_t>(backward_blocks(rows)) * 2 * width * sizeof(float);
}

// bf16 and fp32 overloads of the public launchers.
#define BERT_LAYERNORM_LAUNCHERS(T)                                                                \
  void layernorm_forward_cuda(T* out, float* mean, float* rstd, const T* inp, const T* gamma,      \
                              const T* beta, int rows, int width, float eps, GpuStream stream) {   \
    layernorm_forward(out, mean, rstd, inp, gamma, beta, rows, width, eps, stream);                \
  }                                                                                                \
  void layernorm_backward_cuda(T* d_inp, float* d_gamma, float* d_beta, const T* d_out,            \
                               const T* inp, const T* gamma, const float* mean, const float* rstd, \
                               int rows, int width, Accumulate mode, GpuWorkspace workspace,       \
                               GpuStream stream) {                                                 \
    layernorm_backward(d_inp, d_gamma, d_beta, d_out, inp, gamma, mean, rstd, rows, width, mode,   \
                       workspace, stream);                                                         \
  }                                                                                                \
  void residual_dropout_layernorm_forward_cuda(T* out, T* sum, float* mean, float* rstd,           \
                                               const T* branch, const T* residual, const T* gamma, \
                                               const T* beta, int rows, int width, float eps,      \
                                               const DropoutSpec& dropout, GpuStream stream) {     \
    residual_dropout_layernorm_forward(out, sum, mean, rstd, branch, residual, gamma, beta, rows,  \
                                       width, eps, dropout, stream);                               \
  }                                                                                                \
  void residual_dropout_layernorm_backward_cuda(                                                   \
      T* d_branch, T* d_residual, float* d_gamma, float* d_beta, const T* d_out, const T* sum,     \
      const T* gamma, const float* mean, const float* rstd, int rows, int width,                   \
      const DropoutSpec& dropout, Accumulate residual_mode, GpuWorkspace workspace,                \
      GpuStream stream) {                                                                          \
    residual_dropout_layernorm_backward(d_branch, d_residual, d_gamma, d_beta, d_out, sum, gamma,  \
                                        mean, rstd, rows, width, dropout, residual_mode,           \
                                        workspace, stream);                                        \
  }

BERT_LAYERNORM_LAUNCHERS(bf16)
BERT_LAYERNORM_LAUNCHERS(float)
#undef BERT_LAYERNORM_LAUNCHERS

}  // namespace bert
