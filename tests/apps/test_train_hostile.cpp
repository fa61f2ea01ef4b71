// train_squad (and eval_squad) against a careless user and a failing machine, through the real
// binaries: bad flag values exit 2 before any work; inputs that are directories, FIFOs,
// devices or dangling links, absurd config.json sizes and batches that cannot fit in memory
// are refused in one line; a diverged model is never saved; output_dir is locked, a non-empty
// one is refused, --overwrite_output_dir deletes only what train_squad wrote; a file-size
// limit fails the save cleanly.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <thread>

#include "core/file_io.h"
#include "engine/checkpoint_dirs.h"
#include "io/bert_config.h"
#include "io/model_dir.h"
#include "io/param_specs.h"
#include "engine/training_state.h"
#include "tests/apps/test_train_failures_util.h"
#include "tests/test_support.h"

namespace bert {
namespace {

namespace fs = std::filesystem;
using test::CommandResult;


const std::string& root() {
  static const std::string dir = test::scratch_with_tiny_model("bert_test_train_hostile_");
  return dir;
}

std::string model() { return root() + "/model"; }
std::string squad_mini() { return test::source_path("data/samples/squad-mini.json"); }

// A short run: 12 windows, 3 steps; `extra` flags after the others.
std::string train_command(const std::string& out, const std::string& extra = "",
                          const std::string& model_dir = model()) {
  return test::train_squad_bin() + " --device cpu --model_name_or_path " + model_dir + " --train_file " + squad_mini() +
         " --do_train --per_device_train_batch_size 4 --max_steps 3 --logging_steps 1 --save_steps 0"
         " --max_seq_length 96 --doc_stride 48 --max_train_samples 12 --output_dir " + out + " " + extra;
}

// The command with flag --name's value replaced (the flag must be there).
std::string with_flag(const std::string& command, const std::string& name, const std::string& value) {
  const std::regex flag("--" + name + " [^ ]+");
  REQUIRE(std::regex_search(command, flag));
  return std::regex_replace(command, flag, "--" + name + " " + value);
}

// Runs the command; checks the exit status and that exactly one "error:" line names every
// part of `mentions`. Returns the output.
std::string expect_refusal(const std::string& command, int status, const std::vector<std::string>& mentions) {
  // Bounded: a regression (a read blocking on a FIFO, a buffer growing without limit) fails.
  const CommandResult result = test::run_command(test::bounded_command_prefix() + command);
  INFO(command << "\n" << result.output);
  CHECK(result.status == status);
  const std::vector<std::string> errors = test::error_lines(result.output);
  REQUIRE(errors.size() == 1);
  for (const std::string& text : mentions) CHECK_THAT(errors[0], Catch::Contains(text));
  // Never an internal message: a C++ exception name, a source path, an MPI error.
  CHECK_THAT(errors[0], !Catch::Contains("std::") && !Catch::Contains(".cpp:") && !Catch::Contains("basic_string") &&
                            !Catch::Contains("MPI_"));
  return result.output;
}

// A copy of the tiny model whose config.json has `field` set to `value`.
std::string bad_config(const std::string& name, const std::string& field, const std::string& value) {
  const std::string dir = root() + "/" + name;
  make_directories(dir);
  const std::string json = std::regex_replace(test::tiny_config_json(16, 32, 0.1f),
                                              std::regex("\"" + field + "\": [^,}]+"), "\"" + field + "\": " + value);
  REQUIRE(json.find("\"" + field + "\": " + value) != std::string::npos);
  write_file_atomic(dir + "/config.json", json);
  fs::copy_file(model() + "/vocab.txt", dir + "/vocab.txt", fs::copy_options::overwrite_existing);
  return dir;
}

// train_squad with the required flags, window settings the tiny model accepts and `flags`
// (which replace the window settings when they name one).
std::string minimal_command(const std::string& out, const std::string& flags, bool with_model = true) {
  std::string command = test::train_squad_bin() + " --device cpu --train_file " + squad_mini() +
                        " --do_train --output_dir " + out + " --max_seq_length 96 --doc_stride 48 --max_steps 2" +
                        " --max_train_samples 8 --save_steps 0" +
                        (with_model ? " --model_name_or_path " + model() : std::string());
  for (const char* window_flag : {"max_seq_length", "doc_stride"}) {
    const std::string name = std::string("--") + window_flag + " ";
    if (flags.rfind(name, 0) == 0) return with_flag(command, window_flag, flags.substr(name.size()));
  }
  return command + " " + flags;
}

TEST_CASE("every bad flag value exits 2 before any work", "[app][hostile]") {
  const std::string out = root() + "/out-flags";
  const std::vector<std::string> cases = {
      "--adam_beta1 -1", "--adam_beta1 2", "--adam_beta2 1", "--adam_epsilon 0", "--adam_epsilon -1",
      "--weight_decay -10", "--learning_rate -1", "--warmup_steps -1", "--num_train_epochs 1e30",
      "--n_best_size 0", "--max_answer_length 0", "--device gpu", "--max_seq_length 3", "--doc_stride -1",
      "--per_device_train_batch_size 2000000000", "--per_device_eval_batch_size 2000000000",
      "--max_train_samples 0", "--train_cache_file=", "--warmup_ratio 1.5", "--warmup_ratio nan",
      "--report_to none,tensorboard", "--lr_scheduler_type cosine_typo",
      "--eval_strategy sometimes", "--save_strategy sometimes", "--gradient_accumulation_steps 0",
      "--logging_steps 0", "--per_device_train_batch_size 0"};
  for (const std::string& flags : cases) {
    DYNAMIC_SECTION(flags) {
      fs::remove_all(out);
      expect_refusal(minimal_command(out, flags), 2, {flags.substr(0, flags.find_first_of(" ="))});
      CHECK_FALSE(fs::exists(out));  // nothing was done
    }
  }
  SECTION("--model_name_or_path=") {
    fs::remove_all(out);
    expect_refusal(minimal_command(out, "--model_name_or_path=", false), 2, {"--model_name_or_path", "non-empty"});
    CHECK_FALSE(fs::exists(out));
  }
}

TEST_CASE("the window cache may not name the data it is built from", "[app][hostile]") {
  const std::string out = root() + "/out-cache-over-data";
  fs::remove_all(out);
  const std::string data = root() + "/train-copy.json";  // a copy: old code wrote the cache over it
  fs::copy_file(squad_mini(), data, fs::copy_options::overwrite_existing);
  const std::string original = read_file(data);
  const std::string command = with_flag(train_command(out), "train_file", data);
  for (const std::string& spelling : {data, root() + "/./train-copy.json"}) {
    expect_refusal(command + " --train_cache_file " + spelling, 2,
                   {"--train_cache_file", "--train_file", "same file", "replace the training data"});
    CHECK(read_file(data) == original);
    CHECK_FALSE(fs::exists(out));
  }
}

TEST_CASE("eval_squad's model mode checks its flags before any work", "[app][hostile]") {
  for (const std::string& flags : {std::string("--n_best_size 0"), std::string("--max_answer_length 0"),
                                   std::string("--max_seq_length 3"), std::string("--doc_stride -1"),
                                   std::string("--device gpu")}) {
    DYNAMIC_SECTION(flags) {
      const std::string out = root() + "/eval-flags";
      const std::string name = flags.substr(0, flags.find(' '));
      std::string command = std::string(EVAL_SQUAD_BIN) + " --model_name_or_path " + model() + " --validation_file " +
                            squad_mini() + " --output_dir " + out + " --max_seq_length 96 --doc_stride 48";
      command = command.find(name + " ") != std::string::npos ? with_flag(command, name.substr(2), flags.substr(name.size() + 1))
                                                              : command + " " + flags;
      expect_refusal(command, 2, {name});
      CHECK_FALSE(fs::exists(out));
    }
  }
}

TEST_CASE("eval_squad's model mode fails on an output_dir it cannot write before evaluating",
          "[app][hostile]") {
  write_file_atomic(root() + "/a-regular-file", "x");
  const std::string out = root() + "/a-regular-file/eval";
  const CommandResult result =
      test::run_command(std::string(EVAL_SQUAD_BIN) + " --device cpu --model_name_or_path " +
                        model() + " --validation_file " + squad_mini() + " --output_dir " + out +
                        " --max_seq_length 96 --doc_stride 48");
  INFO(result.output);
  CHECK(result.status == 1);
  CHECK_THAT(result.output, Catch::Contains(out) && !Catch::Contains("windows/s"));
}

TEST_CASE("eval_squad's model mode never writes over its validation file", "[app][hostile]") {
  const std::string out = root() + "/eval-over-input";
  fs::create_directories(out);
  const std::string input = out + "/eval_predictions.json";
  const std::string original = read_file(squad_mini());
  write_file_atomic(input, original);
  const CommandResult result =
      test::run_command(std::string(EVAL_SQUAD_BIN) + " --device cpu --model_name_or_path " +
                        model() + " --validation_file " + input + " --output_dir " + out +
                        " --max_seq_length 96 --doc_stride 48");
  INFO(result.output);
  CHECK(result.status == 2);
  CHECK_THAT(result.output, Catch::Contains("same file") && Catch::Contains("--validation_file"));
  CHECK(read_file(input) == original);
}

TEST_CASE("inputs that are not regular files are refused at once, naming them", "[app][hostile]") {
  const std::string out = root() + "/out-inputs";
  fs::remove_all(out);
  SECTION("a directory as --train_file") {
    const std::string command = with_flag(train_command(out), "train_file", root());
    expect_refusal(command, 1, {root(), "is a directory, expected a regular file"});
  }
  SECTION("a directory as --train_cache_file") {
    make_directories(root() + "/cache-dir");
    expect_refusal(train_command(out, "--train_cache_file " + root() + "/cache-dir"), 1,
                   {root() + "/cache-dir", "is a directory"});
  }
  SECTION("a FIFO without a writer as --train_file") {
    const std::string fifo = root() + "/train.fifo";
    fs::remove(fifo);
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    const auto started = std::chrono::steady_clock::now();
    expect_refusal(with_flag(train_command(out), "train_file", fifo), 1,
                   {fifo, "FIFO"});
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(60));
  }
  SECTION("config.json linked to /dev/zero") {
    const std::string dir = root() + "/model-zero";
    make_directories(dir);
    fs::copy_file(model() + "/vocab.txt", dir + "/vocab.txt", fs::copy_options::overwrite_existing);
    fs::remove(dir + "/config.json");
    fs::create_symlink("/dev/zero", dir + "/config.json");
    expect_refusal(train_command(out, "", dir), 1, {dir + "/config.json", "character device"});
  }
  SECTION("a SQuAD file starting with a UTF-8 byte-order mark") {
    const std::string bom = root() + "/bom.json";
    write_file_atomic(bom, "\xEF\xBB\xBF" + read_file(squad_mini()));
    expect_refusal(with_flag(train_command(out), "train_file", bom), 1,
                   {bom, "byte-order mark"});
  }
}

TEST_CASE("a dangling or looping model.safetensors link is an error, not a random model", "[app][hostile]") {
  const std::string dir = root() + "/model-link";
  make_directories(dir);
  fs::copy_file(model() + "/config.json", dir + "/config.json", fs::copy_options::overwrite_existing);
  fs::copy_file(model() + "/vocab.txt", dir + "/vocab.txt", fs::copy_options::overwrite_existing);
  const std::string weights = dir + "/model.safetensors";
  for (const std::string& target : {root() + "/no-such-weights.safetensors", weights}) {
    DYNAMIC_SECTION((target == weights ? "looping" : "dangling")) {
      fs::remove(weights);
      fs::create_symlink(target, weights);  // a link to itself loops
      const std::string out = root() + "/out-link";
      fs::remove_all(out);
      const std::string why = target == weights ? "loops" : "does not exist";
      expect_refusal(train_command(out, "", dir), 1, {weights, why});
      CHECK_FALSE(fs::exists(out + "/model.safetensors"));
      expect_refusal(std::string(EVAL_SQUAD_BIN) + " --device cpu --model_name_or_path " + dir +
                         " --validation_file " + squad_mini() + " --max_seq_length 96 --doc_stride 48 --output_dir " +
                         root() + "/eval-link",
                     1, {weights, why});
      CHECK_FALSE(fs::exists(root() + "/eval-link/eval_results.json"));
    }
  }
}

TEST_CASE("config.json sizes and batches that cannot fit are refused before allocating", "[app][hostile]") {
  const std::string out = root() + "/out-sizes";
  fs::remove_all(out);
  struct Case {
    const char* field;
    const char* value;
    const char* expected;
  };
  for (const Case& c : {Case{"num_hidden_layers", "1000000", "at most 1024"},
                        Case{"max_position_embeddings", "2147483647", "at most 1048576"},
                        Case{"hidden_size", "1048576", "at most 65536"},
                        Case{"intermediate_size", "2147483647", "at most 1048576"}}) {
    DYNAMIC_SECTION(c.field) {
      const std::string dir = bad_config(std::string("config-") + c.field, c.field, c.value);
      expect_refusal(train_command(out, "", dir), 1, {dir + "/config.json", c.field, c.expected});
    }
  }
  SECTION("a model within the bounds but larger than this machine's memory") {
    // 2^24 x 2^16 word embeddings alone: 4 TiB of float32.
    const std::string dir = bad_config("config-huge", "hidden_size", "65536");
    std::string json = read_file(dir + "/config.json");
    json = std::regex_replace(json, std::regex("\"vocab_size\": 30522"), "\"vocab_size\": 16777216");
    write_file_atomic(dir + "/config.json", json);
    const auto started = std::chrono::steady_clock::now();
    expect_refusal(train_command(out, "", dir), 1, {dir + "/config.json", "vocab_size", "of memory"});
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(30));
  }
  SECTION("a batch whose activations exceed this machine's memory") {
    // 10^7 windows of 96 tokens: about 2 TB of activations for this tiny model.
    const std::string command = with_flag(train_command(out), "per_device_train_batch_size", "10000000");
    expect_refusal(command, 2, {"--per_device_train_batch_size 10000000", "memory"});
    CHECK_FALSE(fs::exists(out + "/trainer_log.jsonl"));
  }
}

TEST_CASE("a run whose parameters blow up exits 3 and saves nothing", "[app][hostile]") {
  // Step 1's update at this rate leaves parameters near 1e30: every later loss is NaN, but
  // fewer steps remain than --max_consecutive_nonfinite (10).
  for (const char* save_steps : {"0", "2"}) {
    DYNAMIC_SECTION("--save_steps " << save_steps) {
      const std::string out = root() + "/out-blowup";
      fs::remove_all(out);
      const std::string command =
          with_flag(with_flag(train_command(out, "--learning_rate 1e30"), "max_steps", "5"), "save_steps", save_steps);
      expect_refusal(command, 3, {"diverged", "non-finite", "--learning_rate"});
      CHECK_FALSE(fs::exists(out + "/model.safetensors"));
      CHECK_FALSE(fs::exists(out + "/config.json"));
      CHECK_FALSE(fs::exists(out + "/train_results.json"));
      CHECK(list_checkpoints(out).empty());  // not even the one due at step 2
    }
  }
}

TEST_CASE("output_dir: never the model, locked while in use, not empty only with --overwrite_output_dir",
          "[app][hostile]") {
  SECTION("the pretrained model's own directory") {
    const std::string before = read_file(model() + "/config.json");
    expect_refusal(train_command(model()), 2, {"--output_dir", "--model_name_or_path", "same directory"});
    CHECK(read_file(model() + "/config.json") == before);
    CHECK_FALSE(fs::exists(model() + "/model.safetensors"));
  }
  SECTION("someone else's files, an earlier run's model and results") {
    const std::string out = root() + "/out-policy";
    fs::remove_all(out);
    make_directories(out + "/checkpoint-0042");
    write_file_atomic(out + "/checkpoint-0042/data.txt", "mine");
    expect_refusal(train_command(out), 2, {out, "checkpoint-0042", "--overwrite_output_dir"});

    // A finished run with evaluation, in an output_dir of its own.
    fs::remove_all(out + "/checkpoint-0042");
    const CommandResult first = test::run_command(train_command(out, "--do_eval --validation_file " + squad_mini()));
    INFO(first.output);
    REQUIRE(first.status == 0);
    REQUIRE(fs::exists(out + "/eval_results.json"));
    const std::string old_model = read_file(out + "/model.safetensors");
    expect_refusal(train_command(out, "--seed 5"), 2, {out, "earlier run", "config.json"});
    CHECK(read_file(out + "/model.safetensors") == old_model);

    // --overwrite_output_dir: what train_squad wrote goes (the old evaluation too), the rest stays.
    make_directories(out + "/checkpoint-0042");
    write_file_atomic(out + "/checkpoint-0042/data.txt", "mine");
    write_file_atomic(out + "/notes.txt", "mine too");
    const CommandResult again = test::run_command(train_command(out, "--seed 5 --overwrite_output_dir"));
    INFO(again.output);
    REQUIRE(again.status == 0);
    CHECK(read_file(out + "/model.safetensors") != old_model);
    CHECK_FALSE(fs::exists(out + "/eval_results.json"));
    CHECK_FALSE(fs::exists(out + "/eval_predictions.json"));
    CHECK_THAT(read_file(out + "/all_results.json"), !Catch::Contains("eval_f1"));  // this run's alone
    CHECK(read_file(out + "/checkpoint-0042/data.txt") == "mine");
    CHECK(read_file(out + "/notes.txt") == "mine too");
    CHECK_THAT(again.output, Catch::Contains("kept 2 entries"));
  }
  SECTION("a second run on an output_dir in use") {
    const std::string out = root() + "/out-locked";
    fs::remove_all(out);
    const std::string long_run = with_flag(train_command(out), "max_steps", "100000");
    const pid_t first = test::spawn(long_run, root() + "/locked.log");
    REQUIRE(first > 0);
    struct Reaper {  // ends the first run whatever happens below
      pid_t pid;
      ~Reaper() {
        if (pid > 0 && waitpid(pid, nullptr, WNOHANG) == 0) {
          kill(pid, SIGKILL);
          waitpid(pid, nullptr, 0);
        }
      }
    } reaper{first};
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (!(fs::exists(out + "/trainer_log.jsonl") && fs::file_size(out + "/trainer_log.jsonl") > 0)) {
      int status = 0;
      REQUIRE(waitpid(first, &status, WNOHANG) == 0);
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    expect_refusal(train_command(out), 1, {out, "in use by another train_squad run", std::to_string(first)});
    REQUIRE(kill(first, SIGTERM) == 0);
    int status = 0;
    REQUIRE(waitpid(first, &status, 0) == first);
    reaper.pid = 0;
    CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 143));
    // Released when its holder ends: the interrupted run resumes.
    const CommandResult resumed = test::run_command(long_run + " --stop_after_steps 1");
    INFO(resumed.output);
    CHECK(resumed.status == 0);
    CHECK_THAT(resumed.output, Catch::Contains("resuming from"));
  }
}

TEST_CASE("a file-size limit fails the final save cleanly, leaving no config.json without weights",
          "[app][hostile]") {
  const std::string out = root() + "/out-ulimit";
  fs::remove_all(out);
  make_directories(out);
  // model.safetensors is about 2 MB; the limit (in 512- or 1024-byte blocks) is below it but
  // above the logs, the vocabulary and the configs.
  const std::string output = expect_refusal("sh -c 'ulimit -f 1200; exec " + train_command(out) + "'", 1,
                                            {out + "/model.safetensors", "File too large"});
  CHECK_FALSE(fs::exists(out + "/model.safetensors"));
  CHECK_FALSE(fs::exists(out + "/config.json"));
  CHECK_FALSE(test::has_entry_matching(out, R"(\.tmp)"));
}

TEST_CASE("a checkpoint the writer thread cannot write fails the run, naming the file",
          "[app][hostile]") {
  const std::string out = root() + "/out-ulimit-checkpoint";
  fs::remove_all(out);
  make_directories(out);
  // The limit lies between model.safetensors (about 2 MB) and training_state.safetensors (three
  // times that) in 512- and in 1024-byte blocks: the checkpoint at step 1 fails on the writer
  // thread while the run goes on; the next save point reports it.
  const std::string command = with_flag(train_command(out), "save_steps", "1");
  const std::string output = expect_refusal("sh -c 'ulimit -f 5000; exec " + command + "'", 1,
                                            {kTrainingTensorsFile, "File too large"});
  INFO(output);
  CHECK_THAT(output, !Catch::Contains("[train] saved"));
  CHECK(list_checkpoints(out).empty());
  CHECK_FALSE(fs::exists(out + "/model.safetensors"));
  CHECK_FALSE(test::has_entry_matching(out, R"(\.tmp)"));
}

}  // namespace
}  // namespace bert
