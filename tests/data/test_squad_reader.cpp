// read_squad: a small valid fixture and bad inputs generated from it (each must throw
// InputError naming the file, the position and what was expected); the dev set:
// test_squad_golden.cpp.
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <string>

#include "core/error.h"
#include "core/file_io.h"
#include "data/json_diagnose.h"
#include "data/prepared_squad.h"
#include "data/squad.h"
#include "tests/test_support.h"

namespace {

using bert::test::ScratchDir;

std::string temp_path(const std::string& name) {
  static const ScratchDir dir("bert_test_squad_reader");
  return dir.path + "/" + name;
}

std::string fixture_text() { return bert::read_file(bert::test::fixture_path("squad_tiny.json")); }

// Replaces the only occurrence of `from`; the test fails when it is missing or repeated.
std::string replace_once(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  REQUIRE(at != std::string::npos);
  REQUIRE(text.find(from, at + 1) == std::string::npos);
  return text.replace(at, from.size(), to);
}

// Writes text to a temp file, reads it, returns the InputError message (fails without one).
std::string input_error_of(const std::string& text, const std::string& name) {
  const std::string path = temp_path(name);
  bert::write_file_atomic(path, text);
  try {
    bert::read_squad(path);
  } catch (const bert::InputError& e) {
    std::remove(path.c_str());
    return e.what();
  }
  std::remove(path.c_str());
  FAIL("read_squad accepted " << name);
  return {};
}

void require_mentions(const std::string& message, std::initializer_list<std::string> parts) {
  INFO(message);
  for (const std::string& part : parts) {
    INFO("missing: " << part);
    CHECK(message.find(part) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("read_squad reads the tiny fixture", "[data][squad]") {
  const bert::SquadDataset data = bert::read_squad(bert::test::fixture_path("squad_tiny.json"));
  CHECK(data.version == "1.1");
  REQUIRE(data.examples.size() == 5);
  const bert::SquadExample& q1 = data.examples[1];
  CHECK(q1.id == "q1");
  CHECK(q1.question == "  What was the score?");  // kept as in the file
  CHECK(q1.article == 0);
  CHECK(q1.paragraph == 0);
  REQUIRE(q1.answers.size() == 2);
  CHECK(q1.answers[0].text == "24\u201310");
  // Code points, not bytes: "Zürich 🎉 hosted the 2016 final: the Broncos won " is 48.
  CHECK(q1.answers[0].start_char == 48);
  CHECK(data.examples[0].answers[0].start_char == 36);
  const bert::SquadExample& q3 = data.examples[3];
  CHECK(q3.is_impossible);
  CHECK(q3.answers.empty());
  CHECK(q3.paragraph == 1);
  CHECK_FALSE(data.examples[2].is_impossible);
  CHECK(data.examples[4].article == 1);
  CHECK(data.examples[4].context.rfind("\xC5\x8Csaka", 0) == 0);  // "Ōsaka"
}

TEST_CASE("read_squad rejects a missing file", "[data][squad][errors]") {
  const std::string path = temp_path("does_not_exist.json");
  try {
    bert::read_squad(path);
    FAIL("no error");
  } catch (const bert::InputError& e) {
    require_mentions(e.what(), {path, "cannot open"});
  }
}

TEST_CASE("read_squad refuses a directory, a FIFO and a device, naming what they are", "[data][squad][errors]") {
  const std::string dir = temp_path("a_directory");
  bert::make_directories(dir);
  try {
    bert::read_squad(dir);  // ftell would report about 2^63 bytes for it
    FAIL("no error");
  } catch (const bert::InputError& e) {
    require_mentions(e.what(), {dir, "is a directory, expected a regular file"});
  }
  try {
    bert::read_squad("/dev/zero");
    FAIL("no error");
  } catch (const bert::InputError& e) {
    require_mentions(e.what(), {"/dev/zero", "character device"});
  }
}

TEST_CASE("read_squad refuses answer_start near INT64_MAX in a non-ASCII context", "[data][squad][errors]") {
  // start + answer length overflowed int64 and passed the bounds check; the code-point index
  // was then read out of bounds. A start just below the context's end still passes.
  const std::string text = fixture_text();
  for (const char* start : {"9223372036854775807", "9223372036854775000", "9223372036854775806"}) {
    const std::string bad = replace_once(text, "\"answer_start\": 36", std::string("\"answer_start\": ") + start);
    require_mentions(input_error_of(bad, "int64_start.json"),
                     {"int64_start.json", "data[0].paragraphs[0].qas[0].answers[0].answer_start",
                      std::string("answer_start ") + start, "exceeds the context"});
  }
  const std::string too_large = replace_once(text, "\"answer_start\": 36", "\"answer_start\": 18446744073709551615");
  require_mentions(input_error_of(too_large, "uint64_start.json"),
                   {"answer_start 18446744073709551615", "exceeds the context's"});
}

TEST_CASE("read_squad names a UTF-8 byte-order mark", "[data][squad][errors]") {
  require_mentions(input_error_of("\xEF\xBB\xBF" + fixture_text(), "bom.json"), {"bom.json", "byte 0", "byte-order mark"});
}

TEST_CASE("read_squad reads JSON Lines after a byte-order mark, as datasets does",
          "[data][squad][rows]") {
  const std::string lines = bert::read_file(bert::test::fixture_path("squad_tiny_rows.jsonl"));
  const std::string path = temp_path("bom.jsonl");
  bert::write_file_atomic(path, "\xEF\xBB\xBF" + lines);
  const bert::SquadDataset with_bom = bert::read_squad(path);
  const bert::SquadDataset without =
      bert::read_squad(bert::test::fixture_path("squad_tiny_rows.jsonl"));
  REQUIRE(with_bom.examples.size() == without.examples.size());
  for (size_t i = 0; i < without.examples.size(); ++i) {
    CHECK(with_bom.examples[i].id == without.examples[i].id);
    CHECK(with_bom.examples[i].context == without.examples[i].context);
  }
  // A first line that is no JSON: its error, not the mark, is named.
  require_mentions(input_error_of("\xEF\xBB\xBF{oops\n" + lines, "bom_first.jsonl"),
                   {"bom_first.jsonl", "line 1", "malformed JSON"});
  // Positions still count from the file's first byte: line 1 is the BOM's.
  require_mentions(input_error_of("\xEF\xBB\xBF" + lines + "{oops\n", "bom_bad.jsonl"),
                   {"bom_bad.jsonl",
                    "line " + std::to_string(std::count(lines.begin(), lines.end(), '\n') + 1)});
}

TEST_CASE("read_squad names files of other kinds by their first bytes", "[data][squad][errors]") {
  require_mentions(
      input_error_of(std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10), "data.json.gz"),
      {"data.json.gz", "byte 0", "gzip-compressed", "gunzip"});
  require_mentions(input_error_of(std::string("BERTWIN\0\x01\x00\x00\x00", 12), "windows.bin"),
                   {"windows.bin", "byte 0", "window cache", "--train_cache_file"});
  // Parquet (the Hub's own format for SQuAD) and CSV: named, with the conversion to JSON Lines.
  require_mentions(
      input_error_of(std::string("PAR1\x15\x04\x15\x80\x00\x00\x00PAR1", 15),
                     "train-00000-of-00001.parquet"),
      {"train-00000-of-00001.parquet", "byte 0", "a Parquet file", "load_dataset('parquet'"});
  require_mentions(input_error_of("id,title,context,question,answers\n", "train.csv"),
                   {"train.csv", "a CSV file", "JSON Lines", "to_json"});
  require_mentions(input_error_of("id\ttitle\n", "train.tsv"), {"train.tsv", "a CSV file"});
  // A .parquet file cut short (no closing PAR1) is still named.
  require_mentions(input_error_of(std::string("PAR1\x15\x04\x15\x80", 8), "cut.parquet"),
                   {"cut.parquet", "a Parquet file"});
  // JSON after a byte-order mark in a .csv file: its own JSON error.
  CHECK_THAT(input_error_of("\xEF\xBB\xBF{\"data\": [}", "bom.csv"),
             !Catch::Contains("a CSV file"));
  // Text that merely starts with PAR1 is no Parquet file (which also ends with it).
  CHECK_THAT(input_error_of("PAR1 is the first of my notes", "notes.txt"),
             !Catch::Contains("Parquet"));
  // JSON named .csv: its own syntax error when malformed, read when well-formed.
  CHECK_THAT(input_error_of("{\"data\": [}", "broken.csv"),
             Catch::Contains("malformed JSON") && !Catch::Contains("a CSV file"));
  const std::string json_named_csv = temp_path("squad_as.csv");
  bert::write_file_atomic(json_named_csv, fixture_text());
  CHECK(bert::read_squad(json_named_csv).examples.size() ==
        bert::read_squad(bert::test::fixture_path("squad_tiny.json")).examples.size());
}

TEST_CASE("read_squad rejects malformed JSON with a byte offset", "[data][squad][errors]") {
  const std::string text = fixture_text();
  SECTION("truncated") {
    const std::string cut = text.substr(0, text.size() / 2);
    require_mentions(input_error_of(cut, "truncated.json"),
                     {"truncated.json", "malformed JSON", "byte " + std::to_string(cut.size())});
  }
  SECTION("missing comma") {
    const std::string bad = replace_once(text, "\"q0\",", "\"q0\"");
    const size_t at = bad.find("\"q0\"") + 4;
    const std::string message = input_error_of(bad, "comma.json");
    require_mentions(message, {"comma.json", "expected ',' or '}'"});
    // The reported byte is the first non-space byte after "q0".
    const size_t reported = bad.find_first_not_of(" \n", at);
    require_mentions(message, {"byte " + std::to_string(reported)});
  }
  SECTION("trailing garbage") {
    require_mentions(input_error_of(text + "x", "trailing.json"),
                     {"trailing.json", "end of input", "byte " + std::to_string(text.size())});
  }
}

TEST_CASE("read_squad rejects invalid UTF-8 with a byte offset", "[data][squad][errors]") {
  std::string text = fixture_text();
  const size_t at = text.find("hosted");
  text[at] = '\xFF';
  require_mentions(input_error_of(text, "garbled.json"),
                   {"garbled.json", "invalid UTF-8", "byte " + std::to_string(at)});
  // A truncated multi-byte sequence: "ü" is C3 BC; drop the continuation byte.
  std::string cut = fixture_text();
  const size_t u = cut.find("\xC3\xBC");
  cut.erase(u + 1, 1);
  require_mentions(input_error_of(cut, "cut_utf8.json"), {"invalid UTF-8", "byte " + std::to_string(u)});
}

TEST_CASE("read_squad rejects a wrong schema", "[data][squad][errors]") {
  const std::string text = fixture_text();
  const std::string q0 = "data[0].paragraphs[0].qas[0]";
  SECTION("top level not an object") {
    require_mentions(input_error_of("[1, 2]", "top.json"), {"top.json", "expected a JSON object"});
  }
  SECTION("data not an array") {
    const std::string bad = "{\"version\": \"1.1\", \"data\": {\"title\": \"x\"}}";
    require_mentions(input_error_of(bad, "data_object.json"),
                     {"data_object.json", "data", "expected an array of articles", "found an object"});
  }
  SECTION("data missing") {
    require_mentions(input_error_of("{\"version\": \"1.1\"}", "no_data.json"),
                     {"no_data.json", "missing field \"data\""});
  }
  SECTION("answer_start a string") {
    const std::string bad = replace_once(text, "\"answer_start\": 36", "\"answer_start\": \"36\"");
    require_mentions(input_error_of(bad, "start_string.json"),
                     {"start_string.json", q0 + ".answers[0].answer_start", "expected an integer",
                      "found a string"});
  }
  SECTION("answer_start not an integer") {
    const std::string bad = replace_once(text, "\"answer_start\": 36", "\"answer_start\": 36.5");
    require_mentions(input_error_of(bad, "start_float.json"),
                     {q0 + ".answers[0].answer_start", "found a non-integer number"});
  }
  SECTION("answer_start negative") {
    const std::string bad = replace_once(text, "\"answer_start\": 36", "\"answer_start\": -1");
    require_mentions(input_error_of(bad, "start_negative.json"),
                     {q0 + ".answers[0].answer_start", "non-negative", "-1"});
  }
  SECTION("answer_start missing, and the text empty: the start is named first") {
    const std::string bad = replace_once(
        text, "\"text\": \"Broncos\",\n         \"answer_start\": 36", "\"text\": \"\"");
    require_mentions(input_error_of(bad, "start_missing.json"),
                     {q0 + ".answers[0]", "missing field \"answer_start\""});
  }
  SECTION("answer_start out of range") {
    const std::string bad = replace_once(text, "\"answer_start\": 36", "\"answer_start\": 72");
    require_mentions(input_error_of(bad, "start_range.json"),
                     {q0 + ".answers[0].answer_start", "exceeds the context's 75 code points"});
  }
  SECTION("answer text mismatch") {
    const std::string bad = replace_once(text, "\"answer_start\": 36", "\"answer_start\": 37");
    require_mentions(input_error_of(bad, "mismatch.json"),
                     {"mismatch.json", q0 + ".answers[0].text", "expected the answer text to equal",
                      "\"roncos \""});
  }
  SECTION("empty context") {
    const std::string bad = replace_once(
        text, "\"Ōsaka Castle (大阪城) was built in 1583 by Toyotomi Hideyoshi.\"", "\"\"");
    require_mentions(input_error_of(bad, "empty_context.json"),
                     {"empty_context.json", "data[1].paragraphs[0].context", "non-empty context"});
  }
  SECTION("missing question") {
    const std::string bad = replace_once(text, "\"question\": \"Who won the final?\",", "");
    require_mentions(input_error_of(bad, "no_question.json"),
                     {q0, "missing field \"question\"", "expected a string"});
  }
  SECTION("duplicate id") {
    const std::string bad = replace_once(text, "\"id\": \"q4\"", "\"id\": \"q2\"");
    require_mentions(input_error_of(bad, "duplicate.json"),
                     {"data[1].paragraphs[0].qas[0].id", "duplicate question id \"q2\"",
                      "data[0].paragraphs[1].qas[0]"});
  }
  SECTION("title not a string") {
    const std::string bad = replace_once(text, "\"title\": \"Castle\"", "\"title\": 7");
    require_mentions(input_error_of(bad, "title.json"), {"data[1].title", "expected a string"});
  }
  SECTION("paragraph not an object") {
    const std::string bad = "{\"data\": [{\"title\": \"t\", \"paragraphs\": [3]}]}";
    require_mentions(input_error_of(bad, "paragraph.json"),
                     {"data[0].paragraphs[0]", "expected a paragraph object", "found an integer"});
  }
  SECTION("is_impossible not a boolean") {
    const std::string bad = replace_once(text, "\"is_impossible\": true", "\"is_impossible\": 1");
    require_mentions(input_error_of(bad, "impossible.json"),
                     {"data[0].paragraphs[1].qas[1].is_impossible", "expected a boolean"});
  }
  SECTION("empty answer text") {
    const std::string bad = replace_once(text, "\"text\": \"1583\"", "\"text\": \"\"");
    require_mentions(input_error_of(bad, "empty_answer.json"),
                     {"data[1].paragraphs[0].qas[0].answers[0].text", "non-empty answer text"});
  }
  SECTION("no questions at all") {
    require_mentions(input_error_of("{\"data\": []}", "empty.json"), {"expected at least one question"});
  }
}

TEST_CASE("a one-line SQuAD file followed by more text is that file with trailing garbage",
          "[data][squad][errors]") {
  // Its first line parses as an object, yet it is no JSON Lines row: the error is the garbage's.
  std::string one_line = fixture_text();
  one_line.erase(std::remove(one_line.begin(), one_line.end(), '\n'), one_line.end());
  require_mentions(input_error_of(one_line + "\n}\n", "trailing.json"),
                   {"trailing.json", "line 2, column 1", "end of input after the JSON document"});
}

TEST_CASE("read_squad refuses a key given twice, naming it", "[data][squad][errors]") {
  // Python's json keeps the last value, a first-match reader the first: the official script
  // would score other questions than this engine reads.
  const std::string text = fixture_text();
  require_mentions(
      input_error_of(replace_once(text, "\"version\"", "\"data\": [], \"version\""), "root.json"),
      {"root.json", "data", "duplicate key"});
  const std::string row = R"({"id": "a", "context": "The cat sat.", "question": "Who sat?", )"
                          R"("answers": {"text": ["cat"], "answer_start": [4], "text": ["sat"]}})";
  require_mentions(input_error_of(row + "\n", "row.jsonl"),
                   {"row.jsonl", "line 1", "text", "duplicate key"});
  require_mentions(
      input_error_of(replace_once(row, R"("id": "a", )", R"("id": "a", "id": "b", )") + "\n",
                     "id.jsonl"),
      {"line 1: id", "duplicate key"});
}

TEST_CASE("every truncation of a valid file is an InputError with a byte offset",
          "[data][squad][errors]") {
  const std::string text = fixture_text();
  const std::string path = temp_path("cut.json");
  size_t failures = 0;
  // The last bytes are "}\n": cutting the newline leaves valid JSON.
  for (size_t size = 0; size + 1 < text.size(); size += 7) {
    bert::write_file_atomic(path, text.substr(0, size));
    try {
      bert::read_squad(path);
      ++failures;
    } catch (const bert::InputError& e) {
      const std::string message = e.what();
      if (message.find("cut.json") == std::string::npos || message.find("byte ") == std::string::npos) {
        INFO(message);
        ++failures;
      }
    }
  }
  CHECK(failures == 0);
}

TEST_CASE("JSON diagnostics locate the first problem", "[data][json]") {
  CHECK_FALSE(bert::find_json_syntax_error("{\"a\": [1, -2.5e3, true, null, \"x\\u00e9\\ud83c\\udf89\"]}"));
  CHECK(bert::find_json_syntax_error("{\"a\": 01}")->offset == 7);
  CHECK(bert::find_json_syntax_error("[1,]")->offset == 3);
  CHECK(bert::find_json_syntax_error("\"\\ud800x\"")->offset == 1);
  CHECK(bert::find_json_syntax_error("")->offset == 0);
  CHECK(bert::find_json_syntax_error(std::string(100000, '['))->offset == 100000);  // no recursion
  // Valid JSON beyond what the parser holds (Python's json takes it): where, and what.
  CHECK_FALSE(bert::find_json_syntax_error(
      "[18446744073709551615, -9223372036854775808, 1.7e308, 2.5e-400]"));
  const auto big = bert::find_json_syntax_error("{\"x\": 18446744073709551616}");
  REQUIRE(big);
  CHECK(big->offset == 6);
  CHECK_THAT(big->expected,
             Catch::Contains("18446744073709551616") && Catch::Contains("beyond 64 bits"));
  CHECK(bert::find_json_syntax_error("[-9223372036854775809]")->offset == 1);
  const auto huge = bert::find_json_syntax_error("[1, 1e400]");
  REQUIRE(huge);
  CHECK(huge->offset == 4);
  CHECK_THAT(huge->expected,
             Catch::Contains("1e400") && Catch::Contains("beyond a double's range"));
  CHECK_FALSE(bert::find_invalid_utf8("caf\xC3\xA9 \xF0\x9F\x8E\x89"));
  CHECK(*bert::find_invalid_utf8("ab\xC0\xAF") == 2);      // overlong '/'
  CHECK(*bert::find_invalid_utf8("a\xED\xA0\x80") == 1);   // surrogate
  CHECK(*bert::find_invalid_utf8("a\xF4\x90\x80\x80") == 1);  // above U+10FFFF
  CHECK(*bert::find_invalid_utf8("ab\xE2\x82") == 2);      // truncated at the end
  CHECK(bert::describe_json_position("ab\ncd", 4) == "byte 4 (line 2, column 2)");
}

// ---- Hugging Face datasets' flat rows (run_qa.py's --train_file) and JSON Lines -------------

TEST_CASE("read_squad reads Hugging Face datasets rows, in run_qa.py's JSON and as JSON Lines, as the official file",
          "[data][squad][rows]") {
  const bert::SquadDataset official = bert::read_squad(bert::test::fixture_path("squad_tiny.json"));
  for (const char* name : {"squad_tiny_rows.json", "squad_tiny_rows.jsonl"}) {
    INFO(name);
    const bert::SquadDataset rows = bert::read_squad(bert::test::fixture_path(name));
    REQUIRE(rows.examples.size() == official.examples.size());
    for (size_t i = 0; i < rows.examples.size(); ++i) {
      const bert::SquadExample& a = rows.examples[i];
      const bert::SquadExample& b = official.examples[i];
      INFO(a.id);
      CHECK(a.id == b.id);
      CHECK(a.question == b.question);
      CHECK(a.context == b.context);
      REQUIRE(a.answers.size() == b.answers.size());
      for (size_t j = 0; j < a.answers.size(); ++j) {
        CHECK(a.answers[j].text == b.answers[j].text);
        CHECK(a.answers[j].start_char == b.answers[j].start_char);
      }
      CHECK(a.is_impossible == b.is_impossible);  // q3: no answers
      CHECK(a.article == b.article);              // counted as the title changes
      CHECK(a.paragraph == b.paragraph);          // and as the context changes
      CHECK(a.row == int(i));
      CHECK(a.json_line == (std::string(name) == "squad_tiny_rows.jsonl"));
    }
  }
}

TEST_CASE("read_squad names the row or line of a bad Hugging Face datasets row", "[data][squad][rows][errors]") {
  const std::string good =
      R"({"id": "a", "title": "T", "context": "The cat sat.", "question": "Who sat?", )"
      R"("answers": {"text": ["cat"], "answer_start": [4]}})";
  auto in_data = [](const std::string& row) { return "{\"data\": [" + row + "]}"; };
  require_mentions(input_error_of(in_data(replace_once(good, R"("answer_start": [4])", R"("answer_start": [4, 5])")),
                                  "lengths.json"),
                   {"lengths.json", "data[0].answers", "as many answer_start values (2) as texts (1)"});
  require_mentions(input_error_of(in_data(replace_once(good, R"("answer_start": [4])", R"("answer_start": [5])")),
                                  "mismatch.json"),
                   {"data[0].answers.text[0]", "at answer_start 5", "\"cat\""});
  require_mentions(input_error_of(in_data(replace_once(good, R"([4])", R"(["4"])")), "start_type.json"),
                   {"data[0].answers.answer_start[0]", "expected an integer", "found a string"});
  require_mentions(input_error_of(in_data(replace_once(good, R"("text": ["cat"])", R"("text": [3])")), "text_type.json"),
                   {"data[0].answers.text[0]", "expected a string, found an integer"});
  require_mentions(input_error_of(in_data(replace_once(good, R"("question": "Who sat?", )", "")), "question.json"),
                   {"data[0]", "missing field \"question\""});
  require_mentions(input_error_of(in_data(good + ", " + replace_once(good, R"("context": "The cat sat.")", R"("paragraphs": [])")),
                                  "mixed.json"),
                   {"data[1]", "missing field \"context\""});

  // JSON Lines: the line, counted as an editor counts them (blank lines and CRLF included).
  const std::string second = replace_once(good, R"("id": "a")", R"("id": "b")");
  require_mentions(input_error_of(good + "\n\n" + second + "\n" + replace_once(second, "\"b\"", "\"c\"").substr(0, 40) + "\n",
                                  "cut.jsonl"),
                   {"cut.jsonl", "line 4", "malformed JSON", "one JSON object per line"});
  require_mentions(input_error_of(good + "\r\n" + good + "\r\n", "duplicate.jsonl"),
                   {"line 2: id", "duplicate question id \"a\"", "first used at line 1"});
  require_mentions(input_error_of(good + "\n" + replace_once(second, R"("title": "T", )", R"("title": 7, )") + "\n",
                                  "title.jsonl"),
                   {"line 2: title", "expected a string, found an integer"});
  const std::string path = temp_path("ok.jsonl");
  bert::write_file_atomic(path, "\n" + good + "\r\n\r\n" + second);  // no final newline
  const bert::SquadDataset lines = bert::read_squad(path);
  REQUIRE(lines.examples.size() == 2);
  CHECK(lines.examples[1].id == "b");
  CHECK(lines.examples[1].row == 3);  // line 4
  bert::write_file_atomic(path, good + "\n");  // one line: a single JSON object
  CHECK(bert::read_squad(path).examples.size() == 1);
  std::remove(path.c_str());
}

TEST_CASE(
    "rows run_qa.py reads are read alike: integer ids, null titles, empty questions, 12.0 starts",
    "[data][squad][rows]") {
  const std::string row = R"({"id": 7, "title": null, "context": "The cat sat.", "question": "", )"
                          R"("answers": {"text": ["cat"], "answer_start": [4.0]}})";
  const std::string path = temp_path("lenient.json");
  bert::write_file_atomic(path, "{\"data\": [" + row + ", " + replace_once(row, "7", "-8") + "]}");
  const bert::SquadDataset rows = bert::read_squad(path);
  REQUIRE(rows.examples.size() == 2);
  CHECK(rows.examples[0].id == "7");  // str(id), as run_qa.py keys its predictions
  CHECK(rows.examples[1].id == "-8");
  CHECK(rows.examples[0].question.empty());  // [CLS] [SEP] context [SEP], as run_qa.py has it
  CHECK(rows.examples[0].answers[0].start_char == 4);
  CHECK(rows.examples[0].article == rows.examples[1].article);  // both untitled: one article
  std::remove(path.c_str());

  // Still refused: an id repeated as a number and a string, a fractional or negative start.
  require_mentions(
      input_error_of("{\"data\": [" + row + ", " + replace_once(row, "7", "\"7\"") + "]}",
                     "both.json"),
      {"data[1].id", "duplicate question id \"7\""});
  require_mentions(
      input_error_of("{\"data\": [" + replace_once(row, "4.0", "4.5") + "]}", "half.json"),
      {"data[0].answers.answer_start[0]", "found a non-integer number"});
  require_mentions(
      input_error_of("{\"data\": [" + replace_once(row, "4.0", "-4.0") + "]}", "negative.json"),
      {"data[0].answers.answer_start[0]", "found a non-integer number"});
  require_mentions(
      input_error_of("{\"data\": [" + replace_once(row, "7", "7.5") + "]}", "float_id.json"),
      {"data[0].id", "expected a string, found a non-integer number"});
  // The answers object's own fields are named under it.
  require_mentions(
      input_error_of("{\"data\": [" + replace_once(row, R"(["cat"])", R"("cat")") + "]}",
                     "text.json"),
      {"data[0].answers.text: expected an array of answer texts, found a string"});
  require_mentions(
      input_error_of("{\"data\": [" + replace_once(row, R"("text": ["cat"], )", "") + "]}",
                     "no_text.json"),
      {"data[0].answers: missing field \"text\""});
  require_mentions(
      input_error_of(replace_once(row, "[4.0]", "4") + "\n", "start.jsonl"),
      {"line 1: answers.answer_start: expected an array of answer starts, found an integer"});
}

TEST_CASE("datasets rows without answers: v2.0's unanswerable questions, or an unlabelled split",
          "[data][squad][rows]") {
  const std::string answered = R"({"id": "a", "context": "The cat sat.", "question": "Who sat?", )"
                               R"("answers": {"text": ["cat"], "answer_start": [4]}})";
  const std::string unanswered =
      R"({"id": "b", "context": "The cat sat.", "question": "Where?", "answers": {"text": [], "answer_start": []}})";
  const std::string path = temp_path("rows.jsonl");
  // Some questions without answers: SQuAD v2.0 rows, refused without the flag, naming it.
  bert::write_file_atomic(path, answered + "\n" + unanswered + "\n");
  const bert::SquadDataset mixed = bert::read_squad(path);
  CHECK(mixed.examples[1].is_impossible);
  try {
    bert::check_squad_version(mixed, path, false);
    FAIL("v2.0 rows accepted without --version_2_with_negative");
  } catch (const bert::InputError& e) {
    require_mentions(e.what(), {"rows.jsonl", "answers", "1 questions without answers",
                                "--version_2_with_negative"});
  }
  CHECK_NOTHROW(bert::check_squad_version(mixed, path, true));
  // No question with answers: a split without labels (datasets' test splits), not v2.0 data:
  // predicted as a test split; neither trained on nor scored (it was trained at [CLS]).
  bert::write_file_atomic(path,
                          unanswered + "\n" + replace_once(unanswered, "\"b\"", "\"c\"") + "\n");
  const bert::SquadDataset unlabelled = bert::read_squad(path);
  CHECK_NOTHROW(bert::check_squad_version(unlabelled, path, false, /*answers_required=*/false));
  CHECK_THROWS_WITH(
      bert::check_squad_version(unlabelled, path, false),
      Catch::Contains("none of the 2 questions has answers") && Catch::Contains("--test_file"));
  // Some without answers: predicted too, but version v2.0 or is_impossible still needs the flag.
  bert::write_file_atomic(path, answered + "\n" + unanswered + "\n");
  CHECK_NOTHROW(
      bert::check_squad_version(bert::read_squad(path), path, false, /*answers_required=*/false));
  std::remove(path.c_str());
}

TEST_CASE("the official layout's questions without answers are judged as rows' are",
          "[data][squad]") {
  const auto file = [](const std::string& version, const std::string& second) {
    return R"({"version": ")" + version +
           R"(", "data": [{"title": "T", "paragraphs": [{"context": "The cat sat.", )"
           R"("qas": [{"id": "a", "question": "Who sat?", "answers": [{"text": "cat", "answer_start": 4}]}, )" +
           second + "]}]}]}";
  };
  const std::string path = temp_path("official.json");
  // No is_impossible field and a "1.1" version, yet a question without answers: v2.0 content,
  // refused without the flag as the same rows are (it was trained at [CLS] silently).
  bert::write_file_atomic(path, file("1.1", R"({"id": "b", "question": "Where?", "answers": []})"));
  const bert::SquadDataset unmarked = bert::read_squad(path);
  try {
    bert::check_squad_version(unmarked, path, false);
    FAIL("a v1.1 file with an unanswered question accepted without --version_2_with_negative");
  } catch (const bert::InputError& e) {
    require_mentions(e.what(), {"official.json", "answers", "1 questions without answers",
                                "--version_2_with_negative"});
  }
  CHECK_NOTHROW(bert::check_squad_version(unmarked, path, true));
  CHECK_NOTHROW(bert::check_squad_version(unmarked, path, false, /*answers_required=*/false));
  // A v2.0 test file (marked is_impossible) is refused without the flag, test split or not: the
  // null answer would never compete.
  bert::write_file_atomic(
      path,
      file("v2.0", R"({"id": "b", "question": "Where?", "answers": [], "is_impossible": true})"));
  CHECK_THROWS_WITH(
      bert::check_squad_version(bert::read_squad(path), path, false, /*answers_required=*/false),
      Catch::Contains("is_impossible") && Catch::Contains("--version_2_with_negative"));
  // Marked is_impossible yet listing answers: refused with the flag too, and by the check alone
  // (prepare_squad, eval_squad's metric mode).
  bert::write_file_atomic(
      path, file("v2.0", R"({"id": "b", "question": "Where?", "is_impossible": true, )"
                         R"("answers": [{"text": "cat", "answer_start": 4}]})"));
  const bert::SquadDataset contradictory = bert::read_squad(path);
  for (const bool v2 : {false, true}) {
    try {
      bert::check_squad_version(contradictory, path, v2);
      FAIL("is_impossible with answers accepted");
    } catch (const bert::InputError& e) {
      require_mentions(e.what(), {"official.json", "question b",
                                  "is_impossible is true but answers is not empty"});
    }
  }
  CHECK_THROWS_AS(bert::check_impossible_questions(contradictory, path), bert::InputError);
  std::remove(path.c_str());
}
