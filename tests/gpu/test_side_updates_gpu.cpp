// AdamW beside the next forward pass on the CUDA backend (OptimizerConfig::update_beside_forward,
// CudaBackendBase's side stream): a dozen Trainer steps must end with the same bits as the
// in-order update, losses, gradient norms, weights and moments, in both compute modes. On a GPU
// a missing wait is a race that may or may not show; in the CPU emulation (run_emulated_backend_
// tests.sh) the side stream's work runs only when waited for (tests/gpu/emulation/stream_emu.h),
// so a forward pass that uses a stage before waiting for its update, or gradients zeroed before
// the update has read them, changes the result on every run.
#include <catch2/catch.hpp>
#include <memory>
#include <vector>

#include "engine/cuda/cuda_backend.h"
#include "tests/engine/resume_test_util.h"

namespace bert::test {
namespace {

TrainedRun train_on_cuda(bool fp32, bool beside) {
  BertConfig config =
      small_config(0.1f);  // its vocabulary, positions and layers; CUDA-sized widths:
  config.hidden_size = 64;
  config.num_attention_heads = 2;
  config.intermediate_size = 128;
  TrainConfig train = resume_train_config();  // 12 steps of 2 micro-batches, weight decay on
  train.optimizer.update_beside_forward = beside;
  std::unique_ptr<Backend> backend = make_cuda_backend(CudaBackendOptions{fp32});
  TrainedRun run = train_resume_windows(*backend, config, train, 9);
  REQUIRE(run.steps == 12);
  return run;
}

}  // namespace

TEST_CASE("cuda backend: AdamW beside the forward pass ends with the in-order update's bits",
          "[gpu][backend][side_updates]") {
  for (const bool fp32 : {false, true}) {
    CAPTURE(fp32);
    const TrainedRun in_order = train_on_cuda(fp32, false), beside = train_on_cuda(fp32, true);
    REQUIRE(in_order.step_values.size() == 24);
    REQUIRE(beside.step_values == in_order.step_values);
    size_t differing = 0;
    for (size_t i = 0; i < in_order.state.size(); ++i)
      differing += beside.state[i] != in_order.state[i];
    INFO(differing << " of " << in_order.state.size() << " weights and moments differ");
    REQUIRE(differing == 0);
  }
}

}  // namespace bert::test
