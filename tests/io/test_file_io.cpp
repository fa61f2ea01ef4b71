// core/file_io: inputs must be regular files (a directory, a FIFO, a device, a dangling
// or looping link are refused at once, naming what the path is), outputs never replace
// something that is not a regular file, staged files appear together or not at all; and what
// the readers built on it do with such paths (safetensors, config.json, model directories).
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "core/file_io.h"
#include "core/temporaries.h"
#include "io/bert_config.h"
#include "io/model_dir.h"
#include "io/param_specs.h"
#include "io/safetensors.h"
#include "tests/io/io_test_util.h"

namespace bert {
namespace {

namespace fs = std::filesystem;
using test::contains;
using test::input_error_of;
using test::TempDir;

TEST_CASE("inputs that are not regular files are refused, saying what they are", "[io][file_io]") {
  TempDir dir;
  std::string message = input_error_of([&] { read_file(dir.path()); });
  CHECK(contains(message, dir.path() + ": is a directory, expected a regular file"));

  const std::string fifo = dir.file("pipe");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const auto started = std::chrono::steady_clock::now();
  message = input_error_of([&] { read_file(fifo); });  // no writer: must not block
  CHECK(contains(message, fifo + ": is a FIFO"));
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(10));

  message = input_error_of([&] { read_file("/dev/zero"); });  // would grow without limit
  CHECK(contains(message, "/dev/zero: is a character device"));
  message = input_error_of([&] { read_lines(dir.path()); });
  CHECK(contains(message, "is a directory"));
  message = input_error_of([&] { check_input_file(fifo); });
  CHECK(contains(message, "FIFO"));

  const std::string dangling = dir.file("dangling"), looping = dir.file("looping");
  fs::create_symlink(dir.file("absent"), dangling);
  fs::create_symlink(looping, looping);
  message = input_error_of([&] { read_file(dangling); });
  CHECK(contains(message, dangling + ": cannot open"));
  CHECK(contains(message, "symbolic link whose target does not exist"));
  message = input_error_of([&] { read_file(looping); });
  CHECK(contains(message, "symbolic link that loops"));
  // Such links are there: callers that ask before reading must not take them as absent.
  CHECK(path_exists(dangling));
  CHECK(path_exists(looping));
  CHECK_FALSE(path_exists(dir.file("absent")));
}

TEST_CASE("InputFile reads whole files and pieces, and bounds the size", "[io][file_io]") {
  TempDir dir;
  write_file_atomic(dir.file("a"), "0123456789");
  CHECK(read_file(dir.file("a")) == "0123456789");
  const InputFile file = InputFile::open(dir.file("a"));
  CHECK(file.size() == 10);
  std::string piece(4, '\0');
  file.read_range(3, piece.data(), piece.size());
  CHECK(piece == "3456");
  CHECK_THROWS_WITH(file.read_range(8, piece.data(), piece.size()), Catch::Contains("ended after 10 of 12 bytes"));
  const std::string message = input_error_of([&] { InputFile::open(dir.file("a"), 9); });
  CHECK(contains(message, "is 10 bytes, more than the 9 bytes"));
  CHECK(physical_memory_bytes() > (uint64_t(1) << 20));
  CHECK(format_bytes(1536) == "1.5 KiB");
  CHECK(format_bytes(3.0 * (uint64_t(1) << 40)) == "3.0 TiB");
}

TEST_CASE("outputs never replace a directory, a FIFO or a device", "[io][file_io]") {
  TempDir dir;
  const std::string fifo = dir.file("pipe");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  std::string message = input_error_of([&] { write_file_atomic(fifo, "data"); });
  CHECK(contains(message, fifo + ": exists and is a FIFO"));
  struct stat st {};
  REQUIRE(::lstat(fifo.c_str(), &st) == 0);
  CHECK(S_ISFIFO(st.st_mode));  // still the FIFO, not a regular file renamed over it
  make_directories(dir.file("sub"));
  message = input_error_of([&] { write_file_atomic(dir.file("sub"), "data"); });
  CHECK(contains(message, "exists and is a directory"));
  message = input_error_of([&] { write_safetensors(fifo, {}); });
  CHECK(contains(message, "is a FIFO"));
  CHECK(fs::directory_iterator(dir.path()) != fs::directory_iterator());
  for (const auto& entry : fs::directory_iterator(dir.path()))
    CHECK(entry.path().filename().string().find(".tmp.") == std::string::npos);
  // A regular file is replaced as before.
  write_file_atomic(dir.file("plain"), "old");
  write_file_atomic(dir.file("plain"), "new");
  CHECK(read_file(dir.file("plain")) == "new");
}

TEST_CASE("check_writable_directory names the directory, not its probe", "[io][file_io]") {
  TempDir dir;
  CHECK_NOTHROW(check_writable_directory(dir.path()));
  CHECK_FALSE(fs::exists(dir.file(".write_test")));
  const std::string missing = dir.file("missing");  // a directory that cannot take files
  const std::string message = input_error_of([&] { check_writable_directory(missing); });
  CHECK(contains(message, missing + ": cannot write files into this directory"));
  CHECK_FALSE(contains(message, ".write_test"));
}

TEST_CASE("staged files appear together on commit, or not at all", "[io][file_io]") {
  TempDir dir;
  {
    StagedFiles staged;
    write_file_atomic(staged.staged_path(dir.file("a")), "a");
    write_file_atomic(staged.staged_path(dir.file("b")), "b");
    // Not committed (an error before commit): nothing under a final name, no temporaries.
  }
  CHECK(fs::directory_iterator(dir.path()) == fs::directory_iterator());
  StagedFiles staged;
  write_file_atomic(staged.staged_path(dir.file("a")), "a");
  write_file_atomic(staged.staged_path(dir.file("b")), "b");
  CHECK_FALSE(path_exists(dir.file("a")));
  staged.commit();
  CHECK(read_file(dir.file("a")) == "a");
  CHECK(read_file(dir.file("b")) == "b");
}

TEST_CASE("a write clears the temporaries of the same file that killed writers left",
          "[io][file_io]") {
  TempDir dir;
  long dead = 4194000;  // a pid that no process has
  while (::kill(static_cast<pid_t>(dead), 0) == 0 || errno != ESRCH) ++dead;
  const std::string gone = std::to_string(dead), live = std::to_string(::getppid());
  const std::string target = dir.file("predictions.json");
  // What a SIGKILL between writing and renaming leaves (made by hand: a write would clear them).
  for (const std::string& name :
       {target + ".tmp." + gone, target + ".tmp." + live, dir.file("nbest.json.tmp." + gone),
        target + ".tmp." + gone + ".tmp." + gone, target + ".tmp." + live + ".tmp." + live,
        target + ".tmp.x" + gone, target + ".tmp." + gone + ".old"}) {
    std::ofstream(name) << "partial";
  }
  write_file_atomic(target, "{}");
  CHECK(read_file(target) == "{}");
  // Only the dead writer's temporaries of this very file (also a staged file's own, by its last
  // pid): a live process may still rename its own, another file's is cleared by that file's next
  // write, other names are not ours.
  CHECK_FALSE(path_exists(target + ".tmp." + gone));
  CHECK_FALSE(path_exists(target + ".tmp." + gone + ".tmp." + gone));
  CHECK(path_exists(target + ".tmp." + live));
  CHECK(path_exists(target + ".tmp." + live + ".tmp." + live));
  CHECK(path_exists(dir.file("nbest.json.tmp." + gone)));
  CHECK(path_exists(target + ".tmp.x" + gone));
  CHECK(path_exists(target + ".tmp." + gone + ".old"));
  StagedFiles staged;
  write_file_atomic(staged.staged_path(dir.file("nbest.json")), "[]");
  CHECK_FALSE(path_exists(dir.file("nbest.json.tmp." + gone)));
  CHECK(remove_orphaned_temporaries(target) == 0);
  CHECK(process_alive(::getpid()));
  CHECK_FALSE(process_alive(dead));
}

TEST_CASE("safetensors and model directories refuse what is not a regular file", "[io][file_io]") {
  TempDir dir;
  std::string message = input_error_of([&] { SafetensorsFile::open(dir.path()); });
  CHECK(contains(message, dir.path() + ": is a directory"));

  BertConfig config;
  config.vocab_size = 50;
  config.hidden_size = 8;
  config.num_hidden_layers = 1;
  config.num_attention_heads = 2;
  config.intermediate_size = 12;
  config.max_position_embeddings = 16;
  write_file_atomic(dir.file("config.json"), bert_config_to_json(config));
  std::string vocab;
  for (int i = 0; i < 50; ++i) vocab += "[tok" + std::to_string(i) + "]\n";
  write_file_atomic(dir.file("vocab.txt"), vocab);
  CHECK(load_model_dir(dir.path(), 1).random_init);  // no weights at all: said so, as before

  // A link where the weights should be: an error naming it, never a random initialisation.
  fs::create_symlink(dir.file("moved-away.safetensors"), dir.file("model.safetensors"));
  message = input_error_of([&] { load_model_dir(dir.path(), 1); });
  CHECK(contains(message, dir.file("model.safetensors") + ": cannot open"));
  CHECK(contains(message, "does not exist"));
  fs::remove(dir.file("model.safetensors"));
  fs::create_symlink(dir.file("model.safetensors"), dir.file("model.safetensors"));
  message = input_error_of([&] { load_model_dir(dir.path(), 1); });
  CHECK(contains(message, "loops"));

  fs::remove(dir.file("config.json"));
  fs::create_symlink("/dev/zero", dir.file("config.json"));
  message = input_error_of([&] { load_model_dir(dir.path(), 1); });
  CHECK(contains(message, dir.file("config.json") + ": is a character device"));
}

// The switches read from the environment (BERT_CUDA_COMPUTE, BERT_ATTENTION_KERNEL,
// BERT_PROGRAMMATIC_LAUNCH) go through environment_choice: unset or empty is the first choice,
// a listed value its position, anything else an InputError naming the variable and the choices.
TEST_CASE("environment_choice: default, choices, and a bad value named", "[io][file_io]") {
  const char* name = "BERT_TEST_ENVIRONMENT_CHOICE";
  ::unsetenv(name);
  CHECK(environment_choice(name, {"bf16", "fp32"}) == 0);
  ::setenv(name, "", 1);
  CHECK(environment_choice(name, {"bf16", "fp32"}) == 0);
  ::setenv(name, "fp32", 1);
  CHECK(environment_choice(name, {"bf16", "fp32"}) == 1);
  ::setenv(name, "fp16", 1);
  CHECK_THROWS_WITH(environment_choice(name, {"a", "b", "c"}),
                    "BERT_TEST_ENVIRONMENT_CHOICE: expected a, b or c, got 'fp16'");
  CHECK_THROWS_AS(environment_choice(name, {"bf16", "fp32"}), InputError);
  ::unsetenv(name);
}

TEST_CASE("environment_positive_count: unset is 0, digits a number, anything else named",
          "[io][file_io]") {
  const char* name = "BERT_TEST_ENVIRONMENT_COUNT";
  ::unsetenv(name);
  CHECK(environment_positive_count(name) == 0);
  ::setenv(name, "", 1);
  CHECK(environment_positive_count(name) == 0);
  ::setenv(name, "3", 1);
  CHECK(environment_positive_count(name) == 3);
  ::setenv(name, "999999999999999999", 1);
  CHECK(environment_positive_count(name) == 999999999999999999);
  for (const char* bad : {"0", "-2", "2.5", " 3", "3x", "1e3", "9999999999999999999"}) {
    ::setenv(name, bad, 1);
    CHECK_THROWS_WITH(
        environment_positive_count(name),
        std::string("BERT_TEST_ENVIRONMENT_COUNT: expected a positive whole number, got '") + bad +
            "'");
  }
  ::unsetenv(name);
}

TEST_CASE("config.json sizes are bounded and checked against memory before allocating", "[io][config]") {
  const std::string base = R"({"vocab_size": 50, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
    "intermediate_size": 12, "max_position_embeddings": 16})";
  auto with = [](std::string json, const std::string& field, const std::string& value) {
    const size_t at = json.find("\"" + field + "\": ");
    REQUIRE(at != std::string::npos);
    const size_t begin = at + field.size() + 4, end = json.find_first_of(",}", begin);
    return json.replace(begin, end - begin, value);
  };
  struct Case {
    const char* field;
    const char* value;
    const char* limit;
  };
  for (const Case& c : {Case{"num_hidden_layers", "1000000", "1024"}, Case{"hidden_size", "1048576", "65536"},
                        Case{"intermediate_size", "2147483647", "1048576"},
                        Case{"max_position_embeddings", "2147483647", "1048576"},
                        Case{"vocab_size", "2147483647", "16777216"}}) {
    const std::string message = input_error_of([&] { parse_bert_config(with(base, c.field, c.value), "cfg.json"); });
    INFO(message);
    CHECK(contains(message, std::string("cfg.json: ") + c.field + ": must be at most " + c.limit));
  }
  // The parameter count, as the specs list them (bert-base: 108,893,186).
  BertConfig bert_base;
  double from_specs = 0;
  for (const ParamSpec& spec : bert_qa_param_specs(bert_base)) from_specs += double(spec.numel());
  CHECK(bert_qa_parameter_count(bert_base) == from_specs);
  CHECK(from_specs == 108893186.0);
  CHECK(std::string(largest_size_field(bert_base)) == "num_hidden_layers");
  // Within the bounds but beyond any machine: 2^24 x 2^16 word embeddings.
  const BertConfig huge = parse_bert_config(with(with(base, "vocab_size", "16777216"), "hidden_size", "65536"), "big.json");
  CHECK(std::string(largest_size_field(huge)) == "vocab_size");
  const std::string message =
      input_error_of([&] { check_config_fits_memory(huge, "big.json", 4.0, double(physical_memory_bytes())); });
  INFO(message);
  CHECK(contains(message, "big.json: vocab_size: the model has 1.12e+12 parameters"));
  CHECK(contains(message, "of memory"));
  CHECK_NOTHROW(check_config_fits_memory(bert_base, "base.json", 4.0, 1e12));
}

TEST_CASE("a UTF-8 byte-order mark in config.json is named", "[io][config]") {
  const std::string message = input_error_of(
      [&] { parse_bert_config("\xEF\xBB\xBF{\"vocab_size\": 50}", "bom.json"); });
  CHECK(contains(message, "bom.json: byte 0:"));
  CHECK(contains(message, "byte-order mark"));
}

}  // namespace
}  // namespace bert
