// The prepare_squad app end to end: flags, exit codes, and outputs it must never replace (the
// dev set against the golden run_qa.py windows: test_squad_prepare_app_golden.cpp).
#include <catch2/catch.hpp>

#include <simdjson.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <regex>
#include <string>

#include "core/file_io.h"
#include "tests/data/prepare_squad_app_util.h"
#include "tests/test_support.h"

using namespace bert::test;

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

  // An unanswerable question that lists answers: refused as train_squad refuses it (its window
  // would be labelled with that answer).
  const std::string contradictory = temp_dir() + "/contradictory.json";
  bert::write_file_atomic(contradictory,
                          R"({"version": "v2.0", "data": [{"title": "T", "paragraphs": [
    {"context": "The cat sat.", "qas": [{"id": "q1", "question": "Who sat?", "is_impossible": true,
     "answers": [{"text": "cat", "answer_start": 4}]}]}]}]})");
  result = run_app("--vocab_file " + bert::test::fixture_path("squad_tiny.json") +
                   " --input_file " + contradictory + " --output_file " + output);
  INFO(result.err);
  CHECK(result.status == 1);
  CHECK_THAT(result.err,
             Catch::Contains("question q1: is_impossible is true but answers is not empty"));
  CHECK_FALSE(bert::path_exists(output));

  // Started as several ranks by an MPI launcher: every rank would write the same files.
  {
    const ScopedEnv ranks("OMPI_COMM_WORLD_SIZE", "2");
    result =
        run_app("--vocab_file " + bert::test::fixture_path("squad_tiny.json") + " --input_file " +
                bert::test::fixture_path("squad_tiny.json") + " --output_file " + output);
    INFO(result.err);
    CHECK(result.status == 2);
    CHECK_THAT(result.err,
               Catch::Contains("prepare_squad runs as one process, but an MPI launcher started 2 "
                               "(mpirun -np 2)"));
    CHECK_FALSE(bert::path_exists(output));
  }
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
  SECTION("the two outputs through a link that does not lead anywhere yet") {
    const std::string jsonl = temp_dir() + "/w5.jsonl", link = temp_dir() + "/w5link";
    std::filesystem::remove(jsonl);
    std::filesystem::remove(link);
    std::filesystem::create_symlink("w5.jsonl", link);
    const RunResult result = run_app(common + " --output_file " + jsonl + " --cache_file " + link);
    INFO(result.err);
    CHECK(result.status == 2);
    CHECK(result.err.find("same file") != std::string::npos);
    CHECK_FALSE(bert::path_exists(jsonl));
  }
  SECTION("a cache path refused or unwritable leaves the JSON Lines output as it was") {
    const std::string jsonl = temp_dir() + "/kept.jsonl";
    bert::write_file_atomic(jsonl, "old\n");
    const std::string notes = temp_dir() + "/notes.txt", folder = temp_dir() + "/a_folder";
    bert::write_file_atomic(notes, "my notes");
    std::filesystem::create_directories(folder);
    for (const std::string& cache : {notes, folder, temp_dir() + "/missing/dir/c.bin"}) {
      const RunResult result =
          run_app(common + " --output_file " + jsonl + " --cache_file " + cache);
      INFO(cache << ": " << result.err);
      CHECK(result.status == 1);
      CHECK(bert::read_file(jsonl) == "old\n");
    }
    CHECK(bert::read_file(notes) == "my notes");
    for (const auto& entry : std::filesystem::directory_iterator(temp_dir()))
      CHECK(entry.path().filename().string().find(".tmp.") == std::string::npos);
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
