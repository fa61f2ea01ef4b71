#include "data/predictions_io.h"

#include <simdjson.h>

#include <unordered_set>

#include "data/json_diagnose.h"
#include "core/error.h"
#include "core/file_io.h"
#include "core/json_text.h"

namespace bert {

namespace {

// json.dumps(indent=4) of {question id: value} over the predictions, in their order (non-ASCII
// characters escaped, as json.dumps' default ensure_ascii writes utils_qa.py's files);
// value_json(prediction) is the value's text as it stands after "    id: ".
template <typename ValueJson>
std::string per_question_json(const PostprocessResult& result, ValueJson value_json) {
  if (result.predictions.empty()) return "{}\n";
  std::string out = "{\n";
  for (size_t i = 0; i < result.predictions.size(); ++i) {
    const QaPrediction& p = result.predictions[i];
    out += "    " + json_quote(p.id, JsonChars::kAscii) + ": " + value_json(p);
    out += i + 1 < result.predictions.size() ? ",\n" : "\n";
  }
  return out + "}\n";
}

}  // namespace

std::string predictions_to_json(const PostprocessResult& result) {
  return per_question_json(
      result, [](const QaPrediction& p) { return json_quote(p.text, JsonChars::kAscii); });
}

std::string nbest_predictions_to_json(const PostprocessResult& result) {
  return per_question_json(result, [](const QaPrediction& p) {
    std::string out = "[\n";
    for (size_t k = 0; k < p.nbest.size(); ++k) {
      const NbestEntry& n = p.nbest[k];
      // utils_qa.py's key order: a span's dict is built with its logits and given its text after
      // them; the placeholder is built text first.
      const std::string text =
          "            \"text\": " + json_quote(n.text, JsonChars::kAscii) + ",\n";
      const std::string logits = "            \"start_logit\": " +
                                 format_json_number(n.start_logit, NonFiniteJson::kPythonNames) +
                                 ",\n            \"end_logit\": " +
                                 format_json_number(n.end_logit, NonFiniteJson::kPythonNames) +
                                 ",\n";
      out += "        {\n";
      out += n.window < 0 ? text + logits : logits + text;
      out += "            \"probability\": " +
             format_json_number(n.probability, NonFiniteJson::kPythonNames) + "\n";
      out += k + 1 < p.nbest.size() ? "        },\n" : "        }\n";
    }
    return out + "    ]";
  });
}

std::string null_odds_to_json(const PostprocessResult& result) {
  return per_question_json(
      result, [](const QaPrediction& p) { return format_json_number(p.null_score_diff, NonFiniteJson::kPythonNames); });
}

void write_null_odds(const std::string& path, const PostprocessResult& result) {
  write_file_atomic(path, null_odds_to_json(result));
}

void write_predictions(const std::string& path, const PostprocessResult& result) {
  write_file_atomic(path, predictions_to_json(result));
}

void write_nbest_predictions(const std::string& path, const PostprocessResult& result) {
  write_file_atomic(path, nbest_predictions_to_json(result));
}

std::string scores_to_json(const SquadScores& scores, const std::string& prefix) {
  std::string out = "{";
  for (const NamedScore& score : scores.named) {
    out += (out.size() > 1 ? ", " : "") + json_quote(prefix + score.name) + ": ";
    out += score.is_count ? std::to_string(static_cast<int64_t>(score.value))
                          : format_json_number(score.value, NonFiniteJson::kPythonNames);
  }
  return out + "}";
}

PredictionMap to_prediction_map(const PostprocessResult& result) {
  PredictionMap map;
  map.reserve(result.predictions.size());
  for (const QaPrediction& p : result.predictions) map[p.id] = p.text;
  return map;
}

namespace {

// A file holding one JSON object, parsed; InputError naming the file and where the text is bad.
simdjson::dom::object read_json_object(const std::string& path, simdjson::dom::parser* parser,
                                       const std::string& expected) {
  const simdjson::padded_string json(read_file(path));
  simdjson::dom::element root;
  if (auto error = parser->parse(json).get(root)) {
    // simdjson says that the text is bad, not where: locate the problem for the message.
    const std::string_view text(json.data(), json.size());
    if (starts_with_utf8_bom(text)) throw_input_error(path, "byte 0", kUtf8BomMessage);
    if (auto at = find_invalid_utf8(text))
      throw_input_error(path, describe_json_position(text, *at), "invalid UTF-8");
    if (auto problem = find_json_syntax_error(text))
      throw_input_error(path, describe_json_position(text, problem->offset),
                        "malformed JSON: " + problem->expected);
    throw_input_error(path, "", std::string("malformed JSON: ") + simdjson::error_message(error));
  }
  simdjson::dom::object object;
  if (root.get_object().get(object)) throw_input_error(path, "top level", "expected a JSON object " + expected);
  return object;
}

}  // namespace

PredictionMap read_predictions(const std::string& path,
                               std::vector<std::string>* ids_in_file_order) {
  simdjson::dom::parser parser;
  const simdjson::dom::object object = read_json_object(path, &parser, "{question id: answer text}");
  PredictionMap predictions;
  predictions.reserve(object.size());
  for (const simdjson::dom::key_value_pair field : object) {
    const std::string key(field.key);
    if (ids_in_file_order != nullptr) ids_in_file_order->push_back(key);
    std::string_view text;
    if (field.value.get_string().get(text))
      throw_input_error(path, "[" + json_quote(key) + "]", "expected a string answer");
    if (!predictions.emplace(key, std::string(text)).second)
      throw_input_error(path, "[" + json_quote(key) + "]", "question id appears twice");
  }
  return predictions;
}

std::vector<std::pair<std::string, double>> read_no_answer_probabilities(const std::string& path) {
  simdjson::dom::parser parser;
  const simdjson::dom::object object = read_json_object(path, &parser, "{question id: number}");
  std::vector<std::pair<std::string, double>> values;
  std::unordered_set<std::string> seen;
  for (const simdjson::dom::key_value_pair field : object) {
    const std::string key(field.key);
    double value = 0;
    if (!field.value.is_number() || field.value.get_double().get(value))
      throw_input_error(path, "[" + json_quote(key) + "]", "expected a number");
    if (!seen.insert(key).second) throw_input_error(path, "[" + json_quote(key) + "]", "question id appears twice");
    values.emplace_back(key, value);
  }
  return values;
}

}  // namespace bert
