#include "data/postprocess.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>
#include <utility>

#include "core/error.h"

namespace bert {
namespace {

// A kept (start, end) pair, in the order it was generated, or the null answer.
struct Candidate {
  float score;
  float start_logit;
  float end_logit;
  int32_t window;
  int32_t start_token;
  int32_t end_token;
  bool is_null = false;  // v2.0's null answer: [CLS] to [CLS], the context's span [0, 0)
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

// The example's null answer (v2.0): the window whose [CLS] logits sum to the least, the first
// of equals (HF replaces its minimum only when strictly greater).
std::optional<Candidate> min_null_candidate(const std::vector<WindowLogits>& logits,
                                            const std::vector<int32_t>& window_indices) {
  std::optional<Candidate> best;
  for (int32_t w : window_indices) {
    BERT_CHECK(logits[w].length > 0, "window " + std::to_string(w) + " has no tokens");
    const float score = logits[w].start[0] + logits[w].end[0];
    if (!best || best->score > score) best = Candidate{score, logits[w].start[0], logits[w].end[0], w, 0, 0, true};
  }
  return best;
}

// numpy's sum of a contiguous array (pairwise_sum in its loops): fewer than 8 values in order;
// up to 128 in eight interleaved partial sums, combined pairwise, then the remainder in order;
// beyond that, the two halves (the first a multiple of 8 long) summed separately.
template <typename T>
T numpy_sum(const T* values, size_t n) {
  if (n < 8) {
    T sum = 0;
    for (size_t i = 0; i < n; ++i) sum += values[i];
    return sum;
  }
  if (n <= 128) {
    T r[8];
    for (int j = 0; j < 8; ++j) r[j] = values[j];
    size_t i = 8;
    for (; i < n - n % 8; i += 8)
      for (int j = 0; j < 8; ++j) r[j] += values[i + j];
    T sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) sum += values[i];
    return sum;
  }
  size_t half = n / 2;
  half -= half % 8;
  return numpy_sum(values, half) + numpy_sum(values + half, n - half);
}

// Softmax over the entries' scores, best first, as numpy computes it on their array
// (exp(scores - max) / exp(...).sum()): float32 when every score is a float32 logit sum, float64
// when the placeholder's Python 0.0 is among them.
template <typename T>
void softmax_into(std::vector<NbestEntry>* nbest) {
  T max_score = static_cast<T>(nbest->front().score);
  for (const NbestEntry& entry : *nbest) max_score = std::max(max_score, static_cast<T>(entry.score));
  std::vector<T> exps(nbest->size());
  for (size_t i = 0; i < exps.size(); ++i) exps[i] = std::exp(static_cast<T>((*nbest)[i].score) - max_score);
  const T sum = numpy_sum(exps.data(), exps.size());
  for (size_t i = 0; i < exps.size(); ++i) (*nbest)[i].probability = exps[i] / sum;
}

QaPrediction predict_example(const SquadExample& example, const std::vector<Window>& windows,
                             const std::vector<WindowLogits>& logits,
                             const std::vector<int32_t>& window_indices,
                             const PostprocessConfig& config) {
  std::vector<Candidate> candidates;
  for (int32_t w : window_indices) collect_candidates(windows[w], logits[w], w, config, &candidates);
  std::optional<Candidate> null_answer;
  if (config.version_2_with_negative) {
    null_answer = min_null_candidate(logits, window_indices);
    if (null_answer) candidates.push_back(*null_answer);
  }
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const Candidate& a, const Candidate& b) { return a.score > b.score; });
  if (candidates.size() > static_cast<size_t>(config.n_best_size))
    candidates.resize(config.n_best_size);

  const std::vector<size_t> byte_at = code_point_byte_offsets(example.context);
  const int64_t num_code_points = static_cast<int64_t>(byte_at.size()) - 1;
  // A candidate's span of code points; the null answer's is [0, 0).
  auto span_of = [&](const Candidate& c) -> std::pair<int32_t, int32_t> {
    if (c.is_null) return {0, 0};
    return {windows[c.window].offsets[c.start_token].first, windows[c.window].offsets[c.end_token].second};
  };
  // HF adds the null answer back when no kept entry has the offsets (0, 0).
  if (null_answer && std::none_of(candidates.begin(), candidates.end(), [&](const Candidate& c) {
        return span_of(c) == std::pair<int32_t, int32_t>{0, 0};
      }))
    candidates.push_back(*null_answer);

  QaPrediction prediction;
  prediction.id = example.id;
  for (const Candidate& c : candidates) {
    const auto [first, last] = span_of(c);
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
  // The rare example without a single non-null candidate gets the placeholder, first.
  const bool placeholder =
      prediction.nbest.empty() || (prediction.nbest.size() == 1 && prediction.nbest[0].text.empty());
  if (placeholder) {
    NbestEntry entry;  // HF's {"text": "empty", logits and score 0.0}
    entry.text = kNoCandidateText;
    prediction.nbest.insert(prediction.nbest.begin(), std::move(entry));
    softmax_into<double>(&prediction.nbest);
  } else {
    softmax_into<float>(&prediction.nbest);
  }
  if (!config.version_2_with_negative) {
    prediction.text = prediction.nbest.front().text;
    return prediction;
  }
  const auto best_non_null = std::find_if(prediction.nbest.begin(), prediction.nbest.end(),
                                          [](const NbestEntry& entry) { return !entry.text.empty(); });
  BERT_CHECK(best_non_null != prediction.nbest.end(), "example " + example.id + ": no non-null entry");
  const float null_score = null_answer ? null_answer->score : 0.0f;
  // float32 throughout, as numpy's float32 scalars subtract.
  prediction.null_score_diff = null_score - best_non_null->start_logit - best_non_null->end_logit;
  // numpy 2 compares a float32 scalar with a Python float in float32 (NEP 50: the Python float
  // is "weak"); numpy 1 compared in float64, which differs only for a threshold that float32
  // does not hold exactly and a difference within its rounding.
  const float threshold = static_cast<float>(config.null_score_diff_threshold);
  prediction.text = prediction.null_score_diff > threshold ? "" : best_non_null->text;
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
  result.version_2_with_negative = config.version_2_with_negative;
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
