#include "data/squad_metric_v2.h"

#include <unordered_set>

#include "core/error.h"

namespace bert {
namespace {

struct QuestionScores {
  double exact = 0;
  double f1 = 0;
};

// compute_exact and compute_f1 of the v2.0 script, maxed over the gold texts.
QuestionScores score_question(const SquadExample& example, const std::string& prediction) {
  std::vector<std::vector<std::u32string>> gold;
  for (const SquadAnswer& answer : example.answers) {
    std::vector<std::u32string> tokens = normalized_tokens(answer.text);
    if (!tokens.empty()) gold.push_back(std::move(tokens));
  }
  if (gold.empty()) gold.emplace_back();  // [""]: only an empty prediction is right
  const std::vector<std::u32string> predicted = normalized_tokens(prediction);
  QuestionScores best;
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
void add_totals(const std::string& prefix, const std::vector<QuestionScores>& scores,
                const std::vector<bool>& has_answer, const bool* group, SquadScores* out) {
  double exact = 0, f1 = 0;  // the script's sums, in dataset order
  int64_t total = 0;
  for (size_t q = 0; q < scores.size(); ++q) {
    if (group != nullptr && has_answer[q] != *group) continue;
    exact += scores[q].exact;
    f1 += scores[q].f1;
    ++total;
  }
  if (total == 0) return;  // an empty group is left out, as the metric does
  out->named.push_back({prefix + "exact", 100.0 * exact / static_cast<double>(total)});
  out->named.push_back({prefix + "f1", 100.0 * f1 / static_cast<double>(total)});
  out->named.push_back({prefix + "total", static_cast<double>(total), true});
}

// find_best_thresh with every no-answer probability 0: questions in prediction order.
void add_best(const std::string& name, const std::vector<double>& scores, const std::vector<bool>& has_answer,
              const std::vector<bool>& predicted_something, SquadScores* out) {
  double current = 0;
  for (const bool has : has_answer) current += has ? 0 : 1;
  double best = current;
  for (size_t q = 0; q < scores.size(); ++q) {
    current += has_answer[q] ? scores[q] : (predicted_something[q] ? -1 : 0);
    if (current > best) best = current;
  }
  out->named.push_back({"best_" + name, 100.0 * best / static_cast<double>(scores.size())});
  out->named.push_back({"best_" + name + "_thresh", 0.0});
}

}  // namespace

SquadScores evaluate_squad_v2(const SquadDataset& dataset, const PredictionMap& predictions) {
  SquadScores out;
  std::vector<QuestionScores> scores;
  std::vector<bool> has_answer, predicted_something;
  std::vector<double> exact, f1;
  std::vector<std::string> missing;
  int64_t missing_count = 0;
  for (const SquadExample& example : dataset.examples) {
    auto it = predictions.find(example.id);
    if (it == predictions.end()) {
      if (missing.size() < kMaxListedIds) missing.push_back(example.id);
      ++missing_count;
      continue;
    }
    scores.push_back(score_question(example, it->second));
    has_answer.push_back(!example.answers.empty());
    predicted_something.push_back(!it->second.empty());  // the script's `if preds[qid]`: unnormalized
    exact.push_back(scores.back().exact);
    f1.push_back(scores.back().f1);
  }
  if (missing_count > 0) {
    std::string ids;
    for (const std::string& id : missing) ids += (ids.empty() ? "" : ", ") + id;
    if (missing_count > static_cast<int64_t>(missing.size())) ids += ", ...";
    throw_input_error(dataset.path, "question " + missing.front(),
                      "has no prediction; the SQuAD v2.0 metric needs one for every question (\"\" for no "
                      "answer): " + std::to_string(missing_count) + " missing (" + ids + ")");
  }
  std::unordered_set<std::string> ids;
  for (const SquadExample& example : dataset.examples) ids.insert(example.id);
  for (const auto& entry : predictions) out.unknown_predictions += ids.count(entry.first) ? 0 : 1;
  out.total = static_cast<int64_t>(scores.size());
  if (scores.empty()) return out;

  add_totals("", scores, has_answer, nullptr, &out);
  const bool with_answers = true, without_answers = false;
  add_totals("HasAns_", scores, has_answer, &with_answers, &out);
  add_totals("NoAns_", scores, has_answer, &without_answers, &out);
  add_best("exact", exact, has_answer, predicted_something, &out);
  add_best("f1", f1, has_answer, predicted_something, &out);
  out.exact_match = out.named[0].value;
  out.f1 = out.named[1].value;
  return out;
}

SquadScores evaluate_squad_version(const SquadDataset& dataset, const PredictionMap& predictions,
                                   bool version_2_with_negative) {
  return version_2_with_negative ? evaluate_squad_v2(dataset, predictions) : evaluate_squad(dataset, predictions);
}

const std::vector<std::string>& squad_v2_ranking_scores() {
  static const std::vector<std::string> names = {"exact",     "f1",          "HasAns_exact", "HasAns_f1",
                                                 "NoAns_exact", "NoAns_f1", "best_exact",   "best_f1"};
  return names;
}

}  // namespace bert
