// The report of bench_kernels' cuBLASLt algorithm survey (benchmarks/gemm_survey_report.h): which
// rows are timed, the speed-up over #0, the fastest candidate per GEMM, cells that cannot break
// the table, and JSON that parses with null for times not taken. The survey itself needs a GPU.
#include <catch2/catch.hpp>
#include <simdjson.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "benchmarks/gemm_survey_report.h"

namespace bert::bench {
namespace {

GemmSurveyRow timed_row(const std::string& gemm, const std::string& role, const std::string& candidate,
                        double median_us, double first_us) {
  GemmSurveyRow row;
  row.batch = "squad";
  row.gemm = gemm;
  row.role = role;
  row.candidate = candidate;
  row.algorithm = "id 7, tile 20, split-K 1";
  row.median_us = median_us;
  row.min_us = median_us - 1;
  row.flops = 2e9;  // 2 GFLOP: 100 µs is 20 TFLOP/s
  row.first_us = first_us;
  return row;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

}  // namespace

TEST_CASE("the survey's Markdown: timed rows, WRONG and n/a rows, the fastest per GEMM", "[bench]") {
  std::vector<GemmSurveyRow> rows = {timed_row("gemm attn-out", "d_weight", "#0", 100.0, 100.0),
                                     timed_row("gemm attn-out", "d_weight", "#1", 125.0, 100.0),
                                     timed_row("gemm attn-out", "d_weight", "#0 split-K 4", 80.0, 100.0),
                                     timed_row("gemm attn-out", "fwd", "#0", 40.0, 40.0)};
  GemmSurveyRow wrong = timed_row("gemm attn-out", "d_weight", "#2", 10.0, 100.0);  // fast but wrong
  wrong.wrong = true;
  wrong.problem = "differs from #0: d_weight[3] = 1 | expected 2\nsecond line";
  GemmSurveyRow unavailable = timed_row("gemm attn-out", "d_weight", "#0 split-K 8", 5.0, 100.0);
  unavailable.problem = "cuBLASLt rejects split-K 8";
  rows.push_back(wrong);
  rows.push_back(unavailable);

  const std::string text = gemm_survey_markdown(rows);
  CHECK_FALSE(gemm_survey_timed(wrong));
  CHECK_FALSE(gemm_survey_timed(unavailable));
  CHECK(gemm_survey_timed(rows[0]));
  CHECK_THAT(text, Catch::Contains("| squad | gemm attn-out | d_weight | #1 | 125.0 | 124.0 | 16.0 | 0.80× |"));
  CHECK_THAT(text, Catch::Contains("| squad | gemm attn-out | d_weight | #0 split-K 4 | 80.0 | 79.0 | 25.0 | 1.25× |"));
  // Untimed rows say why, and their text cannot end the cell or the row.
  CHECK_THAT(text, Catch::Contains("| #2 | WRONG |  |  |  | differs from #0: d_weight[3] = 1 / expected 2 second line |"));
  CHECK_THAT(text, Catch::Contains("| #0 split-K 8 | n/a |  |  |  | cuBLASLt rejects split-K 8 |"));
  // The fastest timed candidate of each GEMM, in first-seen order; never the wrong or missing ones.
  CHECK_THAT(text, Catch::Contains("| squad | gemm attn-out | d_weight | #0 split-K 4 | 80.0 | 100.0 | 20.0 |\n"
                                   "| squad | gemm attn-out | fwd | #0 | 40.0 | 40.0 | 0.0 |"));
  // Every table line has the columns of its header.
  for (const std::string& line : lines_of(text)) {
    if (line.empty()) continue;
    const size_t bars = static_cast<size_t>(std::count(line.begin(), line.end(), '|'));
    INFO(line);
    CHECK((bars == 10 || bars == 8));  // 9 columns in the first table, 7 in the summary
  }
}

TEST_CASE("the survey's JSON parses, with null for times not taken", "[bench]") {
  GemmSurveyRow timed = timed_row("gemm qkv", "fwd", "#0", 36.5, 36.5);
  GemmSurveyRow wrong = timed_row("gemm qkv", "fwd", "#1", 30.0, 36.5);
  wrong.wrong = true;
  wrong.problem = "differs from #0: \"quoted\"";
  const std::string text = gemm_survey_json({timed, wrong});
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  REQUIRE(parser.parse(text).get(root) == simdjson::SUCCESS);
  simdjson::dom::array array;
  REQUIRE(root.get_array().get(array) == simdjson::SUCCESS);
  REQUIRE(array.size() == 2);
  CHECK(double(array.at(0)["median_us"]) == 36.5);
  CHECK(std::string_view(array.at(0)["candidate"]) == "#0");
  CHECK(array.at(1)["median_us"].is_null());
  CHECK(bool(array.at(1)["wrong"]));
  CHECK(std::string_view(array.at(1)["problem"]) == "differs from #0: \"quoted\"");
  CHECK(gemm_survey_json({}) == "[\n]");
}

}  // namespace bert::bench
