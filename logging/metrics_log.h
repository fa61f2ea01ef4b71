// Training metrics as JSON Lines: one object per write(), appended and flushed at once, so
// the file can be followed (tail -f, pandas.read_json(lines=True)) while training runs and a
// crash loses nothing already written.
//
// Line format: {"step": 10, "epoch": 0.5, "loss": 1.23, "learning_rate": 3e-05}
//   - "step" first (an integer), then the values in the order given (insertion order).
//   - Values as core/json_text.h's format_json_number writes them: finite doubles as Python's
//     repr(float) (shortest round-trip digits, always floating point: "epoch": 1.0), NaN and
//     +-Infinity, which JSON cannot represent, as null: every standard JSON reader accepts the
//     line and pandas reads it back as NaN. A count (MetricValue::count) is written as an
//     integer, as Python writes an int (transformers' num_input_tokens_seen).
//   - Keys are JSON-escaped (quote, backslash, control characters).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "core/json_text.h"  // format_json_number, the values' form

namespace bert {

// One logged value: a number (a double) or a count (an integer, written without a fraction).
struct MetricValue {
  MetricValue(double value) : number(value) {}  // NOLINT(google-explicit-constructor): most values are numbers
  static MetricValue count(int64_t value) {
    MetricValue v(static_cast<double>(value));
    v.is_count = true;
    v.count_value = value;
    return v;
  }
  double number;  // also a count's value, for readers that want a number (TensorBoard)
  bool is_count = false;
  int64_t count_value = 0;
};
using MetricValues = std::vector<std::pair<std::string, MetricValue>>;

// A value as every JSON file here writes it: a count as an integer, a number as
// format_json_number does (null when not finite).
std::string metric_value_json(const MetricValue& value);

class MetricsLog {
 public:
  // Opens path for appending (creating it and its parent directories); an existing file is
  // continued, as when training resumes. Throws BertError naming the path on failure.
  explicit MetricsLog(const std::string& path);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

  // Appends one line and flushes it. Throws BertError when a key is empty, is "step" or is
  // repeated (the line would be ambiguous JSON), or when the write fails.
  void write(int64_t step, const MetricValues& values);

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};

// One metrics line without the trailing newline (exposed for tests).
std::string format_metrics_line(int64_t step, const MetricValues& values);
// A JSON string literal, quotes included.
std::string format_json_string(const std::string& text);

}  // namespace bert
