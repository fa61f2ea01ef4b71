#include "engine/evaluator.h"

#include <algorithm>
#include <chrono>

#include "data/predictions_io.h"
#include "engine/packed_batch.h"

namespace bert {

WindowPredictions predict_windows(BertQaModel& model, const std::vector<Window>& windows, int batch_size,
                                  const std::function<void(size_t, size_t)>& progress) {
  WindowPredictions out;
  out.start_logits.resize(windows.size());
  out.end_logits.resize(windows.size());
  PassContext context;  // inference: no dropout
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
    const std::vector<double> logits = model.logits();  // [tokens, 2]
    for (size_t w = begin; w < end; ++w) {
      const int offset = batch.cu_seqlens[w - begin], length = windows[w].length();
      std::vector<float>& start = out.start_logits[w];
      std::vector<float>& finish = out.end_logits[w];
      start.resize(length);
      finish.resize(length);
      for (int t = 0; t < length; ++t) {
        start[t] = static_cast<float>(logits[2 * size_t(offset + t)]);
        finish[t] = static_cast<float>(logits[2 * size_t(offset + t) + 1]);
      }
    }
    if (progress) progress(end, windows.size());
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
  outcome.scores = evaluate_squad(dataset, to_prediction_map(outcome.predictions));
  outcome.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return outcome;
}

}  // namespace bert
