// --model_name_or_path as a Hub id, read from the Hugging Face cache as from_pretrained reads it
// offline (apps/model_location.h): train_squad and eval_squad through the real binaries, with the
// cache found through $HF_HUB_CACHE or --cache_dir, at a branch, a tag or a commit; a Hub id the
// cache lacks, or whose snapshot has no weights, refused with the download command.
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

#include "core/file_io.h"
#include "tests/apps/test_train_failures_util.h"

namespace bert {
namespace {

namespace fs = std::filesystem;
using test::CommandResult;

const std::string kMain = "0123456789abcdef0123456789abcdef01234567";
const std::string kTag = "fedcba9876543210fedcba9876543210fedcba98";

const std::string& root() {
  static const std::string dir = test::scratch_root("bert_test_model_location_");
  return dir;
}

std::string squad_mini() { return test::source_path("data/samples/squad-mini.json"); }

std::string train_command(const std::string& model, const std::string& out, const std::string& extra = "") {
  return test::train_squad_bin() + " --device cpu --model_name_or_path " + model + " --train_file " + squad_mini() +
         " --do_train --per_device_train_batch_size 4 --max_steps 2 --save_steps 0 --max_seq_length 96"
         " --doc_stride 48 --max_train_samples 8 --output_dir " + out + " " + extra;
}

std::string eval_command(const std::string& model, const std::string& out, const std::string& extra = "") {
  return std::string(EVAL_SQUAD_BIN) + " --device cpu --model_name_or_path " + model + " --validation_file " +
         squad_mini() + " --max_eval_samples 6 --max_seq_length 96 --doc_stride 48 --output_dir " + out + " " + extra;
}

// A cache holding org/tiny-bert: main -> a trained model, tag v1 -> the same files, and
// org/config-only whose snapshot has config.json and vocab.txt but no weights.
std::string make_cache() {
  static const std::string cache = [] {
    const std::string trained = root() + "/trained";
    const CommandResult result = test::run_command(train_command(test::make_tiny_model(root() + "/init", 0.0f), trained));
    INFO(result.output);
    REQUIRE(result.status == 0);
    const std::string dir = root() + "/hub";
    const std::string repo = dir + "/models--org--tiny-bert";
    for (const std::string& commit : {kMain, kTag}) {
      make_directories(repo + "/snapshots/" + commit);
      for (const char* name : {"config.json", "vocab.txt", "tokenizer_config.json", "model.safetensors"})
        fs::copy_file(trained + "/" + name, repo + "/snapshots/" + commit + "/" + name);
    }
    make_directories(repo + "/refs");
    write_file_atomic(repo + "/refs/main", kMain);
    write_file_atomic(repo + "/refs/v1", kTag);
    const std::string bare = dir + "/models--org--config-only";
    make_directories(bare + "/snapshots/" + kMain);
    make_directories(bare + "/refs");
    write_file_atomic(bare + "/refs/main", kMain);
    for (const char* name : {"config.json", "vocab.txt"})
      fs::copy_file(trained + "/" + name, bare + "/snapshots/" + kMain + "/" + name);
    return dir;
  }();
  return cache;
}

}  // namespace

TEST_CASE("a Hub id in the Hugging Face cache is read from its snapshot by train_squad and eval_squad",
          "[app][hub]") {
  const std::string cache = make_cache();
  const std::string snapshot = cache + "/models--org--tiny-bert/snapshots/" + kMain;

  // eval_squad: the cache from $HF_HUB_CACHE; the same predictions as from the snapshot's path.
  const CommandResult by_id = test::run_command("HF_HUB_CACHE=" + cache + " " + eval_command("org/tiny-bert", root() + "/eval-id"));
  INFO(by_id.output);
  REQUIRE(by_id.status == 0);
  CHECK_THAT(by_id.output, Catch::Contains("the Hugging Face cache's snapshot " + snapshot));
  REQUIRE(test::run_command(eval_command(snapshot, root() + "/eval-path")).status == 0);
  CHECK(read_file(root() + "/eval-id/eval_predictions.json") == read_file(root() + "/eval-path/eval_predictions.json"));

  // train_squad: --cache_dir, revision main; the model card names the Hub id as its base model.
  const CommandResult trained =
      test::run_command("HF_HUB_CACHE=/nonexistent " + train_command("org/tiny-bert", root() + "/train-id", "--cache_dir " + cache));
  INFO(trained.output);
  REQUIRE(trained.status == 0);
  CHECK_THAT(trained.output, Catch::Contains("snapshot " + snapshot + " (revision main)"));
  CHECK_THAT(read_file(root() + "/train-id/README.md"), Catch::Contains("base_model: org/tiny-bert"));

  // --model_revision: a tag under refs/, or a commit hash.
  for (const std::string& revision : {std::string("v1"), kTag}) {
    const CommandResult tagged = test::run_command(
        train_command("org/tiny-bert", root() + "/train-" + revision.substr(0, 2), "--cache_dir " + cache + " --model_revision " + revision));
    INFO(tagged.output);
    CHECK(tagged.status == 0);
    CHECK_THAT(tagged.output, Catch::Contains("/snapshots/" + kTag + " (revision " + revision + ")"));
  }
}

TEST_CASE("a Hub id the cache cannot serve is refused naming what was looked for and how to download it",
          "[app][hub]") {
  const std::string cache = make_cache();
  const CommandResult missing = test::run_command(train_command("org/absent", root() + "/absent", "--cache_dir " + cache));
  INFO(missing.output);
  CHECK(missing.status == 1);
  CHECK_THAT(
      missing.output,
      Catch::Contains("org/absent: not a local directory (no such path under ") &&
          Catch::Contains("), and the Hugging Face cache has no snapshot of it at revision main") &&
          Catch::Contains("A local model: check the path") &&
          Catch::Contains(cache + "/models--org--absent/refs/main") &&
          Catch::Contains("hf download org/absent"));

  // eval_squad takes --cache_dir too.
  CHECK(test::run_command(eval_command("org/tiny-bert", root() + "/eval-cache-dir", "--cache_dir " + cache)).status == 0);
  const CommandResult unknown = test::run_command(
      train_command("org/tiny-bert", root() + "/unknown", "--cache_dir " + cache + " --model_revision v9"));
  CHECK(unknown.status == 1);
  CHECK_THAT(unknown.output, Catch::Contains("at revision v9") && Catch::Contains("refs/v9"));

  // A snapshot with config files only would train from random weights: refused instead.
  const CommandResult bare = test::run_command(train_command("org/config-only", root() + "/bare", "--cache_dir " + cache));
  INFO(bare.output);
  CHECK(bare.status == 1);
  CHECK_THAT(bare.output,
             Catch::Contains("holds no weights") && Catch::Contains("hf download org/config-only"));
  CHECK_FALSE(fs::exists(root() + "/bare/model.safetensors"));

  // A local directory has no revisions, and is read without the cache.
  const std::string local = cache + "/models--org--tiny-bert/snapshots/" + kMain;
  const CommandResult local_revision = test::run_command(train_command(local, root() + "/local", "--model_revision v1"));
  CHECK(local_revision.status == 2);
  CHECK_THAT(local_revision.output, Catch::Contains("is a local directory, which has no revisions"));
  const CommandResult local_cache = test::run_command(train_command(local, root() + "/local", "--cache_dir " + cache));
  CHECK(local_cache.status == 0);
  CHECK_THAT(local_cache.output, Catch::Contains("--cache_dir " + cache + " is not searched"));
}

}  // namespace bert
