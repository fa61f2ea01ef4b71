// The official SQuAD v2.0 evaluation (evaluate-v2.0.py) as run_qa.py --version_2_with_negative
// calls it: Hugging Face evaluate's "squad_v2" metric, every prediction's no_answer_probability
// 0.0 and no_answer_threshold 1.0 (or the script's --na-prob-file: NoAnswerProbabilities below).
//
// Per question: a question has an answer when its answers list is not empty. Its gold texts are
// those whose normalize_answer (squad_metric.h) is not empty, or [""] when none is left, so an
// unanswerable question is answered correctly by a prediction that normalizes to nothing.
//   exact = max over the gold texts of int(normalize(gold) == normalize(prediction));
//   f1    = max over the gold texts of: int(gold tokens == prediction tokens) when either token
//           list is empty, else the v1.1 token F1 (tokens_f1).
// Totals, with the script's sums in dataset order:
//   exact, f1, total                         over all questions;
//   HasAns_exact, HasAns_f1, HasAns_total    over questions with answers, when there are any;
//   NoAns_exact, NoAns_f1, NoAns_total       over those without, when there are any;
//   best_exact, best_exact_thresh, best_f1, best_f1_thresh: find_best_thresh over the no-answer
//     probabilities, all 0, so the questions are walked in the order of the predictions (run_qa's:
//     dataset order; eval_squad's metric mode passes a predictions file's order as probabilities
//     0 in NoAnswerProbabilities); starting from the number of unanswerable questions, an
//     answerable one adds its score and an unanswerable one with a non-empty prediction
//     subtracts 1; the best prefix is kept, and its threshold is 0.0.
// A question without a prediction makes the script fail (its HasAns/NoAns sums look every
// question up), so it is refused here: InputError naming the file and the first missing ids.
// Predictions for ids not in the dataset are ignored and counted, as in v1.1.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "data/squad.h"
#include "data/squad_metric.h"

namespace bert {

// The official script's --na-prob-file and --na-prob-thresh: each question's probability (or
// any score) of having no answer, in the file's order, and the threshold above which the
// question counts as answered "no answer" (scoring 1 when it has none, else 0) whatever was
// predicted. find_best_thresh then walks the questions by increasing probability (ties in the
// file's order, Python's stable sort) and reports the probability where the best prefix ends.
// A null_odds.json serves as the file: its best_f1_thresh is the --null_score_diff_threshold
// that would have scored best.
struct NoAnswerProbabilities {
  std::vector<std::pair<std::string, double>> in_file_order;
  double threshold = 1.0;
  std::string path;  // for errors
};

// The v2.0 scores, named as above (SquadScores::named); exact_match and f1 hold exact and f1.
// Without no-answer probabilities every one is 0, as run_qa gives them. With them, every
// question of the dataset needs one: InputError naming the file and the first missing ids.
SquadScores evaluate_squad_v2(const SquadDataset& dataset, const PredictionMap& predictions,
                              const NoAnswerProbabilities* no_answer = nullptr);

// run_qa's metric: v2.0 with --version_2_with_negative (no_answer as above), else v1.1
// (evaluate_squad).
SquadScores evaluate_squad_version(const SquadDataset& dataset, const PredictionMap& predictions,
                                   bool version_2_with_negative, const NoAnswerProbabilities* no_answer = nullptr);

// Whether the v2.0 metric gives the score `name` on this dataset: the HasAns_* and NoAns_*
// scores only where it has such questions, every other always.
bool squad_v2_gives_score(const SquadDataset& dataset, const std::string& name);

// The scores of the v2.0 metric that rank models (--metric_for_best_model): all but the totals
// and thresholds. HasAns_* and NoAns_* exist only where the dataset has such questions.
const std::vector<std::string>& squad_v2_ranking_scores();

}  // namespace bert
