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

struct SideRunResult {
  std::vector<double> step_values;  // each step's loss and gradient norm
  std::vector<double> state;        // master weights and both moments
};

SideRunResult train_on_cuda(bool fp32, bool beside) {
  BertConfig config =
      small_config(0.1f);  // its vocabulary, positions and layers; CUDA-sized widths:
  config.hidden_size = 64;
  config.num_attention_heads = 2;
  config.intermediate_size = 128;
  TrainConfig train = resume_train_config();  // 12 steps of 2 micro-batches, weight decay on
  train.optimizer.update_beside_forward = beside;
  std::unique_ptr<Backend> backend = make_cuda_backend(CudaBackendOptions{fp32});
  BertQaModel model(*backend, config, train.batch_size * 14, train.batch_size);
  model.set_parameters(init_bert_qa_params(config, 9));
  AdamWOptimizer optimizer(model, train.optimizer);
  Trainer trainer(model, optimizer, train);
  SideRunResult result;
  TrainHooks hooks;
  hooks.on_step = [&result](const TrainProgress& progress) {
    result.step_values.push_back(progress.step_loss);
    result.step_values.push_back(progress.grad_norm);
  };
  REQUIRE(trainer.train(resume_windows(23), hooks).steps == 12);
  result.state = backend->download(model.master_params());
  for (const Tensor& moment : {optimizer.exp_avg(), optimizer.exp_avg_sq()}) {
    const std::vector<double> part = backend->download(moment);
    result.state.insert(result.state.end(), part.begin(), part.end());
  }
  return result;
}

}  // namespace

TEST_CASE("cuda backend: AdamW beside the forward pass ends with the in-order update's bits",
          "[gpu][backend][side_updates]") {
  for (const bool fp32 : {false, true}) {
    CAPTURE(fp32);
    const SideRunResult in_order = train_on_cuda(fp32, false), beside = train_on_cuda(fp32, true);
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
