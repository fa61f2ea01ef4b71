// train_squad on hostile input, through the real binary: each case must give exactly one
// "error:" line naming the file or field, a non-zero exit (2 for the command line, 3 for a
// diverged run, 1 otherwise), and leave nothing half-written in output_dir (no model, no
// checkpoint, no temporaries).
#include <unistd.h>
#include <catch2/catch.hpp>

#include <set>

#include "core/file_io.h"
#include "engine/checkpoint_dirs.h"
#include "io/bert_config.h"
#include "io/model_dir.h"
#include "io/param_specs.h"
#include "engine/training_state.h"
#include "tests/apps/test_train_failures_util.h"

namespace bert {
namespace {

namespace fs = std::filesystem;
using test::CommandResult;

const std::string& root() {
  static const std::string dir = test::scratch_root("bert_test_train_failures_");
  return dir;
}

std::string squad_mini() { return test::source_path("data/samples/squad-mini.json"); }

// A model directory with weights (model.safetensors written by save_model_dir).
std::string model_with_weights(const std::string& name) {
  const std::string dir = root() + "/" + name;
  const std::string config_path = root() + "/" + name + "-config.json";
  write_file_atomic(config_path, test::tiny_config_json(16, 32, 0.0f));
  const BertConfig config = read_bert_config(config_path);
  save_model_dir(dir, config, init_bert_qa_params(config, 1),
                 test::source_path("data/samples/tiny-bert-uncased/vocab.txt"));
  return dir;
}

std::string train_command(const std::string& model, const std::string& out, const std::string& extra = "",
                          const std::string& train_file = squad_mini(), int max_seq_length = 96) {
  return test::train_squad_bin() + " --device cpu --model_name_or_path " + model + " --train_file " + train_file +
         " --do_train --per_device_train_batch_size 4 --max_steps 3 --logging_steps 1 --save_steps 2"
         " --max_seq_length " + std::to_string(max_seq_length) +
         " --doc_stride 48 --max_train_samples 12 --output_dir " + out + " " + extra;
}

// Runs the command and checks the failure contract.
void expect_failure(const std::string& command, const std::string& out, int status,
                    const std::vector<std::string>& mentions) {
  const CommandResult result = test::run_command(command);
  INFO(command << "\n" << result.output);
  CHECK(result.status == status);
  const std::vector<std::string> errors = test::error_lines(result.output);
  REQUIRE(errors.size() == 1);
  for (const std::string& text : mentions) CHECK_THAT(errors[0], Catch::Contains(text));
  CHECK_FALSE(test::has_entry_matching(out, R"(model\.safetensors)"));
  CHECK_FALSE(test::has_entry_matching(out, R"(checkpoint-)"));
  CHECK_FALSE(test::has_entry_matching(out, R"(\.tmp)"));
}

TEST_CASE("train_squad refuses broken model directories", "[app][failures]") {
  const std::string out = root() + "/out-model";
  SECTION("truncated model.safetensors") {
    const std::string model = model_with_weights("truncated");
    const std::string weights = model + "/model.safetensors";
    const std::string bytes = read_file(weights);
    write_file_atomic(weights, bytes.substr(0, bytes.size() / 2));
    expect_failure(train_command(model, out), out, 1, {weights});
  }
  SECTION("garbage header in model.safetensors") {
    const std::string model = model_with_weights("garbled");
    const std::string weights = model + "/model.safetensors";
    std::string bytes = read_file(weights);
    bytes.replace(8, 10, "##########");
    write_file_atomic(weights, bytes);
    expect_failure(train_command(model, out), out, 1, {weights});
  }
  SECTION("config.json shapes that disagree with the tensors") {
    const std::string model = model_with_weights("shapes");
    write_file_atomic(model + "/config.json", test::tiny_config_json(16, 48, 0.0f));
    expect_failure(train_command(model, out), out, 1, {model + "/model.safetensors", "intermediate"});
  }
  SECTION("vocab.txt with another size than config.json's vocab_size") {
    const std::string model = model_with_weights("vocab");
    write_file_atomic(model + "/config.json", test::tiny_config_json(16, 32, 0.0f, 30000));
    expect_failure(train_command(model, out), out, 1, {model + "/vocab.txt", "vocab_size"});
  }
}

TEST_CASE("train_squad refuses bad flags, data and output directories", "[app][failures]") {
  const std::string model = test::make_tiny_model(root() + "/model");
  const std::string out = root() + "/out-flags";
  SECTION("unknown flag") {
    expect_failure(train_command(model, out, "--learning_rat 1e-3"), out, 2, {"--learning_rat"});
  }
  SECTION("missing train file") {
    const std::string missing = root() + "/no-such-train.json";
    expect_failure(train_command(model, out, "", missing), out, 1, {missing});
  }
  SECTION("output directory below a regular file") {
    write_file_atomic(root() + "/a-file", "x");
    const std::string below = root() + "/a-file/out";
    expect_failure(train_command(model, below), below, 1, {below});
  }
  SECTION("a dataset without questions") {
    const std::string empty = root() + "/empty.json";
    write_file_atomic(empty, R"({"version": "1.1", "data": []})");
    expect_failure(train_command(model, out, "", empty), out, 1, {empty, "question"});
  }
  SECTION("max_seq_length beyond max_position_embeddings") {
    expect_failure(train_command(model, out, "", squad_mini(), 200), out, 2,
                   {"--max_seq_length", "max_position_embeddings"});
  }
  SECTION("resuming from a directory that is not a checkpoint") {
    expect_failure(train_command(model, out, "--resume_from_checkpoint " + model), out, 1,
                   {model + "/training_state.json"});
  }
  SECTION("resuming from a directory that does not exist: a bad flag value") {
    const std::string nowhere = root() + "/no-such-checkpoint";
    expect_failure(train_command(model, out, "--resume_from_checkpoint " + nowhere), out, 2,
                   {"--resume_from_checkpoint " + nowhere, "no such checkpoint directory"});
  }
  SECTION("resuming 'latest' without checkpoints") {
    expect_failure(train_command(model, out, "--resume_from_checkpoint latest"), out, 1, {out, "no checkpoint"});
  }
  SECTION("an address-space limit (ulimit -v) the CPU threads' OpenBLAS buffers would overrun") {
    // OpenBLAS retries forever when it cannot map a calling thread's work buffer: such a run is
    // refused before it starts, not left hanging (64 threads, 32 sequences x 2 heads of
    // attention products at once: 8 GiB of buffers under a 4 GB limit); the timeout only bounds
    // a regression. Not under AddressSanitizer, which reserves terabytes of address space.
    if (test::kUnderAddressSanitizer) return;
    expect_failure(
        "sh -c 'ulimit -v 4000000 && BERT_CPU_THREADS=64 exec timeout -s KILL 120 " +
            train_command(model, out, "--per_device_train_batch_size 32") + "'",
        out, 1, {"address space", "OpenBLAS", "64 CPU threads", "ulimit -v", "BERT_CPU_THREADS"});
  }
  SECTION("--resume_from_checkpoint with --overwrite_output_dir") {
    expect_failure(train_command(model, out, "--resume_from_checkpoint latest --overwrite_output_dir"), out, 2,
                   {"contradict"});
  }
}

TEST_CASE("train_squad refuses to resume another run's checkpoint", "[app][failures][resume]") {
  const std::string model = test::make_tiny_model(root() + "/model");
  const std::string saved = root() + "/saved";
  fs::remove_all(saved);  // each section starts from a fresh checkpoint
  const CommandResult first = test::run_command(train_command(model, saved, "--stop_after_steps 2"));
  INFO(first.output);
  REQUIRE(first.status == 0);
  const std::string checkpoint = saved + "/checkpoint-2";
  REQUIRE(fs::exists(checkpoint + "/trainer_state.json"));
  const std::string out = root() + "/out-resume";
  SECTION("other seed") {
    expect_failure(train_command(model, out, "--seed 7 --resume_from_checkpoint " + checkpoint), out, 1,
                   {checkpoint, "seed"});
  }
  SECTION("other data") {
    expect_failure(train_command(model, out, "--resume_from_checkpoint " + checkpoint, squad_mini(), 80), out, 1,
                   {checkpoint, "data_fingerprint"});
  }
  SECTION("other model configuration") {
    const std::string other = test::make_tiny_model(root() + "/model-dropout", 0.2f);
    expect_failure(train_command(other, out, "--resume_from_checkpoint " + checkpoint), out, 1,
                   {checkpoint + "/config.json"});
  }
  SECTION("damaged trainer_state.json") {
    write_file_atomic(checkpoint + "/trainer_state.json", "{\"format\": ");
    expect_failure(train_command(model, out, "--resume_from_checkpoint " + checkpoint), out, 1,
                   {checkpoint + "/trainer_state.json"});
  }
}

TEST_CASE("train_squad stops a diverged run with exit 3 and saves nothing new", "[app][failures]") {
  const std::string model = test::make_tiny_model(root() + "/model");
  const std::string out = root() + "/out-diverged";
  const std::string command = test::train_squad_bin() + " --device cpu --model_name_or_path " + model +
                              " --train_file " + squad_mini() +
                              " --do_train --per_device_train_batch_size 4 --max_steps 50 --logging_steps 1"
                              " --save_steps 10 --max_seq_length 96 --doc_stride 48 --max_train_samples 12"
                              " --learning_rate 1e30 --max_consecutive_nonfinite 3 --output_dir " + out;
  const CommandResult result = test::run_command(command);
  INFO(result.output);
  CHECK(result.status == 3);
  const std::vector<std::string> errors = test::error_lines(result.output);
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0], Catch::Contains("diverged") && Catch::Contains("3 consecutive") &&
                            Catch::Contains("--learning_rate"));
  // One warning per skipped step, naming it.
  CHECK_THAT(result.output, Catch::Contains("warning: step 2: non-finite"));
  CHECK_THAT(result.output, Catch::Contains("warning: step 4: non-finite"));
  CHECK_FALSE(fs::exists(out + "/model.safetensors"));
  CHECK(list_checkpoints(out).empty());
  // Steps 1-4, and step 5, which was in flight when step 4's numbers came back.
  CHECK(read_lines(out + "/trainer_log.jsonl").size() == 5);
}

}  // namespace
}  // namespace bert
