// CheckpointWriter: checkpoints written on a thread while training goes on. A checkpoint
// holds the values of the step it was submitted at (the model may change at once), is
// byte-identical to one saved on the training thread, appears under its final name only when
// complete, completes in step order with rotation, reports a write's error at the next
// submit or wait, and is completed by the destructor.
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <future>
#include <map>
#include <set>
#include <thread>

#include "core/error.h"
#include "core/file_io.h"
#include "engine/checkpoint_checksums.h"
#include "engine/checkpoint_writer.h"
#include "engine/trainer.h"
#include "engine/training_state.h"
#include "io/safetensors.h"
#include "tests/engine/resume_test_util.h"

namespace bert {
namespace {

namespace fs = std::filesystem;
using test::entries;
using test::TinyRun;

TrainerState state_at(int64_t step) {
  TrainerState s;
  s.global_step = s.optimizer_steps = step;
  s.total_steps = 100;
  s.batch_size = 4;
  s.gradient_accumulation_steps = 2;
  s.num_windows = 23;
  return s;
}

// `steps` more optimizer steps of the resume test's run: weights and both moments change.
void train_steps(TinyRun& run, int64_t steps) {
  TrainConfig config = test::resume_train_config();
  config.max_steps = steps;
  Trainer trainer(*run.model, *run.optimizer, config);
  trainer.train(test::resume_windows(23), {});
}

// A 4-token vocab.txt in dir (the model files copy it); returns its path.
std::string tiny_vocab(const std::string& dir) {
  const std::string vocab = join_path(dir, "vocab.txt");
  write_file_atomic(vocab, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n");
  return vocab;
}

void write_config(const std::string& dir) {
  write_file_atomic(join_path(dir, "config.json"), "{}");
}

CheckpointContents contents_of(TinyRun& run, int64_t step,
                               WriteModelFn write_model = write_config) {
  CheckpointContents contents;
  contents.state = state_at(step);
  contents.write_model = std::move(write_model);
  contents.tensors =
      std::make_shared<TrainingTensors>(capture_training_tensors(*run.model, *run.optimizer));
  return contents;
}

}  // namespace

TEST_CASE("a checkpoint written beside training holds its step's values", "[resume][writer]") {
  const std::string dir = test::fresh_temp_dir("bert_test_checkpoint_writer");
  const TrainConfig config = test::resume_train_config();
  TinyRun run(config, 5);
  train_steps(run, 3);
  const std::vector<double> at_submit = run.state();

  // The model files wait until the test lets them: the write is surely still running while
  // the run trains on.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  CheckpointWriter writer;
  const std::string path = writer.submit(dir,
                                         contents_of(run, 3,
                                                     [released](const std::string& d) {
                                                       released.wait();
                                                       write_config(d);
                                                     }),
                                         0);
  CHECK(path == join_path(dir, "checkpoint-3"));
  CHECK(writer.busy());
  train_steps(run, 2);
  REQUIRE(run.state() != at_submit);
  CHECK_FALSE(fs::exists(path));  // not under its final name before it is complete
  CHECK(writer.take_written().empty());
  release.set_value();
  writer.wait();
  CHECK_FALSE(writer.busy());

  const std::vector<CheckpointWriter::Written> written = writer.take_written();
  REQUIRE(written.size() == 1);
  CHECK(written[0].path == path);
  CHECK(written[0].step == 3);
  CHECK(written[0].seconds > 0);
  CHECK(entries(path) == std::set<std::string>{"config.json", kEngineStateFile,
                                               kTrainingTensorsFile, kChecksumsFile});
  verify_checkpoint_checksums(path);
  TinyRun loaded(config, 9);
  read_training_tensors(join_path(path, kTrainingTensorsFile), *loaded.model, *loaded.optimizer);
  CHECK(loaded.state() == at_submit);

  // The same bytes as a checkpoint saved on the training thread from the same values.
  const std::string other = test::fresh_temp_dir("bert_test_checkpoint_writer_sync");
  const std::string synced =
      save_checkpoint(other, state_at(3), *loaded.model, *loaded.optimizer, write_config, 0);
  for (const char* name : {kTrainingTensorsFile, kEngineStateFile, kChecksumsFile})
    CHECK(read_file(join_path(synced, name)) == read_file(join_path(path, name)));
}

TEST_CASE("checkpoints written beside training complete in step order and rotate",
          "[resume][writer]") {
  const std::string dir = test::fresh_temp_dir("bert_test_checkpoint_writer_order");
  TinyRun run(test::resume_train_config(), 5);
  CheckpointWriter writer;
  for (int64_t step : {8, 12, 16}) writer.submit(dir, contents_of(run, step), 2);
  writer.wait();
  CHECK(entries(dir) == std::set<std::string>{"checkpoint-12", "checkpoint-16"});
  std::vector<int64_t> steps;
  for (const CheckpointWriter::Written& written : writer.take_written())
    steps.push_back(written.step);
  CHECK(steps == std::vector<int64_t>{8, 12, 16});
}

TEST_CASE("a checkpoint write's error comes back at the next submit or wait",
          "[resume][writer][errors]") {
  const std::string dir = test::fresh_temp_dir("bert_test_checkpoint_writer_errors");
  TinyRun run(test::resume_train_config(), 5);
  auto failing = [](const std::string& d) {
    write_file_atomic(join_path(d, "config.json"), "partial");
    throw BertError("disk full");
  };
  CheckpointWriter writer;
  SECTION("at wait, once") {
    writer.submit(dir, contents_of(run, 4, failing), 0);
    CHECK_THROWS_WITH(writer.wait(), "disk full");
    CHECK_NOTHROW(writer.wait());
  }
  SECTION("at the next submit, which then writes nothing") {
    writer.submit(dir, contents_of(run, 4, failing), 0);
    CHECK_THROWS_WITH(writer.submit(dir, contents_of(run, 8), 0), "disk full");
    CHECK_NOTHROW(writer.wait());
  }
  CHECK(writer.take_written().empty());
  CHECK(entries(dir).empty());  // nothing under a final name, no temporary left
}

TEST_CASE("a checkpoint writer completes the write in flight when it is destroyed",
          "[resume][writer]") {
  const std::string dir = test::fresh_temp_dir("bert_test_checkpoint_writer_exit");
  TinyRun run(test::resume_train_config(), 5);
  {
    CheckpointWriter writer;
    writer.submit(dir,
                  contents_of(run, 6,
                              [](const std::string& d) {
                                std::this_thread::sleep_for(std::chrono::milliseconds(100));
                                write_config(d);
                              }),
                  0);
  }
  const std::string path = join_path(dir, "checkpoint-6");
  REQUIRE(fs::exists(path));
  verify_checkpoint_checksums(path);
  CHECK(read_trainer_state(path).global_step == 6);
}

TEST_CASE("capture_checkpoint copies the model files' weights and the training tensors at once",
          "[resume][writer]") {
  const std::string dir = test::fresh_temp_dir("bert_test_checkpoint_capture");
  const TrainConfig train_config = test::resume_train_config();
  const BertConfig config = test::resume_config();
  const std::string vocab = tiny_vocab(dir);
  TinyRun run(train_config, 5);
  train_steps(run, 3);
  const std::vector<double> at_capture = run.state();
  const std::map<std::string, std::vector<float>> weights = run.model->parameters();
  CheckpointContents contents = capture_checkpoint(state_at(3), *run.model, *run.optimizer, config,
                                                   vocab, SavedTokenizer{}, /*model_only=*/false);
  train_steps(run, 2);  // everything changes before the write
  REQUIRE(run.state() != at_capture);
  const std::string out = join_path(dir, "out");
  const std::string path = write_checkpoint(out, contents, 0);

  const SafetensorsFile model = SafetensorsFile::open(join_path(path, "model.safetensors"));
  CHECK(model.names().size() == weights.size());
  for (const auto& [name, values] : weights) CHECK(model.read_f32(name) == values);
  TinyRun loaded(train_config, 9);
  read_training_tensors(join_path(path, kTrainingTensorsFile), *loaded.model, *loaded.optimizer);
  CHECK(loaded.state() == at_capture);
  CHECK(read_file(join_path(path, "vocab.txt")) == read_file(vocab));

  SECTION("model only: the model files alone") {
    const CheckpointContents model_only =
        capture_checkpoint(state_at(5), *run.model, *run.optimizer, config, vocab, SavedTokenizer{},
                           /*model_only=*/true);
    CHECK(model_only.tensors->exp_avg.empty());
    const std::string model_path = write_checkpoint(out, model_only, 0);
    CHECK_FALSE(fs::exists(join_path(model_path, kTrainingTensorsFile)));
    CHECK_FALSE(fs::exists(join_path(model_path, kEngineStateFile)));
    CHECK(fs::exists(join_path(model_path, "model.safetensors")));
  }
}

TEST_CASE("the next capture refills the last written checkpoint's memory", "[resume][writer]") {
  const std::string dir = test::fresh_temp_dir("bert_test_checkpoint_spare");
  const TrainConfig train_config = test::resume_train_config();
  const BertConfig config = test::resume_config();
  const std::string vocab = tiny_vocab(dir);
  TinyRun run(train_config, 5);
  CheckpointWriter writer;
  CHECK(writer.take_spare() == nullptr);  // nothing written yet
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  CheckpointContents first = capture_checkpoint(state_at(1), *run.model, *run.optimizer, config,
                                                vocab, SavedTokenizer{}, false);
  first.write_model = [released](const std::string& d) {
    released.wait();
    write_config(d);
  };
  const TrainingTensors* memory = first.tensors.get();
  const float* master = memory->master.data();
  writer.submit(join_path(dir, "out"), std::move(first), 0);
  CHECK(writer.take_spare() == nullptr);  // still being written
  release.set_value();
  writer.wait();
  std::shared_ptr<TrainingTensors> spare = writer.take_spare();
  REQUIRE(spare != nullptr);
  CHECK(spare.get() == memory);
  CHECK(writer.take_spare() == nullptr);  // handed out once

  train_steps(run, 2);
  const std::vector<double> at_capture = run.state();
  CheckpointContents second = capture_checkpoint(state_at(3), *run.model, *run.optimizer, config,
                                                 vocab, SavedTokenizer{}, false, spare);
  CHECK(second.tensors.get() == memory);
  CHECK(second.tensors->master.data() == master);
  const std::string path = writer.submit(join_path(dir, "out"), std::move(second), 0);
  writer.wait();
  TinyRun loaded(train_config, 9);
  read_training_tensors(join_path(path, kTrainingTensorsFile), *loaded.model, *loaded.optimizer);
  CHECK(loaded.state() == at_capture);
}

}  // namespace bert
