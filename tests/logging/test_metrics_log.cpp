// Metrics JSONL: number formatting that round-trips, null for non-finite values, key order
// and escaping, append + flush behaviour; every line is parsed back with simdjson.
#include <catch2/catch.hpp>

#include <simdjson.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "core/file_io.h"
#include "logging/metrics_log.h"
#include "logging_test_util.h"

namespace bert {
namespace {

using test::LogTempDir;

TEST_CASE("format_json_number is the shortest text that reads back to the same double", "[logging][metrics]") {
  const std::vector<double> values = {0.1,    1.0 / 3.0, 3e-05, 1.2345678901234567, -2.5e-300,
                                      1e300,  123456789.0, 5e-324, std::numeric_limits<double>::max()};
  for (double value : values) {
    const std::string text = format_json_number(value);
    INFO(text);
    CHECK(std::strtod(text.c_str(), nullptr) == value);
  }
  CHECK(format_json_number(0.1) == "0.1");
  CHECK(format_json_number(3e-05) == "3e-05");
  CHECK(format_json_number(1.0) == "1.0");
  CHECK(format_json_number(-0.0) == "-0.0");
  CHECK(format_json_number(250.0) == "250.0");
  CHECK(format_json_number(std::nan("")) == "null");
  CHECK(format_json_number(HUGE_VAL) == "null");
  CHECK(format_json_number(-HUGE_VAL) == "null");
}

TEST_CASE("format_json_string escapes quotes, backslashes and control characters", "[logging][metrics]") {
  CHECK(format_json_string("eval/f1") == "\"eval/f1\"");
  CHECK(format_json_string("a\"b\\c\nd\x01") == "\"a\\\"b\\\\c\\nd\\u0001\"");
  CHECK(format_metrics_line(10, {{"epoch", 0.5}, {"loss", 1.23}}) ==
        "{\"step\": 10, \"epoch\": 0.5, \"loss\": 1.23}");
  // A count is an integer, as Python writes an int; the same value as a number is a float.
  CHECK(format_metrics_line(3, {{"num_input_tokens_seen", MetricValue::count(9007199254740993)},
                                {"tokens", 2048.0}}) ==
        "{\"step\": 3, \"num_input_tokens_seen\": 9007199254740993, \"tokens\": 2048.0}");
}

TEST_CASE("MetricsLog appends parseable lines in insertion order", "[logging][metrics]") {
  LogTempDir dir;
  const std::string path = dir.file("out/metrics.jsonl");
  const MetricValues first = {
      {"epoch", 0.5}, {"loss", 1.2345678901234567}, {"learning_rate", 3e-05}, {"grad_norm", std::nan("")}};
  {
    MetricsLog log(path);
    log.write(10, first);
    // Flushed per line: visible while the log is still open.
    CHECK(read_lines(path).size() == 1);
    log.write(20, {{"epoch", 1.0}, {"eval_exact_match", 80.9}, {"odd \"key\"", -HUGE_VAL}});
  }
  MetricsLog(path).write(30, {});  // reopening continues the file (resume)

  const std::vector<std::string> lines = read_lines(path);
  REQUIRE(lines.size() == 3);
  simdjson::dom::parser parser;
  {
    simdjson::padded_string json(lines[0]);
    simdjson::dom::object object = parser.parse(json).get_object().value();
    std::vector<std::string> keys;
    for (auto field : object) keys.emplace_back(field.key);
    CHECK(keys == std::vector<std::string>{"step", "epoch", "loss", "learning_rate", "grad_norm"});
    CHECK(int64_t(object["step"]) == 10);
    CHECK(double(object["epoch"]) == 0.5);
    CHECK(double(object["loss"]) == 1.2345678901234567);
    CHECK(double(object["learning_rate"]) == 3e-05);
    CHECK(object["grad_norm"].is_null());
  }
  {
    simdjson::padded_string json(lines[1]);
    simdjson::dom::object object = parser.parse(json).get_object().value();
    CHECK(object["epoch"].is_double());  // "1.0", not "1"
    CHECK(double(object["eval_exact_match"]) == 80.9);
    CHECK(object["odd \"key\""].is_null());
  }
  CHECK(lines[2] == "{\"step\": 30}");
}

TEST_CASE("MetricsLog rejects ambiguous keys and names the path", "[logging][metrics]") {
  LogTempDir dir;
  const std::string path = dir.file("metrics.jsonl");
  MetricsLog log(path);
  CHECK_THROWS_WITH(log.write(1, {{"loss", 1.0}, {"loss", 2.0}}), Catch::Contains(path) && Catch::Contains("loss"));
  CHECK_THROWS_WITH(log.write(1, {{"step", 1.0}}), Catch::Contains("step"));
  CHECK_THROWS_AS(log.write(1, {{"", 1.0}}), BertError);
  CHECK(read_lines(path).empty());  // nothing half-written

  write_file_atomic(dir.file("blocker"), "x");
  CHECK_THROWS_WITH(MetricsLog(dir.file("blocker/metrics.jsonl")), Catch::Contains(dir.file("blocker")));
}

}  // namespace
}  // namespace bert
