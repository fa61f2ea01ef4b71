// The survey's report (benchmarks/gemm_survey_report.h).
#include "benchmarks/gemm_survey_report.h"

#include <cmath>
#include <cstdio>
#include <map>

#include "core/json_text.h"

namespace bert::bench {

bool gemm_survey_timed(const GemmSurveyRow& row) { return row.problem.empty() && !row.wrong; }

namespace {

double tflops(const GemmSurveyRow& row) { return row.flops / (row.median_us * 1e-6) / 1e12; }

std::string fixed(double value, int digits) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", digits, value);
  return text;
}

// A table cell: '|' would end it and a line break would end the row.
std::string cell(const std::string& text) {
  std::string out = text;
  for (char& c : out)
    if (c == '|') c = '/';
    else if (c == '\n' || c == '\r') c = ' ';
  return out;
}

std::string table_row(const std::vector<std::string>& cells) {
  std::string line = "|";
  for (const std::string& value : cells) line += " " + cell(value) + " |";
  return line + "\n";
}

}  // namespace

std::string gemm_survey_markdown(const std::vector<GemmSurveyRow>& rows) {
  std::string text =
      "| batch | gemm | role | candidate | median µs | min µs | TFLOP/s | vs #0 | algorithm (cuBLASLt enum values) |\n"
      "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
  // Per (batch, gemm, role), in first-seen order: the fastest timed candidate, for the summary.
  std::map<std::string, const GemmSurveyRow*> fastest;
  std::vector<std::string> order;
  for (const GemmSurveyRow& row : rows) {
    if (!gemm_survey_timed(row)) {
      text += table_row({row.batch, row.gemm, row.role, row.candidate, row.wrong ? "WRONG" : "n/a", "", "", "",
                         row.problem});
      continue;
    }
    text += table_row({row.batch, row.gemm, row.role, row.candidate, fixed(row.median_us, 1), fixed(row.min_us, 1),
                       fixed(tflops(row), 1), fixed(row.first_us / row.median_us, 2) + "×", row.algorithm});
    const std::string key = row.batch + "\n" + row.gemm + "\n" + row.role;
    const auto [it, inserted] = fastest.emplace(key, &row);
    if (inserted) order.push_back(key);
    else if (row.median_us < it->second->median_us) it->second = &row;
  }
  text += "\n| batch | gemm | role | fastest | its median µs | #0's median µs | saved µs |\n"
          "| --- | --- | --- | --- | --- | --- | --- |\n";
  for (const std::string& key : order) {
    const GemmSurveyRow& best = *fastest[key];
    text += table_row({best.batch, best.gemm, best.role, best.candidate, fixed(best.median_us, 1),
                       fixed(best.first_us, 1), fixed(best.first_us - best.median_us, 1)});
  }
  return text;
}

std::string gemm_survey_json(const std::vector<GemmSurveyRow>& rows) {
  // Times that were not taken are null.
  auto time_of = [](double value, bool valid) { return format_json_number(valid ? value : std::nan("")); };
  std::string text = "[";
  for (size_t i = 0; i < rows.size(); ++i) {
    const GemmSurveyRow& r = rows[i];
    text += std::string(i ? ",\n  " : "\n  ") + "{\"batch\": " + json_quote(r.batch) +
            ", \"gemm\": " + json_quote(r.gemm) + ", \"role\": " + json_quote(r.role) +
            ", \"candidate\": " + json_quote(r.candidate) + ", \"median_us\": " + time_of(r.median_us, gemm_survey_timed(r)) +
            ", \"min_us\": " + time_of(r.min_us, gemm_survey_timed(r)) + ", \"first_us\": " + time_of(r.first_us, r.first_us > 0) +
            ", \"wrong\": " + (r.wrong ? "true" : "false") + ", \"algorithm\": " + json_quote(r.algorithm) +
            ", \"problem\": " + json_quote(r.problem) + "}";
  }
  return text + "\n]";
}

}  // namespace bert::bench
