#include "engine/cuda/cuda_backend_base.h"

#include <cuda_profiler_api.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <type_traits>

#include "core/error.h"
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

CudaStream::CudaStream(StreamPriority priority) {
  if (priority == StreamPriority::kDefault) {
    CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    return;
  }
  int least = 0, greatest = 0;  // numerically: greatest <= least
  CUDA_CHECK(cudaDeviceGetStreamPriorityRange(&least, &greatest));
  const int level = priority == StreamPriority::kLowest ? least : std::min(least, greatest + 1);
  CUDA_CHECK(cudaStreamCreateWithPriority(&stream_, cudaStreamNonBlocking, level));
}

CudaStream::~CudaStream() {
  if (stream_ != nullptr) cudaStreamDestroy(stream_);  // never throws from a destructor
}

CudaBackendBase::CudaBackendBase(const CudaBackendOptions& options)
    : fp32_(options.fp32_compute),
      stream_(StreamPriority::kBelowHighest),
      matmul_(std::make_unique<MatmulContext>(kMatmulWorkspaceBytes)) {
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  cudaDeviceProp properties{};
  CUDA_CHECK(cudaGetDeviceProperties(&properties, device));
  device_name_ = properties.name;
  sum_result_ = static_cast<double*>(memory_.allocate(sizeof(double), stream_.get()));
  const size_t partial_bytes = sum_squares_workspace_bytes();
  sum_workspace_ = GpuWorkspace{memory_.allocate(partial_bytes, stream_.get()), partial_bytes};
  const size_t scalar_bytes = adamw_stats_workspace_bytes();
  adamw_scalars_ = GpuWorkspace{memory_.allocate(scalar_bytes, stream_.get()), scalar_bytes};
  staged_download_ = PinnedBuffer(kMaxStagedDownload * sizeof(double));
}

// The side stream of begin_side_updates, its fork from the main stream, the marks the main
// stream may wait for (pending: recorded and not yet waited for) and the end of its last work.
struct CudaBackendBase::SideUpdates {
  CudaStream stream{StreamPriority::kLowest};
  CudaEvent fork, done;
  std::vector<std::unique_ptr<CudaEvent>> marks;
  std::vector<bool> pending;
  GpuWorkspace scalars;  // adamw_update_stats_cuda's, one per stream
  bool active = false;   // between begin and end
  bool joined = true;    // the main stream waits for all side work queued so far
};

CudaBackendBase::~CudaBackendBase() {
  // Queued kernels may still use the buffers about to be freed.
  if (side_) cudaStreamSynchronize(side_->stream.get());
  cudaStreamSynchronize(stream_.get());
}

void CudaBackendBase::begin_side_updates() {
  BERT_CHECK(!side_ || !side_->active,
             "cuda backend: begin_side_updates twice without end_side_updates");
  if (!side_) {
    side_ = std::make_unique<SideUpdates>();
    const size_t bytes = adamw_stats_workspace_bytes();
    side_->scalars = GpuWorkspace{memory_.allocate(bytes, stream_.get()), bytes};
  }
  side_->fork.record(stream_.get());
  side_->fork.wait_device(side_->stream.get());
  side_->active = true;
}

void CudaBackendBase::mark_side_updates(int mark) {
  BERT_CHECK(side_ && side_->active,
             "cuda backend: mark_side_updates outside begin/end_side_updates");
  BERT_CHECK(mark >= 0, "cuda backend: mark_side_updates: negative mark " + std::to_string(mark));
  while (side_->marks.size() <= size_t(mark)) {
    side_->marks.push_back(std::make_unique<CudaEvent>());
    side_->pending.push_back(false);
  }
  side_->marks[mark]->record(side_->stream.get());
  side_->pending[mark] = true;
}

void CudaBackendBase::end_side_updates() {
  BERT_CHECK(side_ && side_->active, "cuda backend: end_side_updates without begin_side_updates");
  side_->done.record(side_->stream.get());
  side_->active = false;
  side_->joined = false;
}

void CudaBackendBase::wait_side_updates(int mark) {
  if (!side_ || mark < 0 || size_t(mark) >= side_->pending.size() || !side_->pending[mark]) return;
  side_->marks[mark]->wait_device(stream_.get());
  side_->pending[mark] = false;
}

void CudaBackendBase::join_side_updates() {
  if (!side_ || side_->joined) return;
  BERT_CHECK(!side_->active, "cuda backend: join_side_updates between begin and end_side_updates");
  side_->done.wait_device(stream_.get());
  side_->joined = true;
  std::fill(side_->pending.begin(), side_->pending.end(), false);
}

GpuStream CudaBackendBase::update_stream() const {
  return side_ && side_->active ? side_->stream.get() : stream_.get();
}

GpuWorkspace CudaBackendBase::update_scalars() const {
  return side_ && side_->active ? side_->scalars : adamw_scalars_;
}

std::string CudaBackendBase::device_description() const {
  return device_name_ + (fp32_ ? ", fp32 compute" : ", bf16 compute");
}

CudaBackendStats CudaBackendBase::stats() const {
  CudaBackendStats stats;
  stats.device_allocations = memory_.allocations() + 1;  // + the cuBLASLt workspace
  stats.bytes_held = memory_.bytes_held() + kMatmulWorkspaceBytes;
  stats.scratch_bytes = memory_.scratch_bytes();
  stats.pinned_allocations = staging_.host_allocations() + 1;  // + the staged-download buffer
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
    case BufferRole::kStepStats:
      return ScalarType::kF64;
  }
  throw BertError("cuda backend: unknown buffer role");
}

Tensor CudaBackendBase::allocate(size_t numel, BufferRole role) {
  const ScalarType dtype = dtype_for(role);
  const size_t bytes = numel * scalar_size(dtype);
  void* data = memory_.try_allocate(bytes, stream_.get());
  if (data == nullptr) throw BertError(out_of_memory_message(bytes, role));
  return Tensor{data, numel, dtype};
}

std::string CudaBackendBase::out_of_memory_message(size_t bytes, BufferRole role) const {
  const char* what = "buffers";
  switch (role) {
    case BufferRole::kActivation: what = "activations"; break;
    case BufferRole::kMasterParam: what = "master weights"; break;
    case BufferRole::kWorkingParam: what = "working weights"; break;
    case BufferRole::kGradient: what = "gradients"; break;
    case BufferRole::kOptimizerState: what = "optimizer state"; break;
    case BufferRole::kIndex: what = "indices"; break;
    case BufferRole::kStatistic: what = "statistics"; break;
    case BufferRole::kStepStats: what = "step statistics"; break;
  }
  size_t free_bytes = 0, total_bytes = 0;
  if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) cudaGetLastError();
  const auto gib = [](size_t value, int decimals) {
    char text[32];
    std::snprintf(text, sizeof(text), "%.*f", decimals, static_cast<double>(value) / double(size_t{1} << 30));
    return std::string(text);
  };
  return "CUDA out of memory allocating " + gib(bytes, 2) + " GiB for " + what + " (free " +
         gib(free_bytes, 2) + " GiB of " + gib(total_bytes, 1) + " GiB on " + device_name_ +
         "): try a smaller --per_device_train_batch_size (or --max_seq_length)";
}

void CudaBackendBase::fill_zero(Tensor tensor) {
  if (tensor.numel == 0) return;
  CUDA_CHECK(cudaMemsetAsync(tensor.data, 0, tensor.numel * scalar_size(tensor.dtype), stream_.get()));
}

// Converts on the host straight into pinned slots (engine/cuda/pinned_host.h), then queues the
// copies: the host vectors may be reused at once and no upload waits for the device.
template <typename Target, typename Source, typename Convert>
void CudaBackendBase::staged_upload(void* device, const Source* src, size_t count, Convert convert) {
  constexpr size_t kPerChunk = PinnedStagingRing::kMaxSlotBytes / sizeof(Target);
  Target* target = static_cast<Target*>(device);
  for (size_t done = 0; done < count; done += kPerChunk) {
    const size_t chunk = std::min(kPerChunk, count - done);
    Target* slot = static_cast<Target*>(staging_.acquire(chunk * sizeof(Target)));
    for (size_t i = 0; i < chunk; ++i) slot[i] = convert(src[done + i]);
    staging_.submit(target + done, chunk * sizeof(Target), stream_.get());
  }
}

template <typename Source>
void CudaBackendBase::upload_converted(Tensor dst, const Source* src, size_t count) {
  BERT_CHECK(count <= dst.numel,
             "cuda backend: upload of " + std::to_string(count) + " values into a " + describe(dst));
  if (count == 0) return;
  switch (dst.dtype) {
    case ScalarType::kF32:
      return staged_upload<float>(dst.data, src, count, [](Source x) { return static_cast<float>(x); });
    case ScalarType::kBF16:
      return staged_upload<uint16_t>(dst.data, src, count,
                                     [](Source x) { return bf16_bits_from_float(static_cast<float>(x)); });
    case ScalarType::kF64:  // step statistics
      return staged_upload<double>(dst.data, src, count, [](Source x) { return static_cast<double>(x); });
    case ScalarType::kI32:
      break;
  }
  throw BertError("cuda backend: upload of floating-point values into a " + describe(dst));
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
  staged_upload<int32_t>(dst.data, src, count, [](int32_t x) { return x; });
}

void CudaBackendBase::download_f32(const Tensor& src, float* out) {
  if (src.dtype != ScalarType::kF32) return Backend::download_f32(src, out);
  if (src.numel == 0) return;
  join_side_updates();
  CUDA_CHECK(cudaMemcpyAsync(out, src.data, src.numel * sizeof(float), cudaMemcpyDeviceToHost,
                             stream_.get()));
  CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
}

std::vector<double> CudaBackendBase::download(const Tensor& src) {
  std::vector<double> out(src.numel);
  if (src.numel == 0) return out;
  join_side_updates();
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
      CUDA_CHECK(cudaMemcpyAsync(out.data(), src.data, bytes, cudaMemcpyDeviceToHost, stream_.get()));
      CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
      return out;
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

void CudaBackendBase::synchronize() {
  join_side_updates();
  CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
}

void CudaBackendBase::profile_range(bool begin) {
  if (begin) {
    CUDA_CHECK(cudaProfilerStart());
  } else {
    synchronize();  // the bracketed work has run before collection stops
    CUDA_CHECK(cudaProfilerStop());
  }
}

double CudaBackendBase::sum_squares(const Tensor& values) {
  const float* data = f32(values, values.numel, "sum_squares", "values");
  join_side_updates();
  sum_squares_cuda(sum_result_, data, values.numel, sum_workspace_, stream_.get());
  double result = 0;
  CUDA_CHECK(cudaMemcpyAsync(&result, sum_result_, sizeof(double), cudaMemcpyDeviceToHost, stream_.get()));
  CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
  return result;
}

CudaBackendBase::AdamWBuffers CudaBackendBase::adamw_buffers(Tensor master, Tensor working, Tensor exp_avg,
                                                             Tensor exp_avg_sq, const Tensor& grad) const {
  const char* op = "adamw_update";
  const size_t count = master.numel;
  AdamWBuffers buffers{f32(master, count, op, "master"), f32(exp_avg, count, op, "exp_avg"),
                       f32(exp_avg_sq, count, op, "exp_avg_sq"), f32(grad, count, op, "grad"), nullptr};
  // The bf16 working copy is rewritten from the updated master weights; in fp32 mode the
  // working weights are the master weights themselves.
  if (!working.empty() && working.data != master.data)
    buffers.working = static_cast<bf16*>(checked(working, ScalarType::kBF16, count, op, "working"));
  return buffers;
}

void CudaBackendBase::adamw_update(Tensor master, Tensor working, Tensor exp_avg, Tensor exp_avg_sq,
                                   const Tensor& grad, const AdamWHyper& hyper, double grad_scale) {
  const AdamWBuffers b = adamw_buffers(master, working, exp_avg, exp_avg_sq, grad);
  adamw_update_cuda(b.param, b.exp_avg, b.exp_avg_sq, b.working, b.grad, master.numel, hyper,
                    static_cast<float>(grad_scale), nullptr, update_stream());
}

// ---- step statistics: everything below is queued on the stream, nothing waits ----
static_assert(kStepLossSum == StepStatsLayout::kLossSum && kStepGradSumSquares == StepStatsLayout::kGradSumSquares &&
                  kStepClipScale == StepStatsLayout::kClipScale && kStepApplied == StepStatsLayout::kApplied &&
                  kStepUpdatesDone == StepStatsLayout::kUpdatesDone,
              "engine/backend.h's StepStat and kernels/adamw.h's StepStatsLayout must agree");

double* CudaBackendBase::step_stats(const Tensor& stats, const char* op) const {
  return static_cast<double*>(checked(stats, ScalarType::kF64, kStepStatsCount, op, "stats"));
}

void CudaBackendBase::step_stats_begin(Tensor stats) {
  // All-zero bytes are 0.0; kStepUpdatesDone and the spare slots are kept.
  CUDA_CHECK(cudaMemsetAsync(step_stats(stats, "step_stats_begin"), 0, kStepUpdatesDone * sizeof(double),
                             stream_.get()));
}

void CudaBackendBase::accumulate_loss(Tensor stats, const Tensor& losses, size_t count, double weight) {
  double* s = step_stats(stats, "accumulate_loss");
  step_accumulate_loss_cuda(s, f32(losses, count, "accumulate_loss", "losses"), count, weight, stream_.get());
}

void CudaBackendBase::grad_norm_and_clip(Tensor stats, const Tensor& grads, double max_norm) {
  double* s = step_stats(stats, "grad_norm_and_clip");
  const float* values = f32(grads, grads.numel, "grad_norm_and_clip", "grads");
  sum_squares_cuda(s + kStepGradSumSquares, values, grads.numel, sum_workspace_, stream_.get());
  step_clip_and_flag_cuda(s, max_norm, stream_.get());
}

void CudaBackendBase::adamw_update(Tensor master, Tensor working, Tensor exp_avg, Tensor exp_avg_sq,
                                   const Tensor& grad, const AdamWHyper& hyper, const Tensor& stats) {
  const AdamWBuffers b = adamw_buffers(master, working, exp_avg, exp_avg_sq, grad);
  adamw_update_stats_cuda(b.param, b.exp_avg, b.exp_avg_sq, b.working, b.grad, master.numel, hyper,
                          step_stats(stats, "adamw_update"), update_scalars(), update_stream());
}

void CudaBackendBase::step_stats_end(Tensor stats) {
  step_stats_end_cuda(step_stats(stats, "step_stats_end"), stream_.get());
}

void CudaBackendBase::stage_download(const Tensor& src) {
  if (staged_pending_) throw BertError("cuda backend: stage_download: a staged download is still pending");
  if (src.dtype != ScalarType::kF64 || src.numel > kMaxStagedDownload)
    throw BertError("cuda backend: stage_download: expected a f64 tensor of at most " +
                    std::to_string(kMaxStagedDownload) + " elements, got a " + describe(src));
  if (src.numel > 0)
    CUDA_CHECK(cudaMemcpyAsync(staged_download_.data(), src.data, src.numel * sizeof(double),
                               cudaMemcpyDeviceToHost, stream_.get()));
  staged_copied_.record(stream_.get());
  staged_count_ = src.numel;
  staged_pending_ = true;
}

std::vector<double> CudaBackendBase::collect_download() {
  if (!staged_pending_) throw BertError("cuda backend: collect_download: nothing staged");
  staged_copied_.wait_host();  // this copy (and what was queued before it) only
  staged_pending_ = false;
  const double* values = static_cast<const double*>(staged_download_.data());
  return std::vector<double>(values, values + staged_count_);
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
