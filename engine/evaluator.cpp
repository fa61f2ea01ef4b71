#include "engine/evaluator.h"

#include <algorithm>
#include <chrono>
#include <functional>

#include "data/predictions_io.h"
#include "data/squad_metric_v2.h"
#include "engine/packed_batch.h"

namespace bert {

WindowPredictions predict_windows(BertQaModel& model, const std::vector<Window>& windows, int batch_size,
                                  const std::function<void(size_t, size_t)>& progress) {
  WindowPredictions out;
  out.start_logits.resize(windows.size());
  out.end_logits.resize(windows.size());
  PassContext context;  // inference: no dropout
  // The device runs ahead of the host: each batch's logits are staged on the backend and up to
  // kLogitStages batches are downloaded at once, so the host packs and queues the next batches
  // while the device computes, instead of waiting for every batch.
  size_t staged_from = 0;  // first window whose logits are staged and not yet taken
  int staged_batches = 0;
  auto take = [&](size_t staged_to) {
    const std::vector<double> logits = model.take_staged_logits();  // [tokens of the windows, 2]
    size_t token = 0;
    for (size_t w = staged_from; w < staged_to; ++w) {
      const int length = windows[w].length();
      std::vector<float>& start = out.start_logits[w];
      std::vector<float>& finish = out.end_logits[w];
      start.resize(length);
      finish.resize(length);
      for (int t = 0; t < length; ++t, ++token) {
        start[t] = static_cast<float>(logits[2 * token]);
        finish[t] = static_cast<float>(logits[2 * token + 1]);
      }
    }
    staged_from = staged_to;
    staged_batches = 0;
  };
  for (size_t begin = 0; begin < windows.size(); begin += batch_size) {
    const size_t end = std::min(windows.size(), begin + static_cast<size_t>(batch_size));
    std::vector<const Window*> members;
    for (size_t w = begin; w < end; ++w) members.push_back(&windows[w]);
    PackedBatch batch = pack_windows(members);
    // Labels are not used at inference; zero them so unlabeled windows pack too.
    std::fill(batch.start_positions.begin(), batch.start_positions.end(), 0);
    std::fill(batch.end_positions.begin(), batch.end_positions.end(), 0);
    model.load_batch(batch);
    model.forward(context, false);
    model.stage_logits();
    if (++staged_batches == BertQaModel::kLogitStages || end == windows.size()) {
      take(end);
      if (progress) progress(end, windows.size());
    }
  }
  return out;
}

EvalOutcome evaluate_model(BertQaModel& model, const SquadDataset& dataset, const std::vector<Window>& windows,
                           int batch_size, const PostprocessConfig& postprocess,
                           const std::function<void(size_t, size_t)>& progress) {
  const auto started = std::chrono::steady_clock::now();
  const WindowPredictions logits = predict_windows(model, windows, batch_size, progress);
  EvalOutcome outcome;
  outcome.model_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  outcome.predictions =
      postprocess_predictions(dataset, windows, logits.start_logits, logits.end_logits, postprocess);
  // In SQuAD v2.0 a question without answers is an unanswerable one, scored like any other.
  outcome.scored = postprocess.version_2_with_negative || first_unscorable(dataset) == nullptr;
  if (outcome.scored)
    outcome.scores =
        evaluate_squad_version(dataset, to_prediction_map(outcome.predictions), postprocess.version_2_with_negative);
  outcome.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return outcome;
}

EvalOutcome evaluate_with_progress(BertQaModel& model, const SquadDataset& dataset,
                                   const std::vector<Window>& windows, int batch_size,
                                   const PostprocessConfig& postprocess, const char* label,
                                   bool show, const ProgressPace& pace) {
  if (!show) return evaluate_model(model, dataset, windows, batch_size, postprocess);
  CountProgress progress(label, ProgressReporter::stderr_is_terminal(), pace);
  EvalOutcome outcome =
      evaluate_model(model, dataset, windows, batch_size, postprocess, std::ref(progress));
  progress.finish();  // before the caller's summary line
  return outcome;
}

}  // namespace bert
