// Span selection from start/end logits: Hugging Face run_qa.py's postprocess_qa_predictions,
// for SQuAD v1.1 and, with version_2_with_negative, v2.0 (the null answer).
//
// For each window of an example, the n_best_size best start positions and the n_best_size
// best end positions are taken (numpy's argsort(logits)[::-1][:n_best_size]: descending value;
// equal values, which a model's logits practically never have, go higher index first, as a
// stable ascending argsort reversed would give). A (start, end) pair is a candidate when both
// tokens are context tokens (offset not {-1,-1}), end >= start and end - start + 1 <=
// max_answer_length. Its score is start_logit + end_logit summed in float32, as numpy does.
// The candidates of all windows of an example are sorted by score descending, stably, so
// equal scores keep window -> start-rank -> end-rank order (Python's sorted(reverse=True));
// the n_best_size best are kept. The answer text is the context's code points
// [offset(start).first, offset(end).second).
//
// The n-best list carries softmax probabilities over the kept scores (float32, like numpy).
// An example with no candidate at all (no window, or no valid pair) gets HF's placeholder:
// text kNoCandidateText ("empty", literally, as utils_qa.py inserts) with probability 1 and
// zero logits; PostprocessResult::examples_without_candidates counts them so apps can log it.
//
// SQuAD v2.0 (PostprocessConfig::version_2_with_negative): each window's null score is its
// [CLS] logits' sum (float32); the example's null answer is the window with the smallest (the
// first of equals), text "" (the context's span [0, 0)). It joins the candidates, last, before
// the sort; when the n_best_size best leave it out, it is appended after them. The placeholder
// goes first when nothing but the null answer is left. The softmax covers every entry (in
// float64 when the placeholder, a Python float, is among them, as numpy then computes). The
// best non-null entry is the first whose text is not empty; score_diff = null score - its start
// logit - its end logit (float32); the prediction is "" when score_diff >
// null_score_diff_threshold (compared in float32, as numpy 2 does), else that entry's text. score_diff is kept per example for
// null_odds.json. An example without windows has no null answer: the placeholder, and a
// score_diff of 0 (where run_qa's code fails).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/squad.h"
#include "data/windows.h"

namespace bert {

// The text Hugging Face's postprocess_qa_predictions gives an example without a candidate.
inline constexpr const char* kNoCandidateText = "empty";

// Logits of one window, as the model produced them; pointers stay owned by the caller.
struct WindowLogits {
  const float* start = nullptr;  // [length]
  const float* end = nullptr;    // [length]
  int32_t length = 0;            // must equal the window's length()
};

struct NbestEntry {
  std::string text;         // UTF-8 slice of the context ("" for the null answer)
  double probability = 0;   // softmax over the kept scores of this example (a float32 value
                            // unless the placeholder is among them, see above)
  float start_logit = 0;
  float end_logit = 0;
  float score = 0;          // start_logit + end_logit in float32
  int32_t window = -1;      // index into the windows vector; -1 for the placeholder
  int32_t start_token = -1;  // 0 and 0 for the null answer ([CLS])
  int32_t end_token = -1;
};

struct QaPrediction {
  std::string id;                // SquadExample::id
  std::string text;              // best answer: nbest[0].text in v1.1; in v2.0 see above
  std::vector<NbestEntry> nbest;  // best first; never empty
  float null_score_diff = 0;     // v2.0: null score - best non-null entry's logits
};

struct PostprocessResult {
  std::vector<QaPrediction> predictions;  // one per example, in dataset order
  int64_t examples_without_candidates = 0;
  bool version_2_with_negative = false;  // predictions carry null_score_diff (null_odds.json)
};

struct PostprocessConfig {
  int32_t n_best_size = 20;
  int32_t max_answer_length = 30;
  bool version_2_with_negative = false;  // SQuAD v2.0: the null answer competes
  double null_score_diff_threshold = 0;  // v2.0: predict "" when score_diff exceeds it
};

// logits[w] belongs to windows[w]. Throws BertError when a window's logits length differs,
// a logit is not finite, an offset lies outside its context or an example_index is out of
// range; throws InputError when the config is not positive.
PostprocessResult postprocess_predictions(const SquadDataset& dataset,
                                          const std::vector<Window>& windows,
                                          const std::vector<WindowLogits>& logits,
                                          const PostprocessConfig& config);

// Convenience overload: start_logits[w] / end_logits[w] hold windows[w]'s logits.
PostprocessResult postprocess_predictions(const SquadDataset& dataset,
                                          const std::vector<Window>& windows,
                                          const std::vector<std::vector<float>>& start_logits,
                                          const std::vector<std::vector<float>>& end_logits,
                                          const PostprocessConfig& config);

// Indices of the k largest values, largest first; equal values higher index first
// (numpy argsort(values)[::-1][:k] with a stable sort). Exposed for tests.
std::vector<int32_t> top_k_indices(const float* values, int32_t length, int32_t k);

}  // namespace bert
