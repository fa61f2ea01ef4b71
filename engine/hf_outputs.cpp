#include "engine/hf_outputs.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/file_io.h"
#include "core/json_text.h"
#include "data/predictions_io.h"

namespace bert {
namespace {

// A flat JSON object as (key, value token) pairs in its order, floats as Python's repr, other
// values minified; false when the text is not one.
bool read_object_fields(simdjson::dom::parser& parser, const std::string& text, LoggedDict* out) {
  simdjson::dom::element root;
  if (parser.parse(simdjson::padded_string(text)).get(root)) return false;
  simdjson::dom::object object;
  if (root.get_object().get(object)) return false;
  for (const simdjson::dom::key_value_pair field : object) {
    if (field.value.type() == simdjson::dom::element_type::DOUBLE)
      out->emplace_back(std::string(field.key), metric_float(field.value.get_double().value()));
    else
      out->emplace_back(std::string(field.key), simdjson::minify(field.value));
  }
  return true;
}

// The same as a sorted dict.
bool read_flat_object(const std::string& text, MetricsDict* out) {
  simdjson::dom::parser parser;
  LoggedDict fields;
  if (!read_object_fields(parser, text, &fields)) return false;
  for (auto& [key, token] : fields) (*out)[key] = std::move(token);
  return true;
}

std::string indent_dict(const MetricsDict& dict, const std::string& pad, const std::string& close_pad) {
  if (dict.empty()) return "{}";
  std::string out = "{\n";
  size_t i = 0;
  for (const auto& [key, token] : dict)
    out += pad + json_quote(key) + ": " + token + (++i < dict.size() ? ",\n" : "\n");
  return out + close_pad + "}";
}

// metrics_format's _secs2timedelta: str(timedelta(seconds=int(s))) + "." + two digits of the
// fraction, truncated ("1 day, 1:01:01.28").
std::string seconds_as_timedelta(double seconds) {
  const double whole = std::trunc(seconds);
  const int hundredths = static_cast<int>(std::fabs(seconds - whole) * 100);
  const long long total = static_cast<long long>(whole);
  const long long days = total / 86400, rest = total % 86400;
  char clock[64];
  std::snprintf(clock, sizeof clock, "%lld:%02lld:%02lld.%02d", rest / 3600, rest / 60 % 60,
                rest % 60, hundredths);
  if (days == 0) return clock;
  return std::to_string(days) + (days == 1 ? " day, " : " days, ") + clock;
}

// A value as metrics_format shows it; `token` is the dict's JSON token. Integer tokens and null
// stay as they are.
std::string metric_shown(const std::string& key, const std::string& token) {
  const bool is_float = token.find_first_of(".eE") != std::string::npos;
  if (!is_float) return token;
  const double value = std::strtod(token.c_str(), nullptr);
  if (key.find("_runtime") != std::string::npos) return seconds_as_timedelta(value);
  char text[512];
  if (key == "total_flos") {  // int(v) >> 30: a power-of-two division is exact
    std::snprintf(text, sizeof text, "%.0fGF", std::floor(value / 1073741824.0));
    return text;
  }
  // round(v, 4): printf rounds the exact binary value to nearest, as Python's round does.
  std::snprintf(text, sizeof text, "%.4f", value);
  return metric_float(std::strtod(text, nullptr));
}

}  // namespace

std::string log_metrics_text(const std::string& split, const MetricsDict& metrics) {
  std::vector<std::pair<std::string, std::string>> shown;
  size_t key_width = 0, value_width = 0;
  for (const auto& [key, token] : metrics) {
    shown.emplace_back(key, metric_shown(key, token));
    key_width = std::max(key_width, key.size());
    value_width = std::max(value_width, shown.back().second.size());
  }
  std::string out = "***** " + split + " metrics *****\n";
  for (const auto& [key, value] : shown)
    out += "  " + key + std::string(key_width - key.size(), ' ') + " = " +
           std::string(value_width - value.size(), ' ') + value + "\n";
  return out;
}

double round_runtime(double seconds) { return std::round(seconds * 1e4) / 1e4; }
double round_rate(double per_second) { return std::round(per_second * 1e3) / 1e3; }

// A bare NaN or Infinity (what Python's json.dumps writes) is not JSON: such a value is null.
std::string metric_float(double value) { return format_json_number(value, NonFiniteJson::kNull); }
std::string metric_int(int64_t value) { return std::to_string(value); }

std::string metrics_dict_json(const MetricsDict& metrics) { return indent_dict(metrics, "    ", "") + "\n"; }

void save_metrics(const std::string& output_dir, const std::string& split,
                  const MetricsDict& metrics, StagedFiles* staged) {
  make_directories(output_dir);
  const auto target = [&](const std::string& path) {
    return staged ? staged->staged_path(path) : path;
  };
  write_file_atomic(target(join_path(output_dir, split + "_results.json")),
                    metrics_dict_json(metrics));
  const std::string all_path = join_path(output_dir, "all_results.json");
  MetricsDict all;
  if (path_exists(all_path) && !read_flat_object(read_file(all_path), &all)) {
    std::fprintf(stderr, "[output] %s is not a JSON object: replaced\n", all_path.c_str());
    all.clear();
  }
  for (const auto& [key, token] : metrics) all[key] = token;
  write_file_atomic(target(all_path), metrics_dict_json(all));
}

MetricsDict train_metrics(const TrainSummary& summary, double epoch, double total_flos, size_t windows,
                          int64_t num_input_tokens_seen) {
  const double seconds = std::max(1e-9, summary.seconds);
  MetricsDict m;
  m["epoch"] = metric_float(epoch);
  m["total_flos"] = metric_float(total_flos);
  m["train_loss"] = metric_float(summary.mean_loss);
  m["train_runtime"] = metric_float(round_runtime(summary.seconds));
  m["train_samples"] = metric_int(static_cast<int64_t>(windows));
  m["train_samples_per_second"] = metric_float(round_rate(summary.windows_per_second));
  m["train_steps_per_second"] = metric_float(round_rate(double(summary.steps - summary.first_step) / seconds));
  m["train_skipped_updates"] = metric_int(summary.skipped_updates);
  if (num_input_tokens_seen >= 0) m["num_input_tokens_seen"] = metric_int(num_input_tokens_seen);
  return m;
}

size_t eval_batches(size_t windows, int batch_size) {
  const size_t batch = size_t(std::max(1, batch_size));
  return (windows + batch - 1) / batch;
}

MetricValue epoch_value(double epoch) {
  return epoch == 0 ? MetricValue::count(0) : MetricValue(epoch);
}

double saved_training_epoch(const std::string& output_dir) {
  const std::string path = join_path(output_dir, "trainer_state.json");
  if (!path_exists(path)) return -1;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  double epoch = -1;
  if (parser.parse(simdjson::padded_string(read_file(path))).get(root) ||
      root["epoch"].get_double().get(epoch))
    return -1;
  return epoch >= 0 ? epoch : -1;
}

MetricsDict eval_metrics(const EvalOutcome& outcome, size_t windows, int batch_size, double epoch,
                         const std::string& split, int64_t num_input_tokens_seen) {
  const double seconds = std::max(1e-9, outcome.model_seconds);
  const size_t batches = eval_batches(windows, batch_size);
  // Trainer's speed_metrics rounds the runtime to 4 digits and the rates to 3.
  const std::string key = split == "predict" ? "test" : split;
  MetricsDict m;
  if (outcome.scored)
    for (const NamedScore& score : outcome.scores.named)
      m[key + "_" + score.name] =
          score.is_count ? metric_int(static_cast<int64_t>(score.value)) : metric_float(score.value);
  m[key + "_runtime"] = metric_float(round_runtime(outcome.model_seconds));
  if (outcome.model_preparation_seconds >= 0)
    m[key + "_model_preparation_time"] =
        metric_float(round_runtime(outcome.model_preparation_seconds));
  m[split + "_samples"] = metric_int(static_cast<int64_t>(windows));
  m[key + "_samples_per_second"] = metric_float(round_rate(double(windows) / seconds));
  m[key + "_steps_per_second"] = metric_float(round_rate(double(batches) / seconds));
  if (epoch >= 0) m["epoch"] = metric_value_json(epoch_value(epoch));
  if (num_input_tokens_seen >= 0) m["num_input_tokens_seen"] = metric_int(num_input_tokens_seen);
  return m;
}

std::vector<LoggedDict> read_metrics_log(const std::string& path) {
  return path_exists(path) ? parse_metrics_log(read_file(path), path) : std::vector<LoggedDict>();
}

std::vector<LoggedDict> parse_metrics_log(const std::string& text, const std::string& path) {
  std::vector<LoggedDict> entries;
  simdjson::dom::parser parser;
  for (const std::string& line : split_lines(text)) {
    if (line.empty()) continue;
    LoggedDict entry;
    if (!read_object_fields(parser, line, &entry))
      throw_input_error(path, "", "a line is not a JSON object: " + line.substr(0, 80));
    entries.push_back(std::move(entry));
  }
  return entries;
}

std::string hf_trainer_state_json(const HfTrainerState& s, const std::string& metrics_log_path) {
  return hf_trainer_state_json(s, read_metrics_log(metrics_log_path));
}

std::string hf_trainer_state_json(const HfTrainerState& s, const std::vector<LoggedDict>& logged) {
  std::vector<MetricsDict> history;
  for (const LoggedDict& entry : logged)
    history.emplace_back(entry.begin(), entry.end());  // sorted, as save_state writes it
  std::string log_history = "[]";
  if (!history.empty()) {
    log_history = "[\n";
    for (size_t i = 0; i < history.size(); ++i)
      log_history += "    " + indent_dict(history[i], "      ", "    ") + (i + 1 < history.size() ? ",\n" : "\n");
    log_history += "  ]";
  }
  MetricsDict top;
  top["best_global_step"] = s.best_global_step > 0 ? metric_int(s.best_global_step) : "null";
  top["best_metric"] = std::isnan(s.best_metric) ? "null" : metric_float(s.best_metric);
  // A path as Trainer.save_state's json.dumps writes it: non-ASCII escaped.
  top["best_model_checkpoint"] = s.best_model_checkpoint.empty()
                                     ? "null"
                                     : json_quote(s.best_model_checkpoint, JsonChars::kAscii);
  top["epoch"] = metric_float(s.epoch);
  top["eval_steps"] = metric_int(s.eval_steps);
  top["global_step"] = metric_int(s.global_step);
  top["is_hyper_param_search"] = "false";
  top["is_local_process_zero"] = "true";
  top["is_world_process_zero"] = "true";
  top["log_history"] = log_history;
  top["logging_steps"] = metric_int(s.logging_steps);
  top["max_steps"] = metric_int(s.max_steps);
  top["num_input_tokens_seen"] = metric_int(s.num_input_tokens_seen);  // 0 unless counted
  top["num_train_epochs"] = metric_int(s.num_train_epochs);
  top["save_steps"] = metric_int(s.save_steps);
  // json.dumps(indent=2, sort_keys=True) of {"TrainerControl": {"args": {...}, "attributes": {}}}.
  auto flag = [](bool value) { return value ? "true" : "false"; };
  top["stateful_callbacks"] = std::string("{\n    \"TrainerControl\": {\n      \"args\": {\n") +
                              "        \"should_epoch_stop\": false,\n        \"should_evaluate\": false,\n" +
                              "        \"should_log\": false,\n        \"should_save\": " + flag(s.control_should_save) +
                              ",\n        \"should_training_stop\": " + flag(s.control_should_training_stop) +
                              "\n      },\n      \"attributes\": {}\n    }\n  }";
  top["total_flos"] = metric_float(s.total_flos);
  top["train_batch_size"] = metric_int(s.train_batch_size);
  top["trial_name"] = "null";
  top["trial_params"] = "null";
  return indent_dict(top, "  ", "") + "\n";
}

std::vector<std::string> eval_output_paths(const std::string& output_dir,
                                           const std::string& split) {
  std::vector<std::string> paths;
  for (const char* suffix :
       {"_predictions.json", "_nbest_predictions.json", "_null_odds.json", "_results.json"})
    paths.push_back(join_path(output_dir, split + suffix));
  paths.push_back(join_path(output_dir, "all_results.json"));
  return paths;
}

MetricsDict write_eval_outputs(const std::string& output_dir, const EvalOutcome& outcome,
                               size_t windows, int batch_size, double epoch,
                               const std::string& split, int64_t num_input_tokens_seen) {
  make_directories(output_dir);
  // The evaluation's files appear together or not at all: a failed write (disk full) never
  // leaves new predictions beside an earlier evaluation's n-best lists and scores.
  StagedFiles staged;
  const auto target = [&](const std::string& suffix) {
    return staged.staged_path(join_path(output_dir, split + suffix));
  };
  write_predictions(target("_predictions.json"), outcome.predictions);
  write_nbest_predictions(target("_nbest_predictions.json"), outcome.predictions);
  if (outcome.predictions.version_2_with_negative)
    write_null_odds(target("_null_odds.json"), outcome.predictions);
  MetricsDict metrics =
      eval_metrics(outcome, windows, batch_size, epoch, split, num_input_tokens_seen);
  save_metrics(output_dir, split, metrics, &staged);
  staged.commit();
  return metrics;
}

}  // namespace bert
