// Data-parallel slicing and its math, in one process: every window once per epoch for any
// world size, the ranks' batches together are the single-process batches, and the ranks'
// gradients (each with its loss weight and token offset, dropout on) sum to the gradient of
// the whole global batch.
#include <catch2/catch.hpp>

#include <numeric>
#include <set>

#include "engine/batch_stream.h"
#include "engine/data_parallel.h"
#include "engine/trainer.h"
#include "io/param_specs.h"
#include "tests/comm/comm_test_util.h"

namespace bert {
namespace {

using test::make_windows;
using test::tiny_config;
using test::worst_ratio;

TEST_CASE("rank slices cover every window once per epoch and match N = 1", "[comm][data_parallel]") {
  for (size_t windows : {1, 2, 5, 7, 12, 13, 24}) {
    for (int batch : {1, 2, 3}) {
      for (int ranks = 1; ranks <= 4; ++ranks) {
        INFO("windows " << windows << ", batch " << batch << ", ranks " << ranks);
        const size_t batches = global_batches_per_epoch(windows, batch, ranks);
        REQUIRE(batches == global_batches_per_epoch(windows, batch * ranks, 1));
        std::vector<int> visits(windows, 0);
        for (size_t g = 0; g < batches; ++g) {
          // The global batch is the one a single process with batch ranks·b visits.
          const SliceBounds single = rank_slice_bounds(windows, batch * ranks, 1, 0, g);
          size_t next = single.begin;
          size_t smallest = windows, largest = 0;
          for (int r = 0; r < ranks; ++r) {
            const SliceBounds s = rank_slice_bounds(windows, batch, ranks, r, g);
            REQUIRE(s.global_begin == single.begin);
            REQUIRE(s.global_end == single.end);
            REQUIRE(s.begin == next);  // contiguous, in rank order
            REQUIRE(s.count() <= size_t(batch));
            if (s.global_count() == size_t(batch) * ranks) REQUIRE(s.count() == size_t(batch));
            smallest = std::min(smallest, s.count());
            largest = std::max(largest, s.count());
            for (size_t i = s.begin; i < s.end; ++i) ++visits[i];
            next = s.end;
          }
          REQUIRE(next == single.end);
          REQUIRE(largest - smallest <= 1);  // a short batch is split evenly
        }
        for (int v : visits) REQUIRE(v == 1);
      }
    }
  }
  REQUIRE_THROWS_AS(rank_slice_bounds(8, 2, 2, 2, 0), BertError);
  REQUIRE_THROWS_AS(rank_slice_bounds(8, 2, 2, 0, 2), BertError);
}

TEST_CASE("RankBatchStream: the ranks' batches together are the single-process batches", "[comm][data_parallel]") {
  std::vector<int> lengths;
  for (int w = 0; w < 11; ++w) lengths.push_back(3 + (w * 5) % 9);
  const std::vector<Window> windows = make_windows(lengths, 60, 5);
  const uint64_t seed = 17;
  for (int ranks = 1; ranks <= 4; ++ranks) {
    const int batch = 2;
    const size_t global = size_t(batch) * ranks;
    std::vector<RankBatchStream> streams;
    for (int r = 0; r < ranks; ++r) streams.emplace_back(windows, batch, seed, ranks, r);
    // Reference: what the trainer visits with batches of ranks·b windows.
    int64_t epoch = 0;
    std::vector<size_t> order = epoch_order(windows.size(), seed, epoch);
    size_t position = 0;
    for (int step = 0; step < 9; ++step) {
      if (position >= order.size()) {
        order = epoch_order(windows.size(), seed, ++epoch);
        position = 0;
      }
      const size_t end = std::min(order.size(), position + global);
      std::vector<const Window*> members;
      for (size_t i = position; i < end; ++i) members.push_back(&windows[order[i]]);
      const PackedBatch expected = pack_windows(members);
      position = end;

      INFO("ranks " << ranks << ", micro-batch " << step);
      std::vector<int32_t> ids, starts;
      uint64_t tokens_before = 0;
      double weights = 0;
      std::vector<RankMicroBatch> micros;
      for (int r = 0; r < ranks; ++r) micros.push_back(streams[r].next());
      // What Hugging Face's per-device batches padded to their longest hold (total_flos): the
      // same count on every rank.
      size_t device_padded = 0;
      for (const RankMicroBatch& micro : micros)
        device_padded += size_t(micro.batch.batch()) * size_t(micro.empty() ? 0 : micro.batch.max_length());
      for (int r = 0; r < ranks; ++r) {
        const RankMicroBatch& micro = micros[r];
        REQUIRE(micro.device_padded_tokens == device_padded);
        REQUIRE(micro.epoch == epoch);
        REQUIRE(micro.token_offset == tokens_before);
        REQUIRE(micro.global_windows == size_t(expected.batch()));
        REQUIRE(micro.global_tokens == size_t(expected.tokens()));
        REQUIRE(micro.loss_weight == Approx(double(micro.batch.batch()) / expected.batch()));
        ids.insert(ids.end(), micro.batch.input_ids.begin(), micro.batch.input_ids.end());
        starts.insert(starts.end(), micro.batch.start_positions.begin(), micro.batch.start_positions.end());
        tokens_before += micro.batch.tokens();
        weights += micro.loss_weight;
      }
      REQUIRE(ids == expected.input_ids);
      REQUIRE(starts == expected.start_positions);
      REQUIRE(weights == Approx(1.0));
    }
  }
}

TEST_CASE("RankBatchStream::seek resumes where next() would be", "[comm][data_parallel]") {
  const std::vector<Window> windows = make_windows({4, 6, 8, 5, 7, 9, 3}, 60, 2);
  for (uint64_t skipped : {0, 1, 3, 4, 9}) {
    INFO("skipped " << skipped);
    RankBatchStream walked(windows, 2, 5, 2, 1), sought(windows, 2, 5, 2, 1);
    for (uint64_t i = 0; i < skipped; ++i) walked.next();
    sought.seek(skipped);
    for (int i = 0; i < 3; ++i) {
      const RankMicroBatch a = walked.next(), b = sought.next();
      REQUIRE(a.batch.input_ids == b.batch.input_ids);
      REQUIRE(a.epoch == b.epoch);
      REQUIRE(a.global_batch == b.global_batch);
      REQUIRE(a.token_offset == b.token_offset);
    }
  }
}

// One training forward/backward of a rank's share, accumulated into the model's gradients.
double run_share(BertQaModel& model, const RankMicroBatch& micro, uint64_t seed, uint32_t micro_step,
                 bool use_offset) {
  if (micro.empty()) return 0;
  PassContext context = rank_pass_context(micro, seed, micro_step, 1);
  if (!use_offset) context.token_offset = 0;
  model.load_batch(micro.batch);
  const double loss = model.forward(context, true);
  model.backward(context);
  return micro.loss_weight * loss;
}

std::vector<double> flat_gradients(BertQaModel& model) {
  return model.backend().download(model.gradients_flat());
}

TEST_CASE("rank gradients with dropout sum to the global-batch gradient", "[comm][data_parallel]") {
  const BertConfig config = tiny_config(0.2f);
  const std::vector<Window> windows = make_windows({7, 12, 5, 20, 9}, config.vocab_size, 3);
  std::vector<size_t> order(windows.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::reverse(order.begin(), order.end());
  const uint64_t seed = 11;
  const uint32_t micro_step = 7;

  auto backend = make_cpu_backend(true);
  BertQaModel model(*backend, config, 64, 5);
  model.set_parameters(init_bert_qa_params(config, 2));

  // One process, the whole global batch of 5 windows.
  const SliceBounds whole = rank_slice_bounds(windows.size(), 5, 1, 0, 0);
  const RankMicroBatch all = make_rank_micro_batch(windows, order, whole, 0, 0);
  model.zero_gradients();
  const double reference_loss = run_share(model, all, seed, micro_step, true);
  const std::vector<double> reference = flat_gradients(model);

  // 2 ranks (3 + 2), 3 ranks (2 + 2 + 1), 4 ranks (2 + 1 + 1 + 1) and 6 ranks (one with none),
  // all with per-device batch 1..3 covering the 5 windows in one global batch.
  for (const auto& [ranks, batch] : std::vector<std::pair<int, int>>{{2, 3}, {3, 2}, {4, 2}, {6, 1}}) {
    INFO(ranks << " ranks of batch " << batch);
    REQUIRE(global_batches_per_epoch(windows.size(), batch, ranks) == 1);
    model.zero_gradients();
    double loss = 0;
    for (int r = 0; r < ranks; ++r) {
      const SliceBounds bounds = rank_slice_bounds(windows.size(), batch, ranks, r, 0);
      loss += run_share(model, make_rank_micro_batch(windows, order, bounds, 0, 0), seed, micro_step, true);
    }
    REQUIRE(loss == Approx(reference_loss).epsilon(1e-12));
    const double worst = worst_ratio(flat_gradients(model), reference, 1e-13, 1e-10);
    INFO("worst |Δ|/(atol + rtol·|ref|) = " << worst);
    REQUIRE(worst <= 1.0);
  }

  // Control: without the token offset every rank draws the first tokens' masks again.
  model.zero_gradients();
  for (int r = 0; r < 2; ++r) {
    const SliceBounds bounds = rank_slice_bounds(windows.size(), 3, 2, r, 0);
    run_share(model, make_rank_micro_batch(windows, order, bounds, 0, 0), seed, micro_step, false);
  }
  REQUIRE(worst_ratio(flat_gradients(model), reference, 1e-13, 1e-10) > 1e3);
}

TEST_CASE("total_train_steps counts global batches", "[comm][data_parallel]") {
  TrainConfig config;
  config.batch_size = 4;
  config.num_train_epochs = 2;
  config.gradient_accumulation_steps = 1;
  REQUIRE(total_train_steps(config, 100, 1) == 2 * 25);  // ceil(100 / 4) = 25 per epoch
  REQUIRE(total_train_steps(config, 100, 2) == 2 * 13);  // ceil(100 / 8) = 13 per epoch
  config.max_steps = 5;
  REQUIRE(total_train_steps(config, 100, 3) == 5);
  // --dataloader_drop_last: the short last batch of each epoch is left out.
  config.max_steps = -1;
  config.dataloader_drop_last = true;
  REQUIRE(total_train_steps(config, 100, 1) == 2 * 25);  // 100 / 4: no short batch
  REQUIRE(total_train_steps(config, 100, 2) == 2 * 12);  // floor(100 / 8) = 12 per epoch
  REQUIRE(total_train_steps(config, 100, 3) == 2 * 8);   // floor(100 / 12)
  REQUIRE_THROWS_AS(total_train_steps(config, 7, 2), InputError);  // not one full batch of 8
}

TEST_CASE("RankBatchStream with drop_last: full batches only, the epoch's remainder left out", "[comm][data_parallel]") {
  std::vector<int> lengths;
  for (int w = 0; w < 11; ++w) lengths.push_back(3 + w);
  const std::vector<Window> windows = make_windows(lengths, 60, 5);
  for (int ranks = 1; ranks <= 3; ++ranks) {
    INFO("ranks " << ranks);
    const size_t global = size_t(2) * ranks, per_epoch = windows.size() / global;
    std::vector<RankBatchStream> streams;
    for (int r = 0; r < ranks; ++r) streams.emplace_back(windows, 2, 9, ranks, r, TrainSampling::kRandom, true);
    for (int64_t epoch = 0; epoch < 3; ++epoch) {
      const std::vector<size_t> order = epoch_order(windows.size(), 9, epoch);
      for (size_t b = 0; b < per_epoch; ++b) {
        std::vector<int32_t> ids;
        for (int r = 0; r < ranks; ++r) {
          const RankMicroBatch micro = streams[r].next();
          REQUIRE(micro.epoch == epoch);
          REQUIRE(micro.global_windows == global);
          REQUIRE(micro.batch.batch() == 2);
          ids.insert(ids.end(), micro.batch.input_ids.begin(), micro.batch.input_ids.end());
          if (r == 0 && b + 1 == per_epoch)  // a checkpoint here resumes with the next epoch
            REQUIRE(streams[r].position_after(micro) == DataPosition{epoch, int64_t((b + 1) * global)});
        }
        std::vector<const Window*> members;
        for (size_t i = b * global; i < (b + 1) * global; ++i) members.push_back(&windows[order[i]]);
        REQUIRE(ids == pack_windows(members).input_ids);
      }
    }
    RankBatchStream resumed(windows, 2, 9, ranks, 0, TrainSampling::kRandom, true);
    resumed.seek(DataPosition{1, int64_t(per_epoch * global)});
    REQUIRE(resumed.next().epoch == 2);
  }
}

}  // namespace
}  // namespace bert
