// engine/training_run.h without a model: the output_dir claim, resume resolution, the log cut
// back to the resumed step, and the command that continues a stopped run. The apps tests
// (tests/apps/test_train_*) drive the same functions through train_squad end to end.
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/file_io.h"
#include "engine/checkpoint_dirs.h"
#include "engine/output_dir.h"
#include "engine/training_run.h"
#include "tests/engine/resume_test_util.h"

namespace bert {
namespace {

// A directory that list_checkpoints accepts as a checkpoint with training state.
void make_checkpoint(const std::string& output_dir, int64_t step) {
  const std::string dir = join_path(output_dir, "checkpoint-" + std::to_string(step));
  make_directories(dir);
  write_file_atomic(join_path(dir, kEngineStateFile), "{}");
}

TEST_CASE("claim_output_dir records the arguments, or refuses a finished run's directory", "[training_run]") {
  const std::string dir = test::fresh_temp_dir("bert_test_claim");
  RunSettings run;
  run.output_dir = join_path(dir, "out");
  run.do_train = true;
  std::string refusal;
  {
    OutputDirLock lock = claim_output_dir(run, "{\"seed\": 42}", &refusal);
    CHECK(refusal.empty());
    CHECK(read_file(join_path(run.output_dir, kTrainingArgsFile)) == "{\"seed\": 42}");
    CHECK_FALSE(path_exists(join_path(run.output_dir, ".write_test")));
    // A second run cannot take the same directory while this one holds it.
    CHECK_THROWS_AS(claim_output_dir(run, "{}", &refusal), InputError);
  }
  write_file_atomic(join_path(run.output_dir, "model.safetensors"), "weights");  // a finished run
  {
    OutputDirLock lock = claim_output_dir(run, "{\"seed\": 7}", &refusal);
    CHECK(refusal.find("model.safetensors") != std::string::npos);
    CHECK(read_file(join_path(run.output_dir, kTrainingArgsFile)) == "{\"seed\": 42}");  // untouched
  }
  run.overwrite_output_dir = true;  // allowed: prepare_output_dir_for_training clears it later
  {
    OutputDirLock lock = claim_output_dir(run, "{\"seed\": 7}", &refusal);
    CHECK(refusal.empty());
  }
  // An evaluation into the trained model's directory keeps the training's record.
  run.do_train = false;
  {
    OutputDirLock lock = claim_output_dir(run, "{\"do_train\": false}", &refusal);
    CHECK(refusal.empty());
    CHECK(read_file(join_path(run.output_dir, kTrainingArgsFile)) == "{\"seed\": 7}");
  }
  // Nor does it write trainer_log.jsonl, which a later resumed training would carry.
  const RunLogs logs = open_run_logs(run.output_dir, /*training=*/false, /*tensorboard=*/false, "");
  CHECK(logs.metrics == nullptr);
  CHECK_FALSE(path_exists(join_path(run.output_dir, kMetricsLogFile)));
  std::filesystem::remove_all(dir);
}

TEST_CASE("the output_dir lock waits for a holder that has ended but whose threads still hold it",
          "[training_run]") {
  const std::string dir = test::fresh_temp_dir("bert_test_dying_holder");
  // A child takes the lock, then its main thread exits (a zombie, as a killed multi-threaded
  // run's leader shows while its other threads finish their I/O) and another thread keeps the
  // file open for a second before the process ends.
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  const pid_t child = ::fork();
  if (child == 0) {
    // Never destroyed: the lock stays held while the other thread runs.
    new OutputDirLock(OutputDirLock::acquire(dir));
    std::thread([] {
      std::this_thread::sleep_for(std::chrono::milliseconds(1000));
      ::_exit(0);
    }).detach();
    (void)::write(ready[1], "x", 1);
    ::syscall(SYS_exit,
              0);  // this thread alone, without unwinding (pthread_exit's would reach Catch2)
  }
  REQUIRE(child > 0);
  char byte = 0;
  REQUIRE(::read(ready[0], &byte, 1) == 1);
  const auto state = [&] {
    std::ifstream in("/proc/" + std::to_string(child) + "/stat");
    std::string stat;
    std::getline(in, stat);
    return stat;
  };
  for (int i = 0; i < 200 && state().find(") Z") == std::string::npos; ++i) ::usleep(5000);
  REQUIRE(state().find(") Z") != std::string::npos);
  const auto started = std::chrono::steady_clock::now();
  CHECK_NOTHROW(OutputDirLock::acquire(dir));  // waited for the lock, not refused
  const auto waited = std::chrono::steady_clock::now() - started;
  CHECK(waited > std::chrono::milliseconds(300));  // the holder's thread kept it that long
  CHECK(waited < std::chrono::seconds(20));
  ::waitpid(child, nullptr, 0);
  ::close(ready[0]);
  ::close(ready[1]);
  // A live holder is refused at once, naming it.
  OutputDirLock mine = OutputDirLock::acquire(dir);
  const pid_t other = ::fork();
  if (other == 0) {
    try {
      OutputDirLock::acquire(dir);
    } catch (const InputError&) {
      ::_exit(3);
    }
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(other, &status, 0);
  CHECK(WEXITSTATUS(status) == 3);
  std::filesystem::remove_all(dir);
}

TEST_CASE("resolve_resume_dir follows run_qa.py: explicit, latest, or the newest unless overwriting",
          "[training_run]") {
  const std::string dir = test::fresh_temp_dir("bert_test_resolve");
  RunSettings run;
  run.output_dir = dir;
  CHECK(resolve_resume_dir(run).empty());  // nothing to resume
  run.resume_from_checkpoint = "latest";
  CHECK_THROWS_AS(resolve_resume_dir(run), InputError);

  make_checkpoint(dir, 5);
  make_checkpoint(dir, 12);
  for (const char* word : {"latest", "true", "True"}) {
    run.resume_from_checkpoint = word;
    CHECK(resolve_resume_dir(run) == join_path(dir, "checkpoint-12"));
  }
  run.resume_from_checkpoint = "";
  CHECK(resolve_resume_dir(run) == join_path(dir, "checkpoint-12"));  // resumed anyway
  run.overwrite_output_dir = true;
  CHECK(resolve_resume_dir(run).empty());
  run.resume_from_checkpoint = "/some/where/checkpoint-3";
  CHECK(resolve_resume_dir(run) == "/some/where/checkpoint-3");
  // A run's output directory given as the checkpoint: its newest checkpoint is named.
  run.resume_from_checkpoint = dir;
  CHECK_THROWS_WITH(
      resolve_resume_dir(run),
      Catch::Contains("names a training run's output directory, not a checkpoint: give its newest "
                      "checkpoint, " +
                      join_path(dir, "checkpoint-12")));
  run.resume_from_checkpoint = join_path(dir, "checkpoint-5");
  CHECK(resolve_resume_dir(run) == join_path(dir, "checkpoint-5"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("truncate_metrics_log keeps the lines up to the step training starts from", "[training_run]") {
  const std::string dir = test::fresh_temp_dir("bert_test_truncate");
  const std::string log = join_path(dir, kMetricsLogFile);
  write_file_atomic(log, "{\"step\": 10, \"loss\": 2.0}\n{\"step\": 20, \"loss\": 1.5}\n"
                         "{\"step\": 30, \"loss\": 1.0}\n");
  truncate_metrics_log(log, 20);
  CHECK(read_file(log) == "{\"step\": 10, \"loss\": 2.0}\n{\"step\": 20, \"loss\": 1.5}\n");
  truncate_metrics_log(log, 0);
  CHECK(read_file(log).empty());
  truncate_metrics_log(join_path(dir, "absent.jsonl"), 0);  // nothing to cut
  CHECK_FALSE(path_exists(join_path(dir, "absent.jsonl")));
  // Resumed at the last step (its end redone): the summary and the final evaluation after it go,
  // an evaluation logged at that step before the checkpoint stays.
  const std::string ended = "{\"step\": 30, \"loss\": 1.0}\n{\"step\": 30, \"eval_f1\": 40.0}\n";
  write_file_atomic(log, ended + "{\"step\": 30, \"epoch\": 2.0, \"train_loss\": 1.2}\n{\"step\": 30, \"eval_f1\": 41.0}\n");
  truncate_metrics_log(log, 30);
  CHECK(read_file(log) == ended);
  std::filesystem::remove_all(dir);
}

TEST_CASE("prepare_output_dir_for_training clears only what train_squad wrote", "[training_run]") {
  const std::string dir = test::fresh_temp_dir("bert_test_prepare_dir");
  make_checkpoint(dir, 4);
  write_file_atomic(join_path(dir, kMetricsLogFile), "{\"step\": 4, \"loss\": 1.0}\n");
  write_file_atomic(join_path(dir, "notes.txt"), "mine");
  RunSettings run;
  run.output_dir = dir;
  run.overwrite_output_dir = true;
  prepare_output_dir_for_training(run, 0, 0);
  CHECK_FALSE(path_exists(join_path(dir, "checkpoint-4")));
  CHECK(read_file(join_path(dir, "notes.txt")) == "mine");
  CHECK((!path_exists(join_path(dir, kMetricsLogFile)) || read_file(join_path(dir, kMetricsLogFile)).empty()));
  std::filesystem::remove_all(dir);
}

TEST_CASE("prepare_output_dir_for_training applies save_total_limit when resuming at the newest checkpoint",
          "[training_run]") {
  const std::string dir = test::fresh_temp_dir("bert_test_prepare_rotate");
  for (int64_t step : {2, 4, 6, 8}) make_checkpoint(dir, step);
  RunSettings run;
  run.output_dir = dir;
  run.save_total_limit = 2;
  // From an older checkpoint: nothing is deleted before the next save.
  prepare_output_dir_for_training(run, 6, 0);
  CHECK(list_checkpoints(dir).size() == 4);
  // From the newest (a run killed between its last save and that save's rotation): the limit
  // holds again, the best checkpoint kept.
  prepare_output_dir_for_training(run, 8, 2);
  std::vector<int64_t> steps;
  for (const CheckpointEntry& checkpoint : list_checkpoints(dir)) steps.push_back(checkpoint.step);
  CHECK(steps == std::vector<int64_t>{2, 8});
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace bert
