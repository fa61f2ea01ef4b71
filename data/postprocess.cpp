#include "data/postprocess.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"

namespace bert {
namespace {

// A kept (start, end) pair, in the order it was generated.
struct Candidate {
  float score;
  float start_logit;
  float end_logit;
  int32_t window;
  int32_t start_token;
  int32_t end_token;
};

// Byte offset of every code point of a UTF-8 string, plus its size at the end, so code-point
// offsets from the tokenizer slice the context. Only the UTF-8 structure matters here: a byte
// that is not a continuation byte (10xxxxxx) starts a code point.
std::vector<size_t> code_point_byte_offsets(const std::string& text) {
  std::vector<size_t> offsets;
  offsets.reserve(text.size() + 1);
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) offsets.push_back(i);
  }
  offsets.push_back(text.size());
  return offsets;
}

void check_window_logits(const Window& window, const WindowLogits& logits, size_t w) {
  const std::string where = "window " + std::to_string(w);
  BERT_CHECK(logits.length == window.length(),
             where + ": " + std::to_string(logits.length) + " logits for a window of " +
                 std::to_string(window.length()) + " tokens");
  BERT_CHECK(logits.length == 0 || (logits.start != nullptr && logits.end != nullptr),
             where + ": null logits pointer");
  BERT_CHECK(window.offsets.size() == window.input_ids.size(),
             where + ": offsets and input_ids differ in length");
  for (int32_t i = 0; i < logits.length; ++i) {
    BERT_CHECK(std::isfinite(logits.start[i]) && std::isfinite(logits.end[i]),
               where + ": non-finite logit at position " + std::to_string(i));
  }
}

// Appends the candidates of one window in start-rank -> end-rank order.
void collect_candidates(const Window& window, const WindowLogits& logits, int32_t w,
                        const PostprocessConfig& config, std::vector<Candidate>* out) {
  const std::vector<int32_t> starts = top_k_indices(logits.start, logits.length, config.n_best_size);
  const std::vector<int32_t> ends = top_k_indices(logits.end, logits.length, config.n_best_size);
  for (int32_t s : starts) {
    if (window.offsets[s].first < 0) continue;  // not a context token
    for (int32_t e : ends) {
      if (window.offsets[e].first < 0) continue;
      if (e < s || e - s + 1 > config.max_answer_length) continue;
      // float + float stays float32, as numpy's float32 scalar sum does.
      const float score = logits.start[s] + logits.end[e];
      out->push_back({score, logits.start[s], logits.end[e], w, s, e});
    }
  }
}

// Softmax in float32 over the kept scores (numpy on a float32 array), best first.
void assign_probabilities(std::vector<NbestEntry>* nbest) {
  float max_score = nbest->front().score;
  for (const NbestEntry& entry : *nbest) max_score = std::max(max_score, entry.score);
  float sum = 0;
  for (NbestEntry& entry : *nbest) {
    entry.probability = std::exp(entry.score - max_score);
    sum += entry.probability;
  }
  for (NbestEntry& entry : *nbest) entry.probability /= sum;
}

QaPrediction predict_example(const SquadExample& example, const std::vector<Window>& windows,
                             const std::vector<WindowLogits>& logits,
                             const std::vector<int32_t>& window_indices,
                             const PostprocessConfig& config) {
  std::vector<Candidate> candidates;
  for (int32_t w : window_indices) collect_candidates(windows[w], logits[w], w, config, &candidates);
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const Candidate& a, const Candidate& b) { return a.score > b.score; });
  if (candidates.size() > static_cast<size_t>(config.n_best_size))
    candidates.resize(config.n_best_size);

  QaPrediction prediction;
  prediction.id = example.id;
  if (candidates.empty()) {
    NbestEntry placeholder;
    placeholder.text = kNoCandidateText;
    placeholder.probability = 1;
    prediction.nbest.push_back(placeholder);
    prediction.text = placeholder.text;
    return prediction;
  }
  const std::vector<size_t> byte_at = code_point_byte_offsets(example.context);
  const int64_t num_code_points = static_cast<int64_t>(byte_at.size()) - 1;
  for (const Candidate& c : candidates) {
    const int32_t first = windows[c.window].offsets[c.start_token].first;
    const int32_t last = windows[c.window].offsets[c.end_token].second;
    BERT_CHECK(first >= 0 && first <= last && last <= num_code_points,
               "window " + std::to_string(c.window) + " of example " + example.id + ": span [" +
                   std::to_string(first) + ", " + std::to_string(last) +
                   ") outside a context of " + std::to_string(num_code_points) + " code points");
    NbestEntry entry;
    entry.text = example.context.substr(byte_at[first], byte_at[last] - byte_at[first]);
    entry.start_logit = c.start_logit;
    entry.end_logit = c.end_logit;
    entry.score = c.score;
    entry.window = c.window;
    entry.start_token = c.start_token;
    entry.end_token = c.end_token;
    prediction.nbest.push_back(std::move(entry));
  }
  assign_probabilities(&prediction.nbest);
  prediction.text = prediction.nbest.front().text;
  return prediction;
}

}  // namespace

std::vector<int32_t> top_k_indices(const float* values, int32_t length, int32_t k) {
  std::vector<int32_t> order(length);
  std::iota(order.begin(), order.end(), 0);
  const int32_t kept = std::min(std::max(k, 0), length);
  // A strict total order (value, then index, both descending), so partial_sort's result
  // does not depend on how it breaks ties.
  std::partial_sort(order.begin(), order.begin() + kept, order.end(), [values](int32_t a, int32_t b) {
    if (values[a] != values[b]) return values[a] > values[b];
    return a > b;
  });
  order.resize(kept);
  return order;
}

PostprocessResult postprocess_predictions(const SquadDataset& dataset,
                                          const std::vector<Window>& windows,
                                          const std::vector<WindowLogits>& logits,
                                          const PostprocessConfig& config) {
  if (config.n_best_size < 1)
    throw_input_error("", "n_best_size", "expected >= 1, got " + std::to_string(config.n_best_size));
  if (config.max_answer_length < 1)
    throw_input_error("", "max_answer_length",
                      "expected >= 1, got " + std::to_string(config.max_answer_length));
  BERT_CHECK(logits.size() == windows.size(),
             std::to_string(logits.size()) + " logit sets for " + std::to_string(windows.size()) +
                 " windows");

  // Windows of each example in window order, as HF's features_per_example.
  std::vector<std::vector<int32_t>> windows_of(dataset.examples.size());
  for (size_t w = 0; w < windows.size(); ++w) {
    const int32_t e = windows[w].example_index;
    BERT_CHECK(e >= 0 && static_cast<size_t>(e) < dataset.examples.size(),
               "window " + std::to_string(w) + ": example_index " + std::to_string(e) +
                   " outside a dataset of " + std::to_string(dataset.examples.size()) + " examples");
    check_window_logits(windows[w], logits[w], w);
    windows_of[e].push_back(static_cast<int32_t>(w));
  }

  PostprocessResult result;
  result.predictions.reserve(dataset.examples.size());
  for (size_t e = 0; e < dataset.examples.size(); ++e) {
    result.predictions.push_back(
        predict_example(dataset.examples[e], windows, logits, windows_of[e], config));
    if (result.predictions.back().nbest.front().window < 0) ++result.examples_without_candidates;
  }
  return result;
}

PostprocessResult postprocess_predictions(const SquadDataset& dataset,
                                          const std::vector<Window>& windows,
                                          const std::vector<std::vector<float>>& start_logits,
                                          const std::vector<std::vector<float>>& end_logits,
                                          const PostprocessConfig& config) {
  BERT_CHECK(start_logits.size() == windows.size() && end_logits.size() == windows.size(),
             "start/end logits for " + std::to_string(start_logits.size()) + "/" +
                 std::to_string(end_logits.size()) + " windows, expected " +
                 std::to_string(windows.size()));
  std::vector<WindowLogits> views(windows.size());
  for (size_t w = 0; w < windows.size(); ++w) {
    BERT_CHECK(start_logits[w].size() == end_logits[w].size(),
               "window " + std::to_string(w) + ": start and end logits differ in length");
    views[w] = {start_logits[w].data(), end_logits[w].data(),
                static_cast<int32_t>(start_logits[w].size())};
  }
  return postprocess_predictions(dataset, windows, views, config);
}

}  // namespace bert
