// LayerNorm kernels (kernels/layernorm.h). One warp owns a row; lane l holds the columns
// 4·(l + 32·i) .. +3 in registers (i < kIters), so a row is read once, the statistics are
// two-pass over registers (mean, then Σ(x-mean)², as the reference does), and four neighbouring
// columns share one Philox call in the fused residual-dropout variant.
// Backward: each block folds 64 rows of d_gamma/d_beta into one partial per column (warps in a
// fixed order through shared memory); a second pass adds the partials in block order, so the
// parameter gradients are deterministic without atomics.
// Templated on the storage type T of activations and gamma/beta (bf16, or float under the fp32
// compute switch); statistics and parameter gradients are fp32 either way.
#include "kernels/column_reduce.cuh"
#include "kernels/cuda_common.cuh"
#include "kernels/dropout.cuh"
#include "kernels/layernorm.h"

namespace bert {
namespace {

constexpr int kWarps = 8;
constexpr int kThreads = kWarps * 32;
constexpr int kMaxWidth = 1024;
constexpr int kBackwardRowsPerBlock = 64;  // rows folded into one d_gamma/d_beta partial
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

template <int kIters, bool kFused, typename T>
__global__ void __launch_bounds__(kThreads) layernorm_forward_kernel(ForwardArgs<T> args) {
  const int lane = threadIdx.x & 31;
  const int row = blockIdx.x * kWarps + (threadIdx.x >> 5);
  if (row >= args.rows) return;  // whole warp leaves together; no block barrier follows
  const size_t base = static_cast<size_t>(row) * args.width;
  float x[kIters][4];
  float total = 0.0f;
#pragma unroll
  for (int i = 0; i < kIters; ++i) {
    const int col = 4 * (lane + 32 * i);
    if (col < args.width) {
      if (kFused) {
        float branch[4], residual[4], factor[4];
        load4(args.inp + base + col, branch);
        load4(args.residual + base + col, residual);
        dropout_factors4(args.dropout, base + col, factor);
#pragma unroll
        for (int j = 0; j < 4; ++j) x[i][j] = residual[j] + branch[j] * factor[j];
        if (args.sum != nullptr) store4(args.sum + base + col, x[i]);
      } else {
        load4(args.inp + base + col, x[i]);
      }
#pragma unroll
      for (int j = 0; j < 4; ++j) total += x[i][j];
    } else {
#pragma unroll
      for (int j = 0; j < 4; ++j) x[i][j] = 0.0f;
    }
  }
  const float mean = warp_sum(total) / args.width;
  float squares = 0.0f;
#pragma unroll
  for (int i = 0; i < kIters; ++i) {
    if (4 * (lane + 32 * i) < args.width) {
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const float centered = x[i][j] - mean;
        squares += centered * centered;
      }
    }
  }
  const float rstd = 1.0f / sqrtf(warp_sum(squares) / args.width + args.eps);
#pragma unroll
  for (int i = 0; i < kIters; ++i) {
    const int col = 4 * (lane + 32 * i);
    if (col < args.width) {
      float gamma[4], beta[4], y[4];
      load4(args.gamma + col, gamma);
      load4(args.beta + col, beta);
#pragma unroll
      for (int j = 0; j < 4; ++j) y[j] = (x[i][j] - mean) * rstd * gamma[j] + beta[j];
      store4(args.out + base + col, y);
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

template <int kIters, typename T>
__global__ void __launch_bounds__(kThreads) layernorm_backward_kernel(BackwardArgs<T> args) {
  __shared__ float reduce[kWarps][kMaxWidth];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  float acc_gamma[kIters][4], acc_beta[kIters][4];
#pragma unroll
  for (int i = 0; i < kIters; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) acc_gamma[i][j] = acc_beta[i][j] = 0.0f;

  const int first_row = blockIdx.x * kBackwardRowsPerBlock + warp * kBackwardRowsPerWarp;
  for (int k = 0; k < kBackwardRowsPerWarp; ++k) {
    const int row = first_row + k;
    if (row >= args.rows) break;  // warp-uniform
    const size_t base = static_cast<size_t>(row) * args.width;
    const float mean = args.mean[row], rstd = args.rstd[row];
    float xhat[kIters][4], g[kIters][4];
    float sum_g = 0.0f, sum_g_xhat = 0.0f;
#pragma unroll
    for (int i = 0; i < kIters; ++i) {
      const int col = 4 * (lane + 32 * i);
      if (col < args.width) {
        float dy[4], x[4], gamma[4];
        load4(args.d_out + base + col, dy);
        load4(args.x + base + col, x);
        load4(args.gamma + col, gamma);
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          xhat[i][j] = (x[j] - mean) * rstd;
          g[i][j] = dy[j] * gamma[j];
          sum_g += g[i][j];
          sum_g_xhat += g[i][j] * xhat[i][j];
          acc_gamma[i][j] += dy[j] * xhat[i][j];
          acc_beta[i][j] += dy[j];
        }
      } else {
#pragma unroll
        for (int j = 0; j < 4; ++j) xhat[i][j] = g[i][j] = 0.0f;
      }
    }
    const float mean_g = warp_sum(sum_g) / args.width;
    const float mean_g_xhat = warp_sum(sum_g_xhat) / args.width;
#pragma unroll
    for (int i = 0; i < kIters; ++i) {
      const int col = 4 * (lane + 32 * i);
      if (col >= args.width) continue;
      float dx[4];
#pragma unroll
      for (int j = 0; j < 4; ++j) dx[j] = rstd * (g[i][j] - mean_g - xhat[i][j] * mean_g_xhat);
      if (args.d_branch != nullptr) {
        float factor[4], d_branch[4];
        dropout_factors4(args.dropout, base + col, factor);
#pragma unroll
        for (int j = 0; j < 4; ++j) d_branch[j] = dx[j] * factor[j];
        store4(args.d_branch + base + col, d_branch);
      }
      if (args.add) {
        float old[4];
        load4(args.d_main + base + col, old);
#pragma unroll
        for (int j = 0; j < 4; ++j) dx[j] += old[j];
      }
      store4(args.d_main + base + col, dx);
    }
  }

  // Fold the 8 warps' column partials in warp order: d_gamma, then d_beta.
  for (int q = 0; q < 2; ++q) {
#pragma unroll
    for (int i = 0; i < kIters; ++i) {
      const int col = 4 * (lane + 32 * i);
      if (col < args.width) {
#pragma unroll
        for (int j = 0; j < 4; ++j)
          reduce[warp][col + j] = q == 0 ? acc_gamma[i][j] : acc_beta[i][j];
      }
    }
    __syncthreads();
    float* target = args.partial + (static_cast<size_t>(blockIdx.x) * 2 + q) * args.width;
    for (int col = threadIdx.x; col < args.width; col += kThreads) {
      float total = 0.0f;
#pragma unroll
      for (int w = 0; w < kWarps; ++w) total += reduce[w][col];
      target[col] = total;
    }
    __syncthreads();
  }
}

// Registers per lane cover 128·kIters columns.
int iterations_for(int width) { return width <= 256 ? 2 : (width <= 768 ? 6 : 8); }

void check_shape(int rows, int width, const char* op) {
  BERT_CHECK(rows >= 0 && width > 0 && width % 4 == 0 && width <= kMaxWidth,
             std::string(op) + ": rows " + std::to_string(rows) + ", width " +
                 std::to_string(width) + " (width must be a positive multiple of 4, at most " +
                 std::to_string(kMaxWidth) + ")");
}

void check_aligned(const void* pointer, const char* op, const char* what) {
  BERT_CHECK(pointer != nullptr && is_aligned(pointer, 8),
             std::string(op) + ": " + what + " must be non-null and 8-byte aligned");
}

template <bool kFused, typename T>
void launch_forward(const ForwardArgs<T>& args, cudaStream_t stream) {
  const int blocks = div_up(args.rows, kWarps);
  switch (iterations_for(args.width)) {
    case 2:
      layernorm_forward_kernel<2, kFused, T><<<blocks, kThreads, 0, stream>>>(args);
      break;
    case 6:
      layernorm_forward_kernel<6, kFused, T><<<blocks, kThreads, 0, stream>>>(args);
      break;
    default:
      layernorm_forward_kernel<8, kFused, T><<<blocks, kThreads, 0, stream>>>(args);
      break;
  }
  CUDA_LAUNCH_CHECK("layernorm_forward_kernel");
}

int backward_blocks(int rows) { return div_up(rows, kBackwardRowsPerBlock); }

template <typename T>
void launch_backward(const BackwardArgs<T>& args, float* d_gamma, float* d_beta,
                     cudaStream_t stream) {
  const int blocks = backward_blocks(args.rows);
  switch (iterations_for(args.width)) {
    case 2:
      layernorm_backward_kernel<2, T><<<blocks, kThreads, 0, stream>>>(args);
      break;
    case 6:
      layernorm_backward_kernel<6, T><<<blocks, kThreads, 0, stream>>>(args);
      break;
    default:
      layernorm_backward_kernel<8, T><<<blocks, kThreads, 0, stream>>>(args);
      break;
  }
  CUDA_LAUNCH_CHECK("layernorm_backward_kernel");
  const size_t stride = 2 * static_cast<size_t>(args.width);
  launch_column_partials_finish(d_gamma, args.partial, blocks, args.width, stride, stream);
  launch_column_partials_finish(d_beta, args.partial + args.width, blocks, args.width, stride,
                                stream);
}

template <typename T>
void layernorm_forward(T* out, float* mean, float* rstd, const T* inp, const T* gamma,
                       const T* beta, int rows, int width, float eps, GpuStream stream) {
  const char* op = "layernorm_forward_cuda";
  check_shape(rows, width, op);
  if (rows == 0) return;
  check_aligned(out, op, "out");
  check_aligned(inp, op, "inp");
  check_aligned(gamma, op, "gamma");
  check_aligned(beta, op, "beta");
  const ForwardArgs<T> args{out,   nullptr, mean, rstd,  inp, nullptr,
                            gamma, beta,    rows, width, eps, DropoutSpec{}};
  launch_forward<false, T>(args, stream);
}

template <typename T>
void layernorm_backward(T* d_inp, float* d_gamma, float* d_beta, const T* d_out, const T* inp,
                        const T* gamma, const float* mean, const float* rstd, int rows, int width,
                        Accumulate mode, GpuWorkspace workspace, GpuStream stream) {
  const char* op = "layernorm_backward_cuda";
  check_shape(rows, width, op);
  if (rows == 0) return;
  check_aligned(d_inp, op, "d_inp");
  check_aligned(d_out, op, "d_out");
  check_aligned(inp, op, "inp");
  check_aligned(gamma, op, "gamma");
  check_workspace(workspace, layernorm_backward_workspace_bytes(rows, width), op);
  const BackwardArgs<T> args{d_inp, nullptr,       static_cast<float*>(workspace.data),
                             d_out, inp,           gamma,
                             mean,  rstd,          rows,
                             width, DropoutSpec{}, mode == Accumulate::kAdd};
  launch_backward(args, d_gamma, d_beta, stream);
}

template <typename T>
void residual_dropout_layernorm_forward(T* out, T* sum, float* mean, float* rstd, const T* branch,
                                        const T* residual, const T* gamma, const T* beta, int rows,
                                        int width, float eps, const DropoutSpec& dropout,
                                        GpuStream stream) {
  const char* op = "residual_dropout_layernorm_forward_cuda";
  check_shape(rows, width, op);
  if (rows == 0) return;
  check_aligned(out, op, "out");
  check_aligned(branch, op, "branch");
  check_aligned(residual, op, "residual");
  check_aligned(gamma, op, "gamma");
  check_aligned(beta, op, "beta");
  if (sum != nullptr) check_aligned(sum, op, "sum");
  const ForwardArgs<T> args{out,   sum,  mean, rstd,  branch, residual,
                            gamma, beta, rows, width, eps,    dropout};
  launch_forward<true, T>(args, stream);
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
  check_aligned(d_residual, op, "d_residual");
  if (d_branch != nullptr) check_aligned(d_branch, op, "d_branch");
  check_aligned(d_out, op, "d_out");
  check_aligned(sum, op, "sum");
  check_aligned(gamma, op, "gamma");
  check_workspace(workspace, layernorm_backward_workspace_bytes(rows, width), op);
  const BackwardArgs<T> args{d_residual, d_branch, static_cast<float*>(workspace.data),
                             d_out,      sum,      gamma,
                             mean,       rstd,     rows,
                             width,      dropout,  residual_mode == Accumulate::kAdd};
  launch_backward(args, d_gamma, d_beta, stream);
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
