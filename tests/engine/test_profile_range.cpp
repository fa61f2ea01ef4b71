// BERT_PROFILE_STEP (TrainConfig::profile_step): the trainer brackets that one optimizer step
// with Backend::profile_range, so that a profiler started with collection off (Nsight Compute's
// --profile-from-start off, tools/device/run_checks.sh's profile stage) records one whole step:
// its micro-batches' forward and backward passes and the update, nothing of the steps around it.
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "tests/engine/counting_backend.h"
#include "tests/engine/resume_test_util.h"

namespace bert {
namespace {

using test::CountingBackend;

std::vector<CountingBackend::ProfileEvent> profile_events_of_run(int64_t profile_step,
                                                                 CountingBackend::Counts* totals) {
  TrainConfig config = test::resume_train_config();  // 12 steps of 2 micro-batches
  config.profile_step = profile_step;
  CountingBackend backend(make_cpu_backend(false));
  REQUIRE(test::train_resume_windows(backend, test::resume_config(), config, 5).steps == 12);
  if (totals != nullptr) *totals = backend.counts();
  return backend.profile_events();
}

int count_of(const CountingBackend::Counts& counts, const std::string& op) {
  const auto found = counts.find(op);
  return found == counts.end() ? 0 : found->second;
}

TEST_CASE("the profiled step's bracket holds exactly that optimizer step", "[engine]") {
  CountingBackend::Counts totals;
  const auto events = profile_events_of_run(5, &totals);
  REQUIRE(events.size() == 2);
  CHECK(events[0].begin);
  CHECK_FALSE(events[1].begin);
  const CountingBackend::Counts& before = events[0].counts_before;
  const CountingBackend::Counts& after = events[1].counts_before;
  auto inside = [&](const std::string& op) { return count_of(after, op) - count_of(before, op); };
  // Four steps were queued before it: each begins and ends its statistics once.
  CHECK(count_of(before, "step_stats_begin") == 4);
  CHECK(count_of(before, "step_stats_end") == 4);
  CHECK(inside("step_stats_begin") == 1);
  CHECK(inside("step_stats_end") == 1);
  // Its two micro-batches: a loss, an embedding pass and 2 layers' attention each way.
  CHECK(inside("qa_loss") == 2);
  CHECK(inside("embeddings_forward") == 2);
  CHECK(inside("embeddings_backward") == 2);
  CHECK(inside("attention_forward") == 4);
  CHECK(inside("attention_backward") == 4);
  // Then the gradient norm and the update: a twelfth of the run's.
  CHECK(inside("grad_norm_and_clip") == 1);
  REQUIRE(count_of(totals, "adamw_update") > 0);
  CHECK(inside("adamw_update") * 12 == count_of(totals, "adamw_update"));
}

TEST_CASE("no profiled step: nothing is bracketed", "[engine]") {
  CHECK(profile_events_of_run(0, nullptr).empty());
  CHECK(profile_events_of_run(13, nullptr).empty());  // past the run's 12 steps
  const auto last = profile_events_of_run(12, nullptr);
  CHECK(last.size() == 2);
}

}  // namespace
}  // namespace bert
