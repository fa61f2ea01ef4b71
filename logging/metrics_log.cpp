#include "logging/metrics_log.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <unordered_set>

#include "core/error.h"
#include "core/file_io.h"

namespace bert {

std::string format_json_string(const std::string& text) { return json_quote(text); }

std::string metric_value_json(const MetricValue& value) {
  return value.is_count ? std::to_string(value.count_value) : format_json_number(value.number);
}

std::string format_metrics_line(int64_t step, const MetricValues& values) {
  std::string line = "{\"step\": " + std::to_string(step);
  for (const auto& [key, value] : values)
    line += ", " + format_json_string(key) + ": " + metric_value_json(value);
  line += '}';
  return line;
}

MetricsLog::MetricsLog(const std::string& path) : path_(path) {
  const std::string parent = std::filesystem::path(path).parent_path().string();
  if (!parent.empty()) make_directories(parent);
  file_ = std::fopen(path.c_str(), "abe");  // e: close-on-exec (no child process inherits it)
  if (!file_) throw BertError(path + ": cannot open metrics log: " + std::strerror(errno));
}

MetricsLog::~MetricsLog() {
  if (file_) std::fclose(file_);
}

void MetricsLog::write(int64_t step, const MetricValues& values) {
  std::unordered_set<std::string> seen{"step"};
  for (const auto& entry : values) {
    if (entry.first.empty()) throw BertError(path_ + ": metrics key must not be empty");
    if (!seen.insert(entry.first).second) {
      throw BertError(path_ + ": metrics key \"" + entry.first + "\" given twice (or is \"step\")");
    }
  }
  const std::string line = format_metrics_line(step, values) + "\n";
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fflush(file_) != 0) {
    throw BertError(path_ + ": cannot write metrics log: " + std::strerror(errno));
  }
}

}  // namespace bert
