// The dtype-independent half of the CUDA backend (engine/cuda/cuda_backend.h): device, stream,
// cuBLASLt context, memory, transfers, the optimizer ops (fp32 in both compute modes) and the
// tensor checks the ops use. The ops that depend on the activation type are in
// engine/cuda/cuda_backend_ops.cpp (CudaBackendOps<bf16 or float>).
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/device_memory.h"
#include "engine/cuda/pinned_host.h"
#include "kernels/matmul.h"

namespace bert {

// A stream of the backend (non-blocking: it never waits on the legacy default stream), at a
// priority: the block scheduler dispatches a higher-priority stream's pending blocks first.
// kDefault: the device's default (its lowest); kLowest: the same, asked for explicitly (the
// CPU emulation runs such a stream's work only when something waits for it, the latest a GPU
// could); kBelowHighest: one level under the highest, so above every default stream and below
// NCCL's communication stream (comm/nccl_communicator.cpp), which asks for the highest.
enum class StreamPriority { kDefault, kLowest, kBelowHighest };
class CudaStream {
 public:
  explicit CudaStream(StreamPriority priority = StreamPriority::kDefault);
  ~CudaStream();
  CudaStream(const CudaStream&) = delete;
  CudaStream& operator=(const CudaStream&) = delete;
  GpuStream get() const { return stream_; }

 private:
  GpuStream stream_ = nullptr;
};

class CudaBackendBase : public CudaBackend {
 public:
  explicit CudaBackendBase(const CudaBackendOptions& options);
  ~CudaBackendBase() override;

  ScalarType dtype_for(BufferRole role) const override;
  bool has_working_params() const override { return !fp32_; }
  bool fp32_compute() const override { return fp32_; }

  Tensor allocate(size_t numel, BufferRole role) override;
  void fill_zero(Tensor tensor) override;
  void upload(Tensor dst, const float* src, size_t count) override;
  void upload(Tensor dst, const double* src, size_t count) override;
  void upload(Tensor dst, const int32_t* src, size_t count) override;
  std::vector<double> download(const Tensor& src) override;
  void download_f32(const Tensor& src, float* out) override;
  void copy(Tensor dst, const Tensor& src) override;
  void synchronize() override;
  void profile_range(bool begin) override;

  double sum_squares(const Tensor& values) override;
  void adamw_update(Tensor master, Tensor working, Tensor exp_avg, Tensor exp_avg_sq, const Tensor& grad,
                    const AdamWHyper& hyper, double grad_scale) override;

  void step_stats_begin(Tensor stats) override;
  void accumulate_loss(Tensor stats, const Tensor& losses, size_t count, double weight) override;
  void grad_norm_and_clip(Tensor stats, const Tensor& grads, double max_norm) override;
  void adamw_update(Tensor master, Tensor working, Tensor exp_avg, Tensor exp_avg_sq, const Tensor& grad,
                    const AdamWHyper& hyper, const Tensor& stats) override;
  void step_stats_end(Tensor stats) override;
  void begin_side_updates() override;
  void mark_side_updates(int mark) override;
  void end_side_updates() override;
  void wait_side_updates(int mark) override;
  void join_side_updates() override;
  void stage_download(const Tensor& src) override;
  std::vector<double> collect_download() override;

  CudaBackendStats stats() const override;
  GpuStream stream() const override { return stream_.get(); }
  std::string device_description() const override;

 protected:
  ScalarType activation_dtype() const { return fp32_ ? ScalarType::kF32 : ScalarType::kBF16; }
  // tensor.data after checking that its dtype is `dtype` and that it holds at least `need`
  // elements; throws BertError("cuda backend: <op>: <what>: ...") otherwise.
  void* checked(const Tensor& tensor, ScalarType dtype, size_t need, const char* op, const char* what) const;
  float* f32(const Tensor& tensor, size_t need, const char* op, const char* what) const;
  float* f32_or_null(const Tensor& tensor, size_t need, const char* op, const char* what) const;
  const int32_t* ids(const Tensor& tensor, size_t need, const char* op, const char* what) const;
  // Rows of `width` elements the allocation behind `tensor` can hold from its start (at least
  // `rows`): scratch sized for it serves every later, larger batch without growing.
  int capacity_rows(const Tensor& tensor, int width, int rows) const;
  GpuWorkspace scratch(size_t bytes) { return memory_.scratch(bytes, stream_.get()); }
  // Scratch of a row-wise op sized for the capacity of `tensor` (capacity_rows) as well as for
  // this call's rows: the first call sizes it for every later batch, so no step allocates.
  template <typename WorkspaceBytes>
  GpuWorkspace scratch_for_rows(WorkspaceBytes bytes, const Tensor& tensor, int width, int rows) {
    return scratch(std::max(bytes(capacity_rows(tensor, width, rows), width), bytes(rows, width)));
  }
  MatmulContext& matmul() { return *matmul_; }

 private:
  template <typename Source>
  void upload_converted(Tensor dst, const Source* src, size_t count);
  // Converts src[0..count) with `convert` into pinned slots and queues the copies to `device`.
  template <typename Target, typename Source, typename Convert>
  void staged_upload(void* device, const Source* src, size_t count, Convert convert);
  double* step_stats(const Tensor& stats, const char* op) const;
  // The fp32 master, moments and gradient and the bf16 working copy (or null) of an update.
  struct AdamWBuffers {
    float *param, *exp_avg, *exp_avg_sq;
    const float* grad;
    bf16* working;
  };
  AdamWBuffers adamw_buffers(Tensor master, Tensor working, Tensor exp_avg, Tensor exp_avg_sq,
                             const Tensor& grad) const;
  std::string out_of_memory_message(size_t bytes, BufferRole role) const;
  // The stream adamw_update queues on (the side stream between begin/end_side_updates) and the
  // scalars workspace of that stream.
  GpuStream update_stream() const;
  GpuWorkspace update_scalars() const;

  bool fp32_;
  std::string device_name_;
  CudaStream stream_;  // kBelowHighest: the step's own kernels before the side stream's
  std::unique_ptr<MatmulContext> matmul_;
  DeviceMemory memory_;
  double* sum_result_ = nullptr;  // [1] device: sum_squares' result
  GpuWorkspace sum_workspace_;    // sum_squares' block partials
  GpuWorkspace adamw_scalars_;    // the stats-driven AdamW's scalars, formed on the device
  std::vector<uint16_t> host_bits_;
  std::vector<float> host_floats_;
  PinnedStagingRing staging_;       // upload()'s pinned slots
  PinnedBuffer staged_download_;    // [kMaxStagedDownload] doubles for stage_download()
  CudaEvent staged_copied_;
  size_t staged_count_ = 0;
  bool staged_pending_ = false;
  struct SideUpdates;                  // begin_side_updates' stream and events, made on first use
  std::unique_ptr<SideUpdates> side_;  // last: destroyed (after a sync) before the memory
};

}  // namespace bert
