#include "data/squad_metric_v2.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "core/error.h"
#include "core/strings.h"

namespace bert {
namespace {

// One question as the script scores it.
struct ScoredQuestion {
  double exact = 0;
  double f1 = 0;
  bool has_answer = false;           // qid_to_has_ans: its answers list is not empty
  bool predicted_something = false;  // the script's `if preds[qid]`: the unnormalized text
};

// compute_exact and compute_f1 of the v2.0 script, maxed over the gold texts.
ScoredQuestion score_question(const SquadExample& example, const std::string& prediction) {
  std::vector<std::vector<std::u32string>> gold;
  for (const SquadAnswer& answer : example.answers) {
    std::vector<std::u32string> tokens = normalized_tokens(answer.text);
    if (!tokens.empty()) gold.push_back(std::move(tokens));
  }
  if (gold.empty()) gold.emplace_back();  // [""]: only an empty prediction is right
  const std::vector<std::u32string> predicted = normalized_tokens(prediction);
  ScoredQuestion best;
  best.has_answer = !example.answers.empty();
  best.predicted_something = !prediction.empty();
  for (const std::vector<std::u32string>& truth : gold) {
    // Normalized strings are equal exactly when their token lists are (tokens hold no spaces).
    best.exact = std::max(best.exact, truth == predicted ? 1.0 : 0.0);
    const double f1 = truth.empty() || predicted.empty() ? (truth == predicted ? 1.0 : 0.0)
                                                          : tokens_f1(predicted, truth);
    best.f1 = std::max(best.f1, f1);
  }
  return best;
}

// make_eval_dict over the questions whose has-answer flag is `group` (all when group is null).
void add_totals(const std::string& prefix, const std::vector<ScoredQuestion>& questions, const bool* group,
                SquadScores* out) {
  double exact = 0, f1 = 0;  // the script's sums, in dataset order
  int64_t total = 0;
  for (const ScoredQuestion& q : questions) {
    if (group != nullptr && q.has_answer != *group) continue;
    exact += q.exact;
    f1 += q.f1;
    ++total;
  }
  if (total == 0) return;  // an empty group is left out, as the metric does
  out->named.push_back({prefix + "exact", 100.0 * exact / static_cast<double>(total)});
  out->named.push_back({prefix + "f1", 100.0 * f1 / static_cast<double>(total)});
  out->named.push_back({prefix + "total", static_cast<double>(total), true});
}

// A question in the order find_best_thresh walks, with its no-answer probability.
struct Walked {
  size_t question;
  double probability;
};

// find_best_thresh over the raw `score` (exact or f1): from the number of unanswerable
// questions, each question in `order` adds its score when it has an answer and -1 when it has
// none but got a non-empty prediction; the best prefix and the probability it ends at.
void add_best(const std::string& name, double ScoredQuestion::*score, const std::vector<ScoredQuestion>& questions,
              const std::vector<Walked>& order, SquadScores* out) {
  double current = 0;
  for (const ScoredQuestion& q : questions) current += q.has_answer ? 0 : 1;
  double best = current, best_threshold = 0.0;
  for (const Walked& step : order) {
    const ScoredQuestion& q = questions[step.question];
    current += q.has_answer ? q.*score : (q.predicted_something ? -1 : 0);
    if (current > best) {
      best = current;
      best_threshold = step.probability;
    }
  }
  out->named.push_back({"best_" + name, 100.0 * best / static_cast<double>(questions.size())});
  out->named.push_back({"best_" + name + "_thresh", best_threshold});
}

// The walk's order: by increasing probability, ties in the file's order; without a file, every
// probability 0 and the questions in dataset order (run_qa's predictions).
std::vector<Walked> walk_order(const SquadDataset& dataset, const NoAnswerProbabilities* no_answer) {
  std::vector<Walked> order;
  if (no_answer == nullptr) {
    for (size_t q = 0; q < dataset.examples.size(); ++q) order.push_back({q, 0.0});
    return order;
  }
  std::unordered_map<std::string, size_t> index;
  for (size_t q = 0; q < dataset.examples.size(); ++q) index.emplace(dataset.examples[q].id, q);
  for (const auto& [id, probability] : no_answer->in_file_order) {
    auto it = index.find(id);
    if (it != index.end()) order.push_back({it->second, probability});  // others are skipped, as the script does
  }
  if (order.size() < dataset.examples.size()) {
    std::unordered_set<std::string> given;
    for (const auto& entry : no_answer->in_file_order) given.insert(entry.first);
    std::vector<std::string> missing;
    int64_t count = 0;
    for (const SquadExample& example : dataset.examples)
      if (!given.count(example.id) && count++ < static_cast<int64_t>(kMaxListedIds)) missing.push_back(example.id);
    throw_input_error(no_answer->path, "[" + missing.front() + "]",
                      "no no-answer probability for this question of " + dataset.path + "; every question needs one: " +
                          std::to_string(count) + " missing (" + listed_ids(missing, count) + ")");
  }
  std::stable_sort(order.begin(), order.end(),
                   [](const Walked& a, const Walked& b) { return a.probability < b.probability; });
  return order;
}

}  // namespace

SquadScores evaluate_squad_v2(const SquadDataset& dataset, const PredictionMap& predictions,
                              const NoAnswerProbabilities* no_answer) {
  SquadScores out;
  std::vector<ScoredQuestion> questions;  // in dataset order
  std::vector<std::string> missing;
  int64_t missing_count = 0;
  for (const SquadExample& example : dataset.examples) {
    auto it = predictions.find(example.id);
    if (it == predictions.end()) {
      if (missing.size() < kMaxListedIds) missing.push_back(example.id);
      ++missing_count;
      continue;
    }
    questions.push_back(score_question(example, it->second));
  }
  if (missing_count > 0)
    throw_input_error(dataset.path, "question " + missing.front(),
                      "has no prediction; the SQuAD v2.0 metric needs one for every question (\"\" for no "
                      "answer): " + std::to_string(missing_count) + " missing (" + listed_ids(missing, missing_count) +
                          ")");
  std::unordered_set<std::string> ids;
  for (const SquadExample& example : dataset.examples) ids.insert(example.id);
  for (const auto& entry : predictions) out.unknown_predictions += ids.count(entry.first) ? 0 : 1;
  out.total = static_cast<int64_t>(questions.size());
  if (questions.empty()) return out;
  const std::vector<Walked> order = walk_order(dataset, no_answer);

  // apply_no_ans_threshold: a question whose probability exceeds the threshold counts as
  // answered "no answer".
  std::vector<ScoredQuestion> thresholded = questions;
  if (no_answer != nullptr)
    for (const Walked& step : order)
      if (step.probability > no_answer->threshold) {
        ScoredQuestion& q = thresholded[step.question];
        q.exact = q.f1 = q.has_answer ? 0.0 : 1.0;
      }
  add_totals("", thresholded, nullptr, &out);
  const bool with_answers = true, without_answers = false;
  add_totals("HasAns_", thresholded, &with_answers, &out);
  add_totals("NoAns_", thresholded, &without_answers, &out);
  add_best("exact", &ScoredQuestion::exact, questions, order, &out);
  add_best("f1", &ScoredQuestion::f1, questions, order, &out);
  out.exact_match = out.named[0].value;
  out.f1 = out.named[1].value;
  return out;
}

SquadScores evaluate_squad_version(const SquadDataset& dataset, const PredictionMap& predictions,
                                   bool version_2_with_negative, const NoAnswerProbabilities* no_answer) {
  return version_2_with_negative ? evaluate_squad_v2(dataset, predictions, no_answer)
                                 : evaluate_squad(dataset, predictions);
}

bool squad_v2_gives_score(const SquadDataset& dataset, const std::string& name) {
  const bool answerable = starts_with(name, "HasAns_");
  if (!answerable && !starts_with(name, "NoAns_")) return true;
  return std::any_of(dataset.examples.begin(), dataset.examples.end(),
                     [&](const SquadExample& e) { return e.answers.empty() != answerable; });
}

const std::vector<std::string>& squad_v2_ranking_scores() {
  static const std::vector<std::string> names = {"exact",     "f1",          "HasAns_exact", "HasAns_f1",
                                                 "NoAns_exact", "NoAns_f1", "best_exact",   "best_f1"};
  return names;
}

}  // namespace bert
