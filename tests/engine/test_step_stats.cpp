// Device-resident step statistics (Backend::step_stats_begin … step_stats_end, stage_download /
// collect_download) on the CPU backends, against the host-norm optimizer path that
// AdamWOptimizer::step used before them: sum_squares on the host, clip factor
// min(1, max_norm / (norm + 1e-6)), skip on a non-finite norm, adamw_update(…, grad_scale) with
// the host's step count. Same reference math on both sides, so results must agree bit for bit.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <vector>

#include "engine/backend.h"
#include "core/error.h"

namespace bert {
namespace {

struct Params {
  Tensor master, exp_avg, exp_avg_sq, grad;
};

Params make_params(Backend& backend, size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> weight(-1, 1), moment(-0.1, 0.1), square(0, 0.01);
  std::vector<double> m(count), a(count), v(count);
  for (size_t i = 0; i < count; ++i) {
    m[i] = weight(rng);
    a[i] = moment(rng);
    v[i] = square(rng);
  }
  Params p{backend.allocate(count, BufferRole::kMasterParam), backend.allocate(count, BufferRole::kOptimizerState),
           backend.allocate(count, BufferRole::kOptimizerState), backend.allocate(count, BufferRole::kGradient)};
  backend.upload(p.master, m.data(), count);
  backend.upload(p.exp_avg, a.data(), count);
  backend.upload(p.exp_avg_sq, v.data(), count);
  return p;
}

// Two parameter groups as the optimizer has them: decayed [0, split), not decayed [split, count).
void for_groups(const Params& p, size_t split, double weight_decay,
                const std::function<void(const Params&, double)>& update) {
  const size_t count = p.master.numel;
  update(Params{slice(p.master, 0, split), slice(p.exp_avg, 0, split), slice(p.exp_avg_sq, 0, split),
                slice(p.grad, 0, split)},
         weight_decay);
  update(Params{slice(p.master, split, count - split), slice(p.exp_avg, split, count - split),
                slice(p.exp_avg_sq, split, count - split), slice(p.grad, split, count - split)},
         0.0);
}

void require_same(Backend& backend, const Tensor& a, const Tensor& b, const char* what) {
  INFO(what);
  REQUIRE(backend.download(a) == backend.download(b));
}

}  // namespace

TEST_CASE("step statistics drive AdamW exactly like the host-norm optimizer path", "[engine][step_stats]") {
  for (const bool double_precision : {false, true}) {
    for (const double max_norm : {1.0, 0.0, 1e6}) {
      CAPTURE(double_precision, max_norm);
      std::unique_ptr<Backend> backend = make_cpu_backend(double_precision);
      const size_t count = 1003, split = 700, sequences = 6;
      // Same starting point on both paths (same seed).
      const Params device = make_params(*backend, count, 5), host = make_params(*backend, count, 5);
      const Tensor stats = backend->allocate(kStepStatsCount, BufferRole::kStepStats);
      REQUIRE(stats.dtype == ScalarType::kF64);
      const Tensor losses = backend->allocate(sequences, BufferRole::kStatistic);
      std::mt19937 rng(11);
      std::uniform_real_distribution<double> gradient(-3, 3), loss(0, 5);
      int64_t host_updates = 0;
      // Step 2 has a NaN loss, step 3 an infinite gradient: both are skipped by both paths.
      for (int step = 0; step < 6; ++step) {
        CAPTURE(step);
        std::vector<double> g(count), l(sequences);
        for (double& value : g) value = gradient(rng);
        for (double& value : l) value = loss(rng);
        if (step == 2) l[4] = std::numeric_limits<double>::quiet_NaN();
        if (step == 3) g[count - 1] = std::numeric_limits<double>::infinity();
        backend->upload(device.grad, g.data(), count);
        backend->upload(host.grad, g.data(), count);
        backend->upload(losses, l.data(), sequences);

        backend->step_stats_begin(stats);
        // Two micro-batches of three sequences, each weighted 1/6 as a mean over the step.
        backend->accumulate_loss(stats, losses, 3, 1.0 / 6);
        backend->accumulate_loss(stats, slice(losses, 3, 3), 3, 1.0 / 6);
        backend->grad_norm_and_clip(stats, device.grad, max_norm);
        AdamWHyper hyper;
        hyper.learning_rate = 1e-2;
        hyper.step = 1000;  // ignored by the stats overload
        for_groups(device, split, 0.01, [&](const Params& p, double decay) {
          hyper.weight_decay = decay;
          backend->adamw_update(p.master, p.master, p.exp_avg, p.exp_avg_sq, p.grad, hyper, stats);
        });
        backend->step_stats_end(stats);
        backend->stage_download(stats);
        const std::vector<double> got = backend->collect_download();
        REQUIRE(got.size() == kStepStatsCount);

        // The oracle: the host-side sequence.
        const std::vector<double> loss_values = backend->download(losses);
        double loss_sum = 0;
        for (size_t i = 0; i < 3; ++i) loss_sum += loss_values[i];
        double expected_loss = (1.0 / 6) * loss_sum;
        loss_sum = 0;
        for (size_t i = 3; i < 6; ++i) loss_sum += loss_values[i];
        expected_loss += (1.0 / 6) * loss_sum;
        const double sum = backend->sum_squares(host.grad);
        const double norm = std::sqrt(sum);
        const bool finite = std::isfinite(norm) && std::isfinite(expected_loss);
        if (finite) {
          const double scale = max_norm > 0 ? std::min(1.0, max_norm / (norm + 1e-6)) : 1.0;
          hyper.step = host_updates + 1;
          for_groups(host, split, 0.01, [&](const Params& p, double decay) {
            hyper.weight_decay = decay;
            backend->adamw_update(p.master, p.master, p.exp_avg, p.exp_avg_sq, p.grad, hyper, scale);
          });
          ++host_updates;
          REQUIRE(got[kStepClipScale] == scale);
          if (max_norm == 1.0) REQUIRE(scale < 1.0);  // clipping really happens in this case
        }
        REQUIRE(std::isnan(got[kStepLossSum]) == std::isnan(expected_loss));
        if (!std::isnan(expected_loss)) REQUIRE(got[kStepLossSum] == expected_loss);
        if (std::isfinite(sum)) REQUIRE(got[kStepGradSumSquares] == sum);
        REQUIRE(got[kStepApplied] == (finite ? 1.0 : 0.0));
        REQUIRE(got[kStepUpdatesDone] == static_cast<double>(host_updates));
        require_same(*backend, device.master, host.master, "master");
        require_same(*backend, device.exp_avg, host.exp_avg, "exp_avg");
        require_same(*backend, device.exp_avg_sq, host.exp_avg_sq, "exp_avg_sq");
      }
      REQUIRE(host_updates == 4);
    }
  }
}

TEST_CASE("step statistics: begin keeps the update count, uploads restore it, staging is one at a time",
          "[engine][step_stats]") {
  std::unique_ptr<Backend> backend = make_cpu_backend(false);
  const Tensor stats = backend->allocate(kStepStatsCount, BufferRole::kStepStats);
  std::vector<double> restored(kStepStatsCount, 7.0);
  restored[kStepUpdatesDone] = 41;
  backend->upload(stats, restored.data(), restored.size());
  backend->step_stats_begin(stats);
  std::vector<double> values = backend->download(stats);
  for (size_t i = 0; i < kStepUpdatesDone; ++i) REQUIRE(values[i] == 0.0);
  REQUIRE(values[kStepUpdatesDone] == 41);
  REQUIRE(values[kStepStatsCount - 1] == 7.0);  // spare slots are left alone

  // An update skipped (applied 0) does not count; an applied one does.
  backend->step_stats_end(stats);
  REQUIRE(backend->download(stats)[kStepUpdatesDone] == 41);
  const Tensor grads = backend->allocate(4, BufferRole::kGradient);
  backend->grad_norm_and_clip(stats, grads, 1.0);
  REQUIRE(backend->download(stats)[kStepApplied] == 1.0);
  REQUIRE(backend->download(stats)[kStepClipScale] == 1.0);  // a zero gradient needs no clipping
  backend->step_stats_end(stats);
  REQUIRE(backend->download(stats)[kStepUpdatesDone] == 42);

  REQUIRE_THROWS_AS(backend->collect_download(), BertError);
  backend->stage_download(stats);
  REQUIRE_THROWS_AS(backend->stage_download(stats), BertError);
  REQUIRE(backend->collect_download()[kStepUpdatesDone] == 42);
  REQUIRE_THROWS_AS(backend->stage_download(grads), BertError);  // not f64
  REQUIRE_THROWS_AS(backend->step_stats_begin(grads), BertError);
}

}  // namespace bert
