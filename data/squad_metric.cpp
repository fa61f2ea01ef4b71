#include "data/squad_metric.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <unordered_set>

#include "core/error.h"
#include "core/strings.h"
#include "tokenizer/unicode.h"

namespace bert {
namespace {

// Python's string.punctuation: the ASCII punctuation and symbol characters only.
bool is_ascii_punctuation(char32_t c) {
  return (c >= U'!' && c <= U'/') || (c >= U':' && c <= U'@') || (c >= U'[' && c <= U'`') ||
         (c >= U'{' && c <= U'~');
}

// Python 3 re's \w on str.
bool is_word_char(char32_t c) { return c == U'_' || unicode::python_isalnum(c); }

bool is_article(std::u32string_view word) { return word == U"a" || word == U"an" || word == U"the"; }

// re.sub(r'\b(a|an|the)\b', ' ', s): a match starts at a word boundary and ends at one, and
// consists of word characters only, so it is exactly a maximal word run; the regex scans left
// to right without overlap, so every such run is replaced.
std::u32string remove_articles(const std::u32string& text) {
  std::u32string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (!is_word_char(text[i])) {
      out.push_back(text[i++]);
      continue;
    }
    size_t end = i;
    while (end < text.size() && is_word_char(text[end])) ++end;
    const std::u32string_view word(text.data() + i, end - i);
    if (is_article(word)) {
      out.push_back(U' ');
    } else {
      out.append(word);
    }
    i = end;
  }
  return out;
}

// s.split() with no argument: runs of str.isspace() characters separate, none are kept.
std::vector<std::u32string> split_whitespace(const std::u32string& text) {
  std::vector<std::u32string> tokens;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && unicode::python_isspace(text[i])) ++i;
    size_t end = i;
    while (end < text.size() && !unicode::python_isspace(text[end])) ++end;
    if (end > i) tokens.emplace_back(text, i, end - i);
    i = end;
  }
  return tokens;
}

}  // namespace

double tokens_f1(const std::vector<std::u32string>& prediction, const std::vector<std::u32string>& ground_truth) {
  // Counter(prediction) & Counter(ground_truth): per token, the smaller count.
  std::map<std::u32string, int64_t> remaining;
  for (const std::u32string& token : ground_truth) ++remaining[token];
  int64_t num_same = 0;
  for (const std::u32string& token : prediction) {
    auto it = remaining.find(token);
    if (it != remaining.end() && it->second > 0) {
      --it->second;
      ++num_same;
    }
  }
  if (num_same == 0) return 0;
  // The script's operations, in its order.
  const double precision = 1.0 * num_same / static_cast<double>(prediction.size());
  const double recall = 1.0 * num_same / static_cast<double>(ground_truth.size());
  return (2 * precision * recall) / (precision + recall);
}

namespace {

void check_ground_truths(const std::vector<std::string>& ground_truths) {
  BERT_CHECK(!ground_truths.empty(), "SQuAD v1.1 scoring needs at least one ground truth");
}

}  // namespace

std::vector<std::u32string> normalized_tokens(std::string_view text) {
  std::u32string lowered = unicode::python_lower_text(unicode::utf8_to_u32(text));
  lowered.erase(std::remove_if(lowered.begin(), lowered.end(), is_ascii_punctuation), lowered.end());
  return split_whitespace(remove_articles(lowered));
}

std::string normalize_answer(std::string_view text) {
  std::u32string joined;
  for (const std::u32string& token : normalized_tokens(text)) {
    if (!joined.empty()) joined.push_back(U' ');
    joined += token;
  }
  return unicode::u32_to_utf8(joined);
}

double exact_match_score(std::string_view prediction, std::string_view ground_truth) {
  // Tokens never hold spaces and are never empty, so equal token lists <=> equal joined strings.
  return normalized_tokens(prediction) == normalized_tokens(ground_truth) ? 1.0 : 0.0;
}

double f1_score(std::string_view prediction, std::string_view ground_truth) {
  return tokens_f1(normalized_tokens(prediction), normalized_tokens(ground_truth));
}

double max_exact_match(std::string_view prediction, const std::vector<std::string>& ground_truths) {
  check_ground_truths(ground_truths);
  const std::vector<std::u32string> predicted = normalized_tokens(prediction);
  double best = 0;
  for (const std::string& truth : ground_truths)
    best = std::max(best, predicted == normalized_tokens(truth) ? 1.0 : 0.0);
  return best;
}

double max_f1(std::string_view prediction, const std::vector<std::string>& ground_truths) {
  check_ground_truths(ground_truths);
  const std::vector<std::u32string> predicted = normalized_tokens(prediction);
  double best = 0;
  for (const std::string& truth : ground_truths)
    best = std::max(best, tokens_f1(predicted, normalized_tokens(truth)));
  return best;
}

const NamedScore* SquadScores::find(std::string_view name) const {
  for (const NamedScore& score : named)
    if (score.name == name) return &score;
  return nullptr;
}

std::string scores_summary(const SquadScores& scores) {
  std::string out;
  for (const NamedScore& score : scores.named) {
    if (score.is_count || ends_with(score.name, "_thresh")) continue;
    char value[64];
    std::snprintf(value, sizeof value, "%.2f", score.value);
    out += (out.empty() ? "" : ", ") + score.name + " " + value;
  }
  return out;
}

std::string listed_ids(const std::vector<std::string>& ids, int64_t count) {
  std::string out = joined(ids);
  if (count > static_cast<int64_t>(ids.size())) out += ", ...";
  return out;
}

const SquadExample* first_unscorable(const SquadDataset& dataset) {
  for (const SquadExample& example : dataset.examples)
    if (example.answers.empty()) return &example;
  return nullptr;
}

void require_scorable(const SquadDataset& dataset, const std::string& purpose) {
  if (const SquadExample* example = first_unscorable(dataset))
    throw_input_error(dataset.path, "question " + example->id,
                      "has no answers; SQuAD v1.1 scoring needs at least one (" + purpose + ")");
}

SquadScores evaluate_squad(const SquadDataset& dataset, const PredictionMap& predictions) {
  SquadScores scores;
  int64_t exact_sum = 0;  // the script sums booleans: an exact integer
  double f1_sum = 0;      // summed in dataset order, as the script does
  std::vector<std::string> truths;
  for (const SquadExample& example : dataset.examples) {
    ++scores.total;
    auto it = predictions.find(example.id);
    if (it == predictions.end()) {
      if (scores.unanswered_ids.size() < kMaxListedIds) scores.unanswered_ids.push_back(example.id);
      ++scores.unanswered;
      continue;
    }
    if (example.answers.empty())
      throw_input_error(dataset.path, "question " + example.id,
                        "has no answers; SQuAD v1.1 scoring needs at least one");
    truths.clear();
    for (const SquadAnswer& answer : example.answers) truths.push_back(answer.text);
    exact_sum += max_exact_match(it->second, truths) > 0 ? 1 : 0;
    f1_sum += max_f1(it->second, truths);
  }
  // Predictions naming no question of the dataset are ignored, as the script does; counted.
  std::unordered_set<std::string> ids;
  for (const SquadExample& example : dataset.examples) ids.insert(example.id);
  for (const auto& entry : predictions) scores.unknown_predictions += ids.count(entry.first) ? 0 : 1;
  if (scores.total > 0) {
    scores.exact_match = 100.0 * static_cast<double>(exact_sum) / static_cast<double>(scores.total);
    scores.f1 = 100.0 * f1_sum / static_cast<double>(scores.total);
  }
  scores.named = {{"exact_match", scores.exact_match}, {"f1", scores.f1}};
  return scores;
}

}  // namespace bert
