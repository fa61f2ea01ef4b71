#include "tests/test_support.h"

#include <cmath>
#include <filesystem>
#include <unistd.h>
#include <sstream>

namespace bert::test {

std::string fixture_path(const std::string& name) {
  return std::string(BERT_SOURCE_DIR) + "/tests/fixtures/" + name;
}

ScratchDir::ScratchDir(const std::string& name)
    : path((std::filesystem::temp_directory_path() / (name + "_" + std::to_string(::getpid()))).string()) {
  std::filesystem::create_directories(path);
}

ScratchDir::~ScratchDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path, ignored);
}

std::string CloseReport::describe(const std::string& name) const {
  std::ostringstream out;
  out.precision(10);
  if (ok) {
    out << name << ": " << count << " values close";
  } else {
    out << name << ": worst element [" << worst_index << "] = " << worst_value << " vs reference "
        << worst_ref << " (exceeds tolerance by " << worst_excess << ") of " << count;
  }
  return out.str();
}

CloseReport compare_close(const double* x, const double* ref, size_t n, double atol, double rtol) {
  CloseReport report;
  report.count = n;
  double worst = -INFINITY;
  for (size_t i = 0; i < n; ++i) {
    const double excess = std::fabs(x[i] - ref[i]) - (atol + rtol * std::fabs(ref[i]));
    const bool bad = !(excess <= 0) ;  // NaN counts as bad
    if (bad && (report.ok || excess > worst || std::isnan(excess))) {
      report.ok = false;
      worst = std::isnan(excess) ? INFINITY : excess;
      report.worst_index = i;
      report.worst_value = x[i];
      report.worst_ref = ref[i];
      report.worst_excess = excess;
    }
  }
  return report;
}

CloseReport compare_close(const std::vector<double>& x, const std::vector<double>& ref, double atol,
                          double rtol) {
  if (x.size() != ref.size()) {
    CloseReport report;
    report.ok = false;
    report.count = x.size();
    report.worst_excess = INFINITY;
    return report;
  }
  return compare_close(x.data(), ref.data(), x.size(), atol, rtol);
}

CloseReport compare_close(const std::vector<float>& x, const std::vector<double>& ref, double atol,
                          double rtol) {
  return compare_close(std::vector<double>(x.begin(), x.end()), ref, atol, rtol);
}

}  // namespace bert::test
