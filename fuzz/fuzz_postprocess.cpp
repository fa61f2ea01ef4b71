// libFuzzer target: span selection (v1.1 and v2.0) and both metrics over windows and logits made
// from arbitrary bytes. Input layout: byte 0 picks max_seq_length (12..75), byte 1 doc_stride,
// byte 2 n_best_size (1..24) and byte 3 max_answer_length (1..32), byte 4 the v2.0 mode, the
// threshold and whether the second example loses its windows (as --max_eval_samples cuts them);
// bytes 5-6 the length of the context, made of the following bytes mapped to letters, spaces,
// punctuation and a two-byte letter; every later byte is a logit (an eighth of a step from -8,
// so that equal logits are common), the bytes reused in turn. Two examples share the context
// (the first answerable, the second not). postprocess_predictions must return and hold:
// one prediction per example with a non-empty n-best, probabilities that are finite and sum to
// 1, each text a slice of the context, "" (v2.0's null answer) or the placeholder; v1.1's answer
// the first entry's text; v2.0's "" exactly when the null score difference exceeds the
// threshold, else the first non-empty entry's text. Both metrics must score the predictions
// within [0, 100].
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/postprocess.h"
#include "data/squad_metric_v2.h"
#include "data/windows.h"
#include "tokenizer/wordpiece.h"

namespace {

const bert::WordPieceTokenizer& tokenizer() {
  static const auto uncased = std::make_unique<bert::WordPieceTokenizer>(BERT_VOCAB_FILE, true);
  return *uncased;
}

// A context character for a byte: mostly letters and spaces, some punctuation, one 2-byte letter.
std::string context_char(uint8_t byte) {
  static const char* pieces[] = {"a", "b", "e", "t", "h", " ", " ", ".", ",", "'", "-", "x", "n", "o", "\xC3\xA9", "1"};
  return pieces[byte % 16];
}

void check_prediction(const bert::QaPrediction& p, const std::string& context, const bert::PostprocessConfig& config) {
  if (p.nbest.empty()) __builtin_trap();
  double sum = 0;
  for (const bert::NbestEntry& entry : p.nbest) {
    if (!std::isfinite(entry.probability) || entry.probability < 0) __builtin_trap();
    sum += entry.probability;
    const bool slice = context.find(entry.text) != std::string::npos;
    if (!slice && entry.text != bert::kNoCandidateText) __builtin_trap();
    if (entry.text.empty() && !config.version_2_with_negative) __builtin_trap();
  }
  if (std::fabs(sum - 1.0) > 1e-4) __builtin_trap();
  if (!config.version_2_with_negative) {
    if (p.text != p.nbest.front().text) __builtin_trap();
    return;
  }
  const bool no_answer = p.null_score_diff > static_cast<float>(config.null_score_diff_threshold);
  if (no_answer != p.text.empty()) __builtin_trap();
  if (!no_answer) {
    std::string first_non_empty;
    for (const bert::NbestEntry& entry : p.nbest)
      if (!entry.text.empty()) {
        first_non_empty = entry.text;
        break;
      }
    if (p.text != first_non_empty) __builtin_trap();
  }
}

void check_scores(const bert::SquadScores& scores) {
  for (const bert::NamedScore& score : scores.named)
    if (!score.is_count && !(score.value >= 0.0 && score.value <= 100.0)) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 8) return 0;
  const int32_t max_seq_length = 12 + data[0] % 64;
  const int32_t doc_stride = data[1] % 48;
  bert::PostprocessConfig config;
  config.n_best_size = 1 + data[2] % 24;
  config.max_answer_length = 1 + data[3] % 32;
  config.version_2_with_negative = (data[4] & 1) != 0;
  config.null_score_diff_threshold = ((data[4] >> 1) % 16 - 8) * 0.75;
  const bool cut_second = (data[4] & 0x80) != 0;
  const size_t context_length = 1 + (size_t(data[5]) << 8 | data[6]) % 200;
  size_t at = 7;
  std::string context;
  for (size_t i = 0; i < context_length && at < size; ++i) context += context_char(data[at++]);

  bert::SquadDataset dataset;
  dataset.path = "fuzz.json";
  for (int e = 0; e < 2; ++e) {
    bert::SquadExample example;
    example.id = "q" + std::to_string(e);
    example.question = e == 0 ? "what is it?" : "where";
    example.context = context;
    if (e == 0) example.answers.push_back({context.substr(0, 1), 0});  // a one-byte first character
    example.is_impossible = e == 1;
    dataset.examples.push_back(example);
  }
  if (static_cast<unsigned char>(context[0]) >= 0x80) dataset.examples[0].answers.clear();
  std::vector<bert::Window> windows;
  try {
    windows = bert::build_windows(dataset, tokenizer(), bert::WindowConfig{max_seq_length, doc_stride});
  } catch (const bert::InputError&) {
    return 0;  // the question leaves no room at this length or stride
  }
  if (cut_second)
    while (!windows.empty() && windows.back().example_index == 1) windows.pop_back();

  std::vector<std::vector<float>> start(windows.size()), end(windows.size());
  const size_t logit_bytes = size > at ? size - at : 0;
  size_t next = 0;
  auto logit = [&]() {
    if (logit_bytes == 0) return 0.0f;
    const uint8_t byte = data[at + next++ % logit_bytes];
    return static_cast<float>(byte) / 8.0f - 8.0f;
  };
  for (size_t w = 0; w < windows.size(); ++w) {
    start[w].resize(windows[w].length());
    end[w].resize(windows[w].length());
    for (float& value : start[w]) value = logit();
    for (float& value : end[w]) value = logit();
  }
  const bert::PostprocessResult result = bert::postprocess_predictions(dataset, windows, start, end, config);
  if (result.predictions.size() != dataset.examples.size()) __builtin_trap();
  bert::PredictionMap predictions;
  for (const bert::QaPrediction& p : result.predictions) {
    check_prediction(p, context, config);
    predictions[p.id] = p.text;
  }
  check_scores(bert::evaluate_squad_v2(dataset, predictions));
  if (!dataset.examples[0].answers.empty()) {
    bert::SquadDataset answerable = dataset;
    answerable.examples.pop_back();
    check_scores(bert::evaluate_squad(answerable, predictions));
  }
  return 0;
}
