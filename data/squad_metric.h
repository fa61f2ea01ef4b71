// The official SQuAD v1.1 evaluation (evaluate-v1.1.py), character for character.
//
// normalize_answer(s) = white_space_fix(remove_articles(remove_punc(lower(s)))):
//   lower            Python str.lower() (full Unicode mapping, final sigma included);
//   remove_punc      drops the 32 ASCII characters of string.punctuation, nothing else;
//   remove_articles  re.sub(r'\b(a|an|the)\b', ' ', s) on a Python 3 str: \w is str.isalnum()
//                    or '_', so this replaces every maximal run of word characters that is
//                    exactly "a", "an" or "the" with one space;
//   white_space_fix  ' '.join(s.split()), split on str.isspace() characters.
// exact_match: normalized strings equal. f1: over the whitespace tokens of the normalized
// strings, common = multiset intersection; 0 when nothing is common, else 2PR/(P+R) with the
// script's exact floating-point operations. Both are maxed over the ground truths; totals are
// 100 * sum / (number of questions in the dataset), a question without a prediction scoring 0.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "data/squad.h"

namespace bert {

// qid -> predicted answer text (UTF-8).
using PredictionMap = std::unordered_map<std::string, std::string>;

// UTF-8 in, UTF-8 out. Invalid UTF-8 throws InputError.
std::string normalize_answer(std::string_view text);
// The normalized answer's whitespace tokens (normalize_answer(text).split()).
std::vector<std::u32string> normalized_tokens(std::string_view text);

double exact_match_score(std::string_view prediction, std::string_view ground_truth);  // 0 or 1
double f1_score(std::string_view prediction, std::string_view ground_truth);
// The F1 of two normalized token lists as the v1.1 script computes it (0 when nothing is common).
double tokens_f1(const std::vector<std::u32string>& prediction, const std::vector<std::u32string>& ground_truth);
// Max of exact_match_score / f1_score over the ground truths (which must not be empty).
double max_exact_match(std::string_view prediction, const std::vector<std::string>& ground_truths);
double max_f1(std::string_view prediction, const std::vector<std::string>& ground_truths);

// One score under the name run_qa's metric gives it (without the eval_ prefix).
struct NamedScore {
  std::string name;
  double value = 0;
  bool is_count = false;  // a number of questions ("total"): an integer in JSON
};

struct SquadScores {
  double exact_match = 0;  // percent (SQuAD v2.0: "exact")
  double f1 = 0;           // percent
  int64_t total = 0;       // questions in the dataset
  int64_t unanswered = 0;  // questions with no prediction (scored 0)
  std::vector<std::string> unanswered_ids;  // the first kMaxListedIds of them
  int64_t unknown_predictions = 0;  // predictions whose id is not in the dataset (ignored)
  // Every score in the order the metric returns them: v1.1 exact_match, f1; v2.0 (squad_metric_v2.h)
  // exact, f1, total, HasAns_*, NoAns_*, best_*.
  std::vector<NamedScore> named;

  const NamedScore* find(std::string_view name) const;
};

inline constexpr size_t kMaxListedIds = 5;
// The first ids of `count` for a message: "a, b, c", then ", ..." when count exceeds them.
std::string listed_ids(const std::vector<std::string>& ids, int64_t count);

// The scores for a log line: "exact_match 81.22, f1 88.52"; for v2.0 every score but the
// totals and thresholds ("exact 70.10, f1 73.42, HasAns_exact ..., best_f1 73.50").
std::string scores_summary(const SquadScores& scores);

// Scores every question of the dataset. A question without answers cannot be scored by the
// v1.1 script (it takes the max over an empty list): InputError naming the file and the id.
SquadScores evaluate_squad(const SquadDataset& dataset, const PredictionMap& predictions);

// The first question that has no answers (evaluate_squad refuses the dataset), or null.
const SquadExample* first_unscorable(const SquadDataset& dataset);
// The same refusal as evaluate_squad's, before any model work: InputError naming the file,
// the question id, and `purpose` (e.g. "--do_eval scores the predictions against them").
void require_scorable(const SquadDataset& dataset, const std::string& purpose);

}  // namespace bert
