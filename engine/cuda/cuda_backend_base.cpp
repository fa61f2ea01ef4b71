#include "engine/cuda/cuda_backend_base.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "engine/core/error.h"
#include "engine/cuda/bf16_host.h"
#include "kernels/adamw.h"
#include "kernels/convert.h"
#include "kernels/cuda_check.h"

namespace bert {
namespace {

constexpr size_t kMatmulWorkspaceBytes = size_t{32} << 20;

std::string describe(const Tensor& tensor) {
  return std::string(scalar_name(tensor.dtype)) + " tensor of " + std::to_string(tensor.numel);
}

}  // namespace

CudaStream::CudaStream() { CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }

CudaStream::~CudaStream() {
  if (stream_ != nullptr) cudaStreamDestroy(stream_);  // never throws from a destructor
}

CudaBackendBase::CudaBackendBase(const CudaBackendOptions& options)
    : fp32_(options.fp32_compute), matmul_(std::make_unique<MatmulContext>(kMatmulWorkspaceBytes)) {
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  cudaDeviceProp properties{};
  CUDA_CHECK(cudaGetDeviceProperties(&properties, device));
  device_name_ = properties.name;
  sum_result_ = static_cast<double*>(memory_.allocate(sizeof(double), stream_.get()));
  const size_t partial_bytes = sum_squares_workspace_bytes();
  sum_workspace_ = GpuWorkspace{memory_.allocate(partial_bytes, stream_.get()), partial_bytes};
}

CudaBackendBase::~CudaBackendBase() {
  // Queued kernels may still use the buffers about to be freed.
  cudaStreamSynchronize(stream_.get());
}

std::string CudaBackendBase::device_description() const {
  return device_name_ + (fp32_ ? ", fp32 compute" : ", bf16 compute");
}

CudaBackendStats CudaBackendBase::stats() const {
  CudaBackendStats stats;
  stats.device_allocations = memory_.allocations() + 1;  // + the cuBLASLt workspace
  stats.bytes_held = memory_.bytes_held() + kMatmulWorkspaceBytes;
  stats.scratch_bytes = memory_.scratch_bytes();
  return stats;
}

ScalarType CudaBackendBase::dtype_for(BufferRole role) const {
  switch (role) {
    case BufferRole::kActivation:
    case BufferRole::kWorkingParam:
      return activation_dtype();
    case BufferRole::kIndex:
      return ScalarType::kI32;
    case BufferRole::kMasterParam:
    case BufferRole::kGradient:
    case BufferRole::kOptimizerState:
    case BufferRole::kStatistic:
      return ScalarType::kF32;
  }
  throw BertError("cuda backend: unknown buffer role");
}

Tensor CudaBackendBase::allocate(size_t numel, BufferRole role) {
  const ScalarType dtype = dtype_for(role);
  return Tensor{memory_.allocate(numel * scalar_size(dtype), stream_.get()), numel, dtype};
}

void CudaBackendBase::fill_zero(Tensor tensor) {
  if (tensor.numel == 0) return;
  CUDA_CHECK(cudaMemsetAsync(tensor.data, 0, tensor.numel * scalar_size(tensor.dtype), stream_.get()));
}

// Converts on the host, then one copy; pageable source memory is staged by the driver before
// cudaMemcpyAsync returns, so the host vectors may be reused at once.
template <typename Source>
void CudaBackendBase::upload_converted(Tensor dst, const Source* src, size_t count) {
  BERT_CHECK(count <= dst.numel,
             "cuda backend: upload of " + std::to_string(count) + " values into a " + describe(dst));
  if (count == 0) return;
  if (dst.dtype == ScalarType::kF32) {
    const float* source = nullptr;
    if constexpr (std::is_same_v<Source, float>) {
      source = src;
    } else {
      host_floats_.assign(src, src + count);
      source = host_floats_.data();
    }
    CUDA_CHECK(
        cudaMemcpyAsync(dst.data, source, count * sizeof(float), cudaMemcpyHostToDevice, stream_.get()));
  } else if (dst.dtype == ScalarType::kBF16) {
    host_bits_.resize(count);
    for (size_t i = 0; i < count; ++i) host_bits_[i] = bf16_bits_from_float(static_cast<float>(src[i]));
    CUDA_CHECK(cudaMemcpyAsync(dst.data, host_bits_.data(), count * sizeof(uint16_t), cudaMemcpyHostToDevice,
                               stream_.get()));
  } else {
    throw BertError("cuda backend: upload of floating-point values into a " + describe(dst));
  }
}

void CudaBackendBase::upload(Tensor dst, const float* src, size_t count) {
  upload_converted(dst, src, count);
}
void CudaBackendBase::upload(Tensor dst, const double* src, size_t count) {
  upload_converted(dst, src, count);
}

void CudaBackendBase::upload(Tensor dst, const int32_t* src, size_t count) {
  BERT_CHECK(dst.dtype == ScalarType::kI32 && count <= dst.numel,
             "cuda backend: upload of " + std::to_string(count) + " indices into a " + describe(dst));
  if (count == 0) return;
  CUDA_CHECK(cudaMemcpyAsync(dst.data, src, count * sizeof(int32_t), cudaMemcpyHostToDevice, stream_.get()));
}

std::vector<double> CudaBackendBase::download(const Tensor& src) {
  std::vector<double> out(src.numel);
  if (src.numel == 0) return out;
  const size_t bytes = src.numel * scalar_size(src.dtype);
  switch (src.dtype) {
    case ScalarType::kF32:
    case ScalarType::kI32: {
      host_floats_.resize(src.numel);  // 4-byte staging for both
      CUDA_CHECK(
          cudaMemcpyAsync(host_floats_.data(), src.data, bytes, cudaMemcpyDeviceToHost, stream_.get()));
      CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
      if (src.dtype == ScalarType::kF32) {
        std::copy(host_floats_.begin(), host_floats_.end(), out.begin());
      } else {
        const int32_t* values = reinterpret_cast<const int32_t*>(host_floats_.data());
        std::copy(values, values + src.numel, out.begin());
      }
      return out;
    }
    case ScalarType::kBF16:
      host_bits_.resize(src.numel);
      CUDA_CHECK(cudaMemcpyAsync(host_bits_.data(), src.data, bytes, cudaMemcpyDeviceToHost, stream_.get()));
      CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
      for (size_t i = 0; i < src.numel; ++i) out[i] = float_from_bf16_bits(host_bits_[i]);
      return out;
    case ScalarType::kF64:
      break;
  }
  throw BertError("cuda backend: download of a " + describe(src));
}

void CudaBackendBase::copy(Tensor dst, const Tensor& src) {
  BERT_CHECK(dst.numel == src.numel,
             "cuda backend: copy from a " + describe(src) + " into a " + describe(dst));
  if (src.numel == 0) return;
  if (dst.dtype == src.dtype) {
    CUDA_CHECK(cudaMemcpyAsync(dst.data, src.data, src.numel * scalar_size(src.dtype),
                               cudaMemcpyDeviceToDevice, stream_.get()));
  } else if (src.dtype == ScalarType::kF32 && dst.dtype == ScalarType::kBF16) {
    convert_f32_to_bf16_cuda(static_cast<bf16*>(dst.data), static_cast<const float*>(src.data), src.numel,
                             stream_.get());
  } else if (src.dtype == ScalarType::kBF16 && dst.dtype == ScalarType::kF32) {
    convert_bf16_to_f32_cuda(static_cast<float*>(dst.data), static_cast<const bf16*>(src.data), src.numel,
                             stream_.get());
  } else {
    throw BertError("cuda backend: copy from a " + describe(src) + " into a " + describe(dst));
  }
}

void CudaBackendBase::synchronize() { CUDA_CHECK(cudaStreamSynchronize(stream_.get())); }

double CudaBackendBase::sum_squares(const Tensor& values) {
  const float* data = f32(values, values.numel, "sum_squares", "values");
  sum_squares_cuda(sum_result_, data, values.numel, sum_workspace_, stream_.get());
  double result = 0;
  CUDA_CHECK(cudaMemcpyAsync(&result, sum_result_, sizeof(double), cudaMemcpyDeviceToHost, stream_.get()));
  CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
  return result;
}

void CudaBackendBase::adamw_update(Tensor master, Tensor working, Tensor exp_avg, Tensor exp_avg_sq,
                                   const Tensor& grad, const AdamWHyper& hyper, double grad_scale) {
  const char* op = "adamw_update";
  const size_t count = master.numel;
  float* param = f32(master, count, op, "master");
  float* m = f32(exp_avg, count, op, "exp_avg");
  float* v = f32(exp_avg_sq, count, op, "exp_avg_sq");
  const float* g = f32(grad, count, op, "grad");
  // The bf16 working copy is rewritten from the updated master weights; in fp32 mode the
  // working weights are the master weights themselves.
  bf16* working_copy = nullptr;
  if (!working.empty() && working.data != master.data)
    working_copy = static_cast<bf16*>(checked(working, ScalarType::kBF16, count, op, "working"));
  adamw_update_cuda(param, m, v, working_copy, g, count, hyper, static_cast<float>(grad_scale), nullptr,
                    stream_.get());
}

void* CudaBackendBase::checked(const Tensor& tensor, ScalarType dtype, size_t need, const char* op,
                               const char* what) const {
  if (tensor.dtype != dtype || tensor.numel < need || (tensor.data == nullptr && need > 0))
    throw BertError(std::string("cuda backend: ") + op + ": " + what + ": expected a " + scalar_name(dtype) +
                    " tensor of at least " + std::to_string(need) + " elements, got a " +
                    (tensor.data == nullptr ? "null " : "") + describe(tensor));
  return tensor.data;
}

float* CudaBackendBase::f32(const Tensor& tensor, size_t need, const char* op, const char* what) const {
  return static_cast<float*>(checked(tensor, ScalarType::kF32, need, op, what));
}

float* CudaBackendBase::f32_or_null(const Tensor& tensor, size_t need, const char* op,
                                    const char* what) const {
  return tensor.empty() ? nullptr : f32(tensor, need, op, what);
}

const int32_t* CudaBackendBase::ids(const Tensor& tensor, size_t need, const char* op,
                                    const char* what) const {
  return static_cast<const int32_t*>(checked(tensor, ScalarType::kI32, need, op, what));
}

int CudaBackendBase::capacity_rows(const Tensor& tensor, int width, int rows) const {
  if (width <= 0) return rows;
  const size_t capacity = memory_.capacity_elements(tensor.data, scalar_size(tensor.dtype)) / width;
  return static_cast<int>(std::min<size_t>(std::max<size_t>(capacity, rows), size_t{1} << 30));
}

}  // namespace bert
