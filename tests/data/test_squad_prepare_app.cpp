// The prepare_squad app end to end: flags and exit codes, then the dev set, whose JSON Lines
// must equal the golden run_qa.py windows line by line (as parsed JSON) and whose binary
// cache must load back to the same windows.
#include <catch2/catch.hpp>

#include <simdjson.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <regex>
#include <string>

#include "data/squad.h"
#include "data/window_cache.h"
#include "core/file_io.h"
#include "tests/test_support.h"
#include "tokenizer/wordpiece.h"

namespace {

struct RunResult {
  int status = -1;
  std::string out, err;
};

using bert::test::ScratchDir;

std::string temp_dir() {
  static const ScratchDir dir("bert_test_prepare_app");
  return dir.path;
}

RunResult run_app(const std::string& args) {
  const std::string out = temp_dir() + "/stdout.txt", err = temp_dir() + "/stderr.txt";
  const std::string command = std::string(PREPARE_SQUAD_BIN) + " " + args + " >" + out + " 2>" + err;
  const int raw = std::system(command.c_str());
  RunResult result;
  result.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  result.out = bert::read_file(out);
  result.err = bert::read_file(err);
  return result;
}

// Structural equality of two parsed JSON values (numbers compared by kind and value).
bool same_json(simdjson::dom::element a, simdjson::dom::element b) {
  using T = simdjson::dom::element_type;
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case T::ARRAY: {
      simdjson::dom::array x = a.get_array(), y = b.get_array();
      if (x.size() != y.size()) return false;
      auto j = y.begin();
      for (simdjson::dom::element item : x)
        if (!same_json(item, *j++)) return false;
      return true;
    }
    case T::OBJECT: {
      simdjson::dom::object x = a.get_object(), y = b.get_object();
      if (x.size() != y.size()) return false;
      auto j = y.begin();
      for (auto field : x) {  // same keys in the same order
        if (field.key != j.key() || !same_json(field.value, j.value())) return false;
        ++j;
      }
      return true;
    }
    case T::INT64: return int64_t(a) == int64_t(b);
    case T::UINT64: return uint64_t(a) == uint64_t(b);
    case T::DOUBLE: return double(a) == double(b);
    case T::STRING: return std::string_view(a) == std::string_view(b);
    case T::BOOL: return bool(a) == bool(b);
    case T::NULL_VALUE: return true;
  }
  return false;
}

}  // namespace

TEST_CASE("same_json tells JSON values apart", "[apps][data]") {
  simdjson::dom::parser a, b;
  CHECK(same_json(a.parse(std::string("{\"x\": [1, null, [2, 3]]}")), b.parse(std::string("{\"x\": [1, null, [2, 3]]}"))));
  CHECK_FALSE(same_json(a.parse(std::string("[1, 2]")), b.parse(std::string("[1, 3]"))));
  CHECK_FALSE(same_json(a.parse(std::string("[1, 2]")), b.parse(std::string("[1, 2, 3]"))));
  CHECK_FALSE(same_json(a.parse(std::string("{\"x\": 1, \"y\": 2}")), b.parse(std::string("{\"y\": 2, \"x\": 1}"))));
  CHECK_FALSE(same_json(a.parse(std::string("[null]")), b.parse(std::string("[[0, 0]]"))));
}

TEST_CASE("prepare_squad --help lists the flags with defaults", "[apps][data]") {
  const RunResult result = run_app("--help");
  INFO(result.out << result.err);
  CHECK(result.status == 0);
  for (const char* flag : {"--vocab_file", "--input_file", "--output_file", "--cache_file",
                           "--do_lower_case", "--doc_stride"})
    CHECK(result.out.find(flag) != std::string::npos);
  CHECK(result.out.find("--max_seq_length INT") != std::string::npos);
  CHECK(result.out.find("(default: 384)") != std::string::npos);
  CHECK(result.out.find("(default: 128)") != std::string::npos);
}

TEST_CASE("prepare_squad reports bad command lines and bad files", "[apps][data][errors]") {
  RunResult result = run_app("--no_such_flag 3");
  CHECK(result.status == 2);
  CHECK(result.err.rfind("error: ", 0) == 0);
  CHECK(result.err.find("--no_such_flag") != std::string::npos);
  CHECK(result.err.find('\n') == result.err.size() - 1);  // one line

  result = run_app("--vocab_file v.txt --input_file in.json");
  CHECK(result.status == 2);
  CHECK(result.err.find("--output_file") != std::string::npos);

  const std::string missing = temp_dir() + "/missing.json";
  const std::string output = temp_dir() + "/never.jsonl";
  result = run_app("--vocab_file " + bert::test::fixture_path("squad_tiny.json") + " --input_file " +
                   missing + " --output_file " + output);
  INFO(result.err);
  CHECK(result.status == 1);
  CHECK(result.err.rfind("error: " + missing + ": cannot open", 0) == 0);
  CHECK_FALSE(bert::path_exists(output));
}

TEST_CASE("prepare_squad never replaces its input or something that is not a regular file",
          "[apps][data][errors]") {
  const std::string input = temp_dir() + "/input.json";
  const std::string original = bert::read_file(bert::test::fixture_path("squad_tiny.json"));
  bert::write_file_atomic(input, original);
  const std::string vocab = std::string(BERT_SOURCE_DIR) + "/data/samples/tiny-bert-uncased/vocab.txt";
  const std::string common = "--vocab_file " + vocab + " --input_file " + input + " --max_seq_length 64 --doc_stride 16";
  SECTION("--output_file or --cache_file naming the input") {
    for (const std::string& flag : {std::string("--output_file "), std::string("--cache_file ")}) {
      // The same file under another spelling of its path.
      const RunResult result = run_app(common + " " + flag + temp_dir() + "/./input.json");
      INFO(result.err);
      CHECK(result.status == 2);
      CHECK(result.err.rfind("error: " + flag, 0) == 0);
      CHECK(result.err.find("--input_file") != std::string::npos);
      CHECK(result.err.find("same file") != std::string::npos);
      CHECK(bert::read_file(input) == original);
    }
  }
  SECTION("an output that is a FIFO (a device file would be the same)") {
    const std::string fifo = temp_dir() + "/out.fifo";
    std::filesystem::remove(fifo);
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    const RunResult result = run_app(common + " --output_file " + fifo);
    INFO(result.err);
    CHECK(result.status == 1);
    CHECK(result.err.find("error: " + fifo + ": exists and is a FIFO") != std::string::npos);
    CHECK(std::filesystem::is_fifo(fifo));  // not replaced by a regular file
  }
  SECTION("bad window settings exit 2") {
    for (const std::string& flags : {std::string("--max_seq_length 3"), std::string("--doc_stride -1")}) {
      const std::string args = std::regex_replace(common, std::regex(flags.substr(0, flags.find(' ')) + " [^ ]+"), flags);
      const RunResult result = run_app(args + " --output_file " + temp_dir() + "/never.jsonl");
      INFO(result.err);
      CHECK(result.status == 2);
      CHECK(result.err.rfind("error: " + flags.substr(0, flags.find(' ')), 0) == 0);
      CHECK_FALSE(bert::path_exists(temp_dir() + "/never.jsonl"));
    }
  }
}

TEST_CASE("prepare_squad writes the golden windows for the dev set", "[apps][data][shared]") {
  if (!bert::test::have_shared_file("data/squad/dev-v1.1.json", "SQuAD dev set") ||
      !bert::test::have_shared_file("data/bert-base-uncased/vocab.txt", "bert-base-uncased vocab") ||
      !bert::test::have_shared_file("golden/features.jsonl.gz", "golden windows"))
    return;
  const std::string vocab = bert::test::shared_path("data/bert-base-uncased/vocab.txt");
  const std::string input = bert::test::shared_path("data/squad/dev-v1.1.json");
  const std::string jsonl = temp_dir() + "/dev.jsonl", cache = temp_dir() + "/dev.bin";
  const RunResult result = run_app("--vocab_file " + vocab + " --input_file " + input +
                                   " --max_seq_length 384 --doc_stride 128 --do_lower_case true" +
                                   " --output_file " + jsonl + " --cache_file " + cache);
  INFO(result.out << result.err);
  REQUIRE(result.status == 0);
  CHECK(result.out.find("10570 examples, 10784 windows (10612 labelled") != std::string::npos);

  const std::vector<std::string> ours = bert::read_lines(jsonl);
  const std::vector<std::string> golden = bert::read_lines(bert::test::shared_path("golden/features.jsonl.gz"));
  CHECK(ours.size() == golden.size());
  simdjson::dom::parser ours_parser, golden_parser;
  for (size_t i = 0; i < std::min(ours.size(), golden.size()); ++i) {
    if (!same_json(ours_parser.parse(ours[i]), golden_parser.parse(golden[i]))) {
      INFO("first differing line " << i + 1 << ":\nours:   " << ours[i].substr(0, 300)
                                   << "\ngolden: " << golden[i].substr(0, 300));
      FAIL_CHECK("JSON Lines differ from the golden windows");
      break;
    }
  }

  // The cache holds the same windows, under the key training will compute.
  const bert::SquadDataset data = bert::read_squad(input);
  const bert::WordPieceTokenizer tokenizer(vocab, true);
  const bert::WindowCacheKey key = bert::make_window_cache_key(data, tokenizer, true, {384, 128});
  const bert::WindowCache loaded = bert::load_window_cache(cache, key, data);
  REQUIRE(loaded.windows.size() == golden.size());
  size_t differing = 0;
  for (size_t i = 0; i < golden.size(); ++i) {
    simdjson::dom::element line = golden_parser.parse(golden[i]);
    const bert::Window& w = loaded.windows[i];
    std::vector<int32_t> ids;
    for (int64_t id : line["input_ids"].get_array()) ids.push_back(static_cast<int32_t>(id));
    const bool same = ids == w.input_ids && int64_t(line["start_position"]) == w.start_position &&
                      int64_t(line["end_position"]) == w.end_position &&
                      std::string_view(line["example_id"]) == loaded.example_ids[w.example_index];
    differing += !same;
  }
  CHECK(differing == 0);
  std::filesystem::remove(jsonl);
  std::filesystem::remove(cache);
}
