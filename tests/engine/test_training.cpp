// Model-level checks beyond the golden: gradient accumulation equals one large batch,
// dropout masks are regenerated consistently (finite differences through the whole model
// with dropout on), the learning-rate schedule and the data order.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <set>

#include "engine/bert_qa_model.h"
#include "io/param_specs.h"
#include "engine/evaluator.h"
#include "engine/optimizer.h"
#include "engine/packed_batch.h"
#include "engine/trainer.h"
#include "kernels/cpu_parallel.h"
#include "tests/engine/resume_test_util.h"
#include "tests/test_support.h"

namespace bert {
namespace {

// Sequences of the given lengths with deterministic ids and labels inside each sequence.
PackedBatch make_batch(const std::vector<int>& lengths, int seed) {
  PackedBatch batch;
  batch.cu_seqlens.push_back(0);
  for (size_t b = 0; b < lengths.size(); ++b) {
    for (int t = 0; t < lengths[b]; ++t) {
      batch.input_ids.push_back((seed * 7 + int(b) * 13 + t * 5) % 50);
      batch.token_type_ids.push_back(t > lengths[b] / 2 ? 1 : 0);
      batch.position_ids.push_back(t);
    }
    batch.cu_seqlens.push_back(batch.cu_seqlens.back() + lengths[b]);
    batch.start_positions.push_back((seed + int(b)) % lengths[b]);
    batch.end_positions.push_back((seed + 2 * int(b) + 1) % lengths[b]);
  }
  return batch;
}

PackedBatch concat(const PackedBatch& a, const PackedBatch& b) {
  PackedBatch out = a;
  out.input_ids.insert(out.input_ids.end(), b.input_ids.begin(), b.input_ids.end());
  out.token_type_ids.insert(out.token_type_ids.end(), b.token_type_ids.begin(), b.token_type_ids.end());
  out.position_ids.insert(out.position_ids.end(), b.position_ids.begin(), b.position_ids.end());
  for (size_t i = 1; i < b.cu_seqlens.size(); ++i) out.cu_seqlens.push_back(a.tokens() + b.cu_seqlens[i]);
  out.start_positions.insert(out.start_positions.end(), b.start_positions.begin(), b.start_positions.end());
  out.end_positions.insert(out.end_positions.end(), b.end_positions.begin(), b.end_positions.end());
  return out;
}

std::vector<double> flat(const std::map<std::string, std::vector<double>>& tensors) {
  std::vector<double> out;
  for (const auto& [name, values] : tensors) out.insert(out.end(), values.begin(), values.end());
  return out;
}

// The CUDA kernels' size bounds (kernels/kernel_limits.h) are theirs alone: the CPU backend runs
// heads wider than 64 and a hidden size that is not a multiple of 4.
TEST_CASE("the CPU backend runs model sizes the CUDA kernels refuse", "[engine]") {
  BertConfig config = test::small_config(0.0f);
  config.num_hidden_layers = 1;
  config.max_position_embeddings = 16;
  for (const auto& [hidden, heads] : std::vector<std::pair<int, int>>{{130, 1}, {30, 3}}) {
    CAPTURE(hidden, heads);
    config.hidden_size = hidden;
    config.num_attention_heads = heads;
    REQUIRE(cuda_kernels_model_size_problem(hidden, heads));
    auto backend = make_cpu_backend(false);
    REQUIRE_FALSE(backend->model_size_problem(hidden, heads));
    REQUIRE_NOTHROW(check_backend_runs_model(*backend, config, "model/config.json"));
    const PackedBatch batch = make_batch({5, 9}, 1);
    BertQaModel model(*backend, config, batch.tokens(), batch.batch());
    model.set_parameters(init_bert_qa_params(config, 3));
    model.load_batch(batch);
    CHECK(std::isfinite(model.forward(PassContext{}, true)));
  }
}

TEST_CASE("two accumulated micro-batches give the gradient of one batch", "[engine]") {
  const BertConfig config = test::small_config(0.0f);
  const PackedBatch first = make_batch({5, 9}, 1), second = make_batch({3, 11}, 2);
  const PackedBatch both = concat(first, second);
  auto backend = make_cpu_backend(true);
  BertQaModel model(*backend, config, both.tokens(), both.batch());
  model.set_parameters(init_bert_qa_params(config, 3));

  PassContext whole;
  model.zero_gradients();
  model.load_batch(both);
  const double loss = model.forward(whole, true);
  model.backward(whole);
  const std::vector<double> reference = flat(model.gradients());

  PassContext half;
  half.loss_scale = 0.5;
  model.zero_gradients();
  double accumulated_loss = 0;
  for (const PackedBatch* micro : {&first, &second}) {
    model.load_batch(*micro);
    accumulated_loss += 0.5 * model.forward(half, true);
    model.backward(half);
  }
  CHECK(accumulated_loss == Approx(loss).epsilon(1e-12));
  REQUIRE_CLOSE("accumulated gradients", test::compare_close(flat(model.gradients()), reference, 1e-14, 1e-10));
}

// The Trainer's step: begin_gradient_step zeroes all but the linear layers' weight gradients,
// which the first backward overwrites. Whatever the gradient buffer held before, the result
// must be zero_gradients' (the control: without begin, the stale values would stay).
TEST_CASE("a gradient step overwrites stale weight gradients and zeroes the rest", "[engine]") {
  const BertConfig config = test::small_config(0.1f);
  const PackedBatch first = make_batch({5, 9}, 1), second = make_batch({3, 11}, 2);
  auto backend = make_cpu_backend(true);
  BertQaModel model(*backend, config, 20, 2);
  model.set_parameters(init_bert_qa_params(config, 3));
  PassContext context;
  context.training = true;
  context.seed = 5;
  context.loss_scale = 0.5;
  auto run_micro_batches = [&](int count) {
    for (int micro = 0; micro < count; ++micro) {
      context.micro_step = static_cast<uint32_t>(micro);
      model.load_batch(micro == 0 ? first : second);
      model.forward(context, true);
      model.backward(context);
    }
  };
  const std::vector<double> stale(model.layout().total(), 7.25);
  for (const int micro_batches : {1, 2}) {
    model.zero_gradients();
    run_micro_batches(micro_batches);
    const std::vector<double> reference = flat(model.gradients());

    backend->upload(model.gradients_flat(), stale.data(), stale.size());
    model.begin_gradient_step();
    run_micro_batches(micro_batches);
    model.end_gradient_step();
    INFO(micro_batches << " micro-batches");
    REQUIRE_CLOSE("gradients of a step", test::compare_close(flat(model.gradients()), reference, 1e-15, 1e-14));
  }
  // A step with no backward on this rank ends with every gradient zero.
  backend->upload(model.gradients_flat(), stale.data(), stale.size());
  model.begin_gradient_step();
  model.end_gradient_step();
  const std::vector<double> none = flat(model.gradients());
  CHECK(std::all_of(none.begin(), none.end(), [](double g) { return g == 0.0; }));
  // The control: stale values survive a backward that only adds.
  backend->upload(model.gradients_flat(), stale.data(), stale.size());
  run_micro_batches(1);
  const std::vector<double> added = flat(model.gradients());
  model.zero_gradients();
  run_micro_batches(1);
  CHECK_FALSE(test::compare_close(added, flat(model.gradients()), 1e-15, 1e-14).ok);
}

// Evaluation stages each batch's logits on the backend and downloads kLogitStages batches at
// once: the logits must be those of a forward and download per batch, window by window.
TEST_CASE("predict_windows' staged logits equal a download after every batch", "[engine]") {
  const BertConfig config = test::small_config(0.1f);  // dropout configured, off at inference
  const std::vector<Window> windows = test::resume_windows(23);
  const int batch_size = 2;  // 12 batches: one take after 8, one at the end
  auto backend = make_cpu_backend(true);
  BertQaModel model(*backend, config, batch_size * 16, batch_size);
  model.set_parameters(init_bert_qa_params(config, 4));
  std::vector<std::pair<size_t, size_t>> progress;
  const WindowPredictions staged =
      predict_windows(model, windows, batch_size, [&](size_t done, size_t total) { progress.emplace_back(done, total); });
  CHECK(progress == std::vector<std::pair<size_t, size_t>>{{16, 23}, {23, 23}});
  for (size_t begin = 0; begin < windows.size(); begin += batch_size) {
    const size_t end = std::min(windows.size(), begin + batch_size);
    std::vector<const Window*> members;
    for (size_t w = begin; w < end; ++w) members.push_back(&windows[w]);
    model.load_batch(pack_windows(members));
    model.forward(PassContext{}, false);
    const std::vector<double> logits = model.logits();
    size_t token = 0;
    for (size_t w = begin; w < end; ++w)
      for (int t = 0; t < windows[w].length(); ++t, ++token) {
        INFO("window " << w << ", token " << t);
        REQUIRE(staged.start_logits[w][t] == static_cast<float>(logits[2 * token]));
        REQUIRE(staged.end_logits[w][t] == static_cast<float>(logits[2 * token + 1]));
      }
  }
  // Staging more than kLogitStages full forwards without a take is refused.
  model.take_staged_logits();
  std::vector<const Window*> full;  // 2 windows of 14 tokens: max_tokens is 32
  for (size_t w = 0; w < windows.size() && full.size() < 2; ++w)
    if (windows[w].length() == 14) full.push_back(&windows[w]);
  REQUIRE(full.size() == 2);
  model.load_batch(pack_windows(full));
  model.forward(PassContext{}, false);
  for (int stage = 0; stage < BertQaModel::kLogitStages; ++stage) model.stage_logits();
  CHECK(model.take_staged_logits().size() == size_t(BertQaModel::kLogitStages) * 2 * 28);
  for (int stage = 0; stage < BertQaModel::kLogitStages; ++stage) model.stage_logits();
  model.load_batch(pack_windows({full[0]}));
  model.forward(PassContext{}, false);
  CHECK_NOTHROW(model.stage_logits());  // 8 · 28 + 14 tokens still fit in 8 · 32
  model.load_batch(pack_windows(full));
  model.forward(PassContext{}, false);
  CHECK_THROWS_AS(model.stage_logits(), BertError);
}

TEST_CASE("with dropout on, backward is the gradient of the same masked forward", "[engine]") {
  const BertConfig config = test::small_config(0.25f);
  const PackedBatch batch = make_batch({6, 4, 9}, 5);
  auto backend = make_cpu_backend(true);
  BertQaModel model(*backend, config, batch.tokens(), batch.batch());
  const auto initial = init_bert_qa_params(config, 11);
  model.set_parameters(initial);
  model.load_batch(batch);

  PassContext context;
  context.training = true;
  context.seed = 1234;
  context.micro_step = 7;
  model.zero_gradients();
  const double loss = model.forward(context, true);
  CHECK(model.forward(context, true) == loss);  // same key and counter: same masks
  PassContext other = context;
  other.micro_step = 8;
  CHECK(model.forward(other, true) != loss);   // a new micro-step draws new masks
  PassContext eval;
  CHECK(model.forward(eval, true) != loss);    // no dropout at inference

  model.forward(context, true);
  model.backward(context);
  const auto grads = model.gradients();
  // Central differences on a few elements of tensors spread through the model.
  for (const std::string name : {"bert.embeddings.word_embeddings.weight", "bert.embeddings.LayerNorm.weight",
                                 "bert.encoder.layer.0.attention.self.query.weight",
                                 "bert.encoder.layer.1.attention.self.value.bias",
                                 "bert.encoder.layer.1.intermediate.dense.weight", "qa_outputs.weight"}) {
    const ParamSlot& slot = model.layout().slot(name);
    for (size_t element : {size_t(0), slot.numel / 3, slot.numel - 1}) {
      // word_embeddings rows only get gradient from ids in the batch; pick one that appears.
      if (name == "bert.embeddings.word_embeddings.weight") element = size_t(batch.input_ids[4]) * 8 + element % 8;
      const double h = 1e-5;
      // Perturb through the master buffer in double (set_parameters would round to float).
      Tensor master = model.master_params();
      std::vector<double> values = backend->download(master);
      const double original = values[slot.offset + element];
      values[slot.offset + element] = original + h;
      backend->upload(master, values.data(), values.size());
      const double plus = model.forward(context, true);
      values[slot.offset + element] = original - h;
      backend->upload(master, values.data(), values.size());
      const double minus = model.forward(context, true);
      values[slot.offset + element] = original;
      backend->upload(master, values.data(), values.size());
      const double numeric = (plus - minus) / (2 * h);
      const double analytic = grads.at(name)[element];
      INFO(name << "[" << element << "] analytic " << analytic << " numeric " << numeric);
      CHECK(std::fabs(analytic - numeric) <= 1e-6 + 1e-5 * std::fabs(numeric));
    }
  }
}

// The float CPU backend's loss and gradients, then the parameters after one AdamW update, for
// one step with dropout with the CPU pool at `threads` threads. Large enough that the GEMMs are
// split over the threads.
struct OneStep {
  std::vector<double> loss_and_gradients, parameters;
};

OneStep one_step_with_threads(int threads) {
  cpu::set_thread_count(threads);
  BertConfig config = test::small_config(0.1f);
  config.hidden_size = 64;
  config.intermediate_size = 256;
  config.max_position_embeddings = 128;
  const PackedBatch batch = make_batch({70, 90, 33, 120, 64, 101, 77, 45}, 3);
  auto backend = make_cpu_backend(false);
  BertQaModel model(*backend, config, batch.tokens(), batch.batch());
  model.set_parameters(init_bert_qa_params(config, 5));
  OptimizerConfig optimizer_config;
  optimizer_config.weight_decay = 0.01;
  AdamWOptimizer optimizer(model, optimizer_config);
  PassContext context;
  context.training = true;
  context.seed = 99;
  model.load_batch(batch);
  model.zero_gradients();
  OneStep out;
  out.loss_and_gradients = {model.forward(context, true)};
  model.backward(context);
  const std::vector<double> grads = flat(model.gradients());
  out.loss_and_gradients.insert(out.loss_and_gradients.end(), grads.begin(), grads.end());
  optimizer.step(1e-3);
  out.parameters = flat(model.parameters_exact());
  cpu::set_thread_count(0);
  return out;
}

TEST_CASE("concurrent_blas_callers: attention's sequences and heads, or a product's bands",
          "[engine]") {
  cpu::set_thread_count(4);
  BertConfig config = test::small_config(0.0f);
  config.hidden_size = 16;  // linear layers under blas::kSplitMultiplyAdds at 512 tokens
  config.intermediate_size = 32;
  config.num_attention_heads = 2;
  CHECK(concurrent_blas_callers(config, 512, 1) == 2);  // one call per sequence and head
  CHECK(concurrent_blas_callers(config, 512, 8) == 4);  // 16 of them, at most one per thread
  // One head and one sequence: run inline, its 512 x 512 x 16 products cut into 4 bands.
  config.num_attention_heads = 1;
  CHECK(concurrent_blas_callers(config, 512, 1) == 4);
  // Two sequences of at most 256 tokens: 2 calls at once, each product under the threshold.
  CHECK(concurrent_blas_callers(config, 512, 2) == 2);
  // A wide layer's product past the threshold: its bands.
  config.num_attention_heads = 2;
  config.hidden_size = 128;
  config.intermediate_size = 512;
  CHECK(concurrent_blas_callers(config, 512, 1) == 4);
  cpu::set_thread_count(0);
}

// Same thread count: the same bits (pieces may run on any thread). Other counts cut OpenBLAS's
// products elsewhere, which changes rounding only. (Parameters are compared bit for bit only:
// Adam turns the rounding noise of qa_outputs.bias's zero gradient into full-size steps.)
TEST_CASE("the CPU backend is deterministic on its thread pool", "[engine]") {
  const OneStep two = one_step_with_threads(2), again = one_step_with_threads(2);
  REQUIRE(std::isfinite(two.loss_and_gradients[0]));
  REQUIRE_CLOSE("loss and gradients, 2 threads twice",
                test::compare_close(again.loss_and_gradients, two.loss_and_gradients, 0.0, 0.0));
  REQUIRE_CLOSE("parameters, 2 threads twice", test::compare_close(again.parameters, two.parameters, 0.0, 0.0));
  for (const int threads : {1, 3}) {
    INFO(threads << " threads against 2");
    REQUIRE_CLOSE("loss and gradients", test::compare_close(one_step_with_threads(threads).loss_and_gradients,
                                                            two.loss_and_gradients, 1e-7, 1e-3));
  }
}

TEST_CASE("linear warmup then linear decay, as get_linear_schedule_with_warmup", "[engine]") {
  CHECK(linear_schedule_lr(1.0, 0, 10, 110) == 0.0);
  CHECK(linear_schedule_lr(1.0, 5, 10, 110) == Approx(0.5));
  CHECK(linear_schedule_lr(1.0, 10, 10, 110) == Approx(1.0));
  CHECK(linear_schedule_lr(1.0, 60, 10, 110) == Approx(0.5));
  CHECK(linear_schedule_lr(1.0, 110, 10, 110) == 0.0);
  CHECK(linear_schedule_lr(2.0, 0, 0, 4) == Approx(2.0));
  TrainConfig config;
  config.batch_size = 8;
  config.gradient_accumulation_steps = 2;
  config.num_train_epochs = 2;
  CHECK(total_train_steps(config, 100) == 14);  // 13 batches: 7 steps per epoch, the 7th of 1 batch
  config.warmup_ratio = 0.1;
  CHECK(warmup_steps_for(config, 14) == 2);
  config.max_steps = 5;
  CHECK(total_train_steps(config, 100) == 5);
}

TEST_CASE("an epoch's last step takes the micro-batches left: no step spans two epochs",
          "[engine]") {
  // transformers 5's Trainer: ceil(batches / accumulation) updates per epoch, the last one over
  // batches mod accumulation micro-batches (when not 0), its loss their mean.
  CHECK(steps_per_epoch(5, 1, 1, 2) == 3);
  CHECK(steps_per_epoch(8, 1, 1, 4) == 2);
  CHECK(steps_per_epoch(3, 1, 1, 20) == 1);
  std::vector<int> counts;
  for (int64_t step = 0; step < 6; ++step) counts.push_back(micro_batches_in_step(step, 5, 2));
  CHECK(counts == std::vector<int>{2, 2, 1, 2, 2, 1});
  CHECK(micro_batches_in_step(2, 7, 3) == 1);
  CHECK(micro_batches_in_step(4, 8, 4) == 4);
  CHECK(micro_batches_in_step(9, 3, 20) == 3);

  // 5 windows, 2 epochs in the file's order, dropout off: batch 1 with accumulation 2 steps over
  // {w0 w1} {w2 w3} {w4} each epoch, as batch 2 without accumulation does.
  const std::vector<Window> windows = test::resume_windows(5);
  // Each step's loss and gradient norm (a mathematically zero gradient, the key bias's, takes
  // Adam steps of its rounding noise, so the weights are not compared), and each step's epoch.
  auto run = [&](int batch, int accumulation, std::vector<double>* epochs) {
    TrainConfig config;
    config.batch_size = batch;
    config.gradient_accumulation_steps = accumulation;
    config.num_train_epochs = 2;
    config.sampling = TrainSampling::kSequential;
    config.seed = 3;
    config.logging_steps = 1;
    config.save_steps = 0;
    config.optimizer.learning_rate = 3e-3;
    test::TinyRun tiny(config, 5, test::small_config(0.0f));
    Trainer trainer(*tiny.model, *tiny.optimizer, config);
    std::vector<double> values;
    TrainHooks hooks;
    hooks.on_step = [&](const TrainProgress& progress) {
      values.push_back(progress.step_loss);
      values.push_back(progress.grad_norm);
      epochs->push_back(progress.epoch);
    };
    trainer.train(windows, hooks);
    return values;
  };
  std::vector<double> accumulated_epochs, batched_epochs;
  const std::vector<double> accumulated = run(1, 2, &accumulated_epochs);
  const std::vector<double> batched = run(2, 1, &batched_epochs);
  // transformers' state.epoch counts micro-batches: 5 of 1 window, or 3 of 2.
  const std::vector<double> accumulated_expected = {0.4, 0.8, 1.0, 1.4, 1.8, 2.0};
  const std::vector<double> batched_expected = {1 / 3.0, 2 / 3.0, 1.0, 4 / 3.0, 5 / 3.0, 2.0};
  REQUIRE(accumulated_epochs.size() == accumulated_expected.size());
  REQUIRE(batched_epochs.size() == batched_expected.size());
  for (size_t i = 0; i < accumulated_expected.size(); ++i) {
    CHECK(accumulated_epochs[i] == Approx(accumulated_expected[i]));
    CHECK(batched_epochs[i] == Approx(batched_expected[i]));
  }
  REQUIRE_CLOSE("step losses and gradient norms",
                test::compare_close(accumulated, batched, 1e-7, 1e-5));
}

TEST_CASE("length-grouped order: transformers' megabatches over the epoch's shuffle", "[engine]") {
  std::vector<Window> windows(1000);
  for (size_t i = 0; i < windows.size(); ++i) windows[i].input_ids.assign(1 + (i * 37) % 301, 5);
  const size_t batch = 4;  // megabatches of min(50, 1000 / 16) · 4 = 200 windows
  const std::vector<size_t> order = length_grouped_order(windows, batch, 42, 0);
  REQUIRE(std::set<size_t>(order.begin(), order.end()).size() == windows.size());
  CHECK(order == length_grouped_order(windows, batch, 42, 0));
  CHECK(order != length_grouped_order(windows, batch, 42, 1));
  CHECK(order == training_order(windows, batch, 42, 0, TrainSampling::kGroupByLength));
  CHECK(training_order(windows, batch, 42, 0, TrainSampling::kRandom) == epoch_order(windows.size(), 42, 0));
  // sequential (SequentialSampler): the windows' own order, every epoch.
  std::vector<size_t> in_order(windows.size());
  for (size_t i = 0; i < in_order.size(); ++i) in_order[i] = i;
  CHECK(training_order(windows, batch, 42, 0, TrainSampling::kSequential) == in_order);
  CHECK(training_order(windows, batch, 7, 3, TrainSampling::kSequential) == in_order);
  // Each megabatch holds the windows of the same slice of epoch_order, longest first (the very
  // first window swapped in from the megabatch that held the longest).
  const std::vector<size_t> shuffled = epoch_order(windows.size(), 42, 0);
  int longest = 0;
  for (const Window& w : windows) longest = std::max(longest, w.length());
  CHECK(windows[order[0]].length() == longest);
  size_t unsorted = 0;
  for (size_t begin = 0; begin < order.size(); begin += 200) {
    std::multiset<size_t> got(order.begin() + begin, order.begin() + begin + 200),
        want(shuffled.begin() + begin, shuffled.begin() + begin + 200);
    if (begin > 0) CHECK(got.size() == want.size());
    for (size_t i = begin + 2; i < begin + 200; ++i) unsorted += windows[order[i]].length() > windows[order[i - 1]].length();
  }
  CHECK(unsorted == 0);
  // Fewer than 4 batches of windows: one batch per megabatch (its first window may be the one
  // swapped out for the longest).
  const std::vector<Window> few(windows.begin(), windows.begin() + 12);
  const std::vector<size_t> small = length_grouped_order(few, batch, 7, 0);
  for (size_t begin = 4; begin < 12; begin += 4)
    for (size_t i = begin + 2; i < begin + 4; ++i) CHECK(few[small[i]].length() <= few[small[i - 1]].length());
}

TEST_CASE("epoch order is a seeded permutation", "[engine]") {
  const std::vector<size_t> a = epoch_order(1000, 42, 0);
  CHECK(a == epoch_order(1000, 42, 0));
  CHECK(a != epoch_order(1000, 42, 1));
  CHECK(a != epoch_order(1000, 43, 0));
  CHECK(std::set<size_t>(a.begin(), a.end()).size() == 1000);
}

}  // namespace
}  // namespace bert
