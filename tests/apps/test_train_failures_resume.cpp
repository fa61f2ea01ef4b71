// train_squad interrupted and resumed, through the real binary: a run stopped after a step
// (--stop_after_steps), one stopped by SIGTERM (exit 143, checkpoint, resume command printed)
// and one hit by two SIGTERMs during the stop, each continued to the end, must log exactly
// the losses of an uninterrupted run and save a byte-identical model.safetensors.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <set>
#include <thread>

#include "core/file_io.h"
#include "engine/checkpoint_checksums.h"
#include "engine/checkpoint_dirs.h"
#include "engine/training_state.h"
#include "io/safetensors.h"
#include "tests/apps/test_train_failures_util.h"

namespace bert {
namespace {

namespace fs = std::filesystem;
using test::CommandResult;

const std::string& root() {
  static const std::string dir = test::scratch_with_tiny_model("bert_test_train_resume_");
  return dir;
}

// 30 windows, batches of 4, accumulation 2: 4 steps per epoch, 40 steps = 10 epochs; dropout
// on. 40 steps (about 15 ms each here) leave the signal tests ample time to land mid-run.
std::string command(const std::string& output_dir, const std::string& extra = "") {
  return test::train_squad_bin() + " --device cpu --model_name_or_path " + root() + "/model --train_file " +
         test::source_path("data/samples/squad-mini.json") +
         " --do_train --per_device_train_batch_size 4 --gradient_accumulation_steps 2 --learning_rate 1e-3"
         " --max_steps 40 --warmup_steps 3 --weight_decay 0.01 --logging_steps 1 --save_steps 5"
         " --save_total_limit 2 --seed 11 --max_seq_length 96 --doc_stride 48 --max_train_samples 30"
         " --output_dir " + output_dir + " " + extra;
}

// trainer_log.jsonl without the timing fields, which differ between any two runs. The last
// line is the run's summary: its train_loss (the mean over the whole run) must survive a resume.
std::vector<std::string> log_without_timing(const std::string& output_dir) {
  std::vector<std::string> lines;
  const std::regex timing(R"re(, "(windows_per_second|train_runtime|train_samples_per_second|train_steps_per_second)": [^,}]*)re");
  for (const std::string& line : read_lines(output_dir + "/trainer_log.jsonl"))
    lines.push_back(std::regex_replace(line, timing, ""));
  return lines;
}

// The uninterrupted run every other run is compared with.
const std::string& reference() {
  static const std::string dir = [] {
    const std::string out = root() + "/uninterrupted";
    const CommandResult run = test::run_command(command(out));
    INFO(run.output);
    REQUIRE(run.status == 0);
    REQUIRE(log_without_timing(out).size() == 41);  // 40 steps + the summary
    return out;
  }();
  return dir;
}

// A checkpoint's model.safetensors holds the master weights of its training_state.safetensors.
void check_model_is_master(const std::string& checkpoint) {
  INFO(checkpoint);
  const SafetensorsFile model = SafetensorsFile::open(checkpoint + "/model.safetensors");
  const SafetensorsFile state = SafetensorsFile::open(checkpoint + "/" + kTrainingTensorsFile);
  size_t compared = 0;
  for (const std::string& name : state.names()) {
    if (name.rfind("master/", 0) != 0) continue;
    const std::string parameter = name.substr(7);
    REQUIRE(model.contains(parameter));
    CHECK(model.read_f32(parameter) == state.read_f32(name));
    ++compared;
  }
  CHECK(compared == model.names().size());
}

void check_same_as_reference(const std::string& out) {
  CHECK(log_without_timing(out) == log_without_timing(reference()));
  CHECK(read_file(out + "/model.safetensors") == read_file(reference() + "/model.safetensors"));
  for (const char* checkpoint : {"/checkpoint-35", "/checkpoint-40"})
    CHECK(read_file(out + checkpoint + "/training_state.safetensors") ==
          read_file(reference() + checkpoint + "/training_state.safetensors"));
  // The last step's checkpoint (as transformers writes one) holds the final model.
  CHECK(read_file(out + "/checkpoint-40/model.safetensors") == read_file(out + "/model.safetensors"));
  // Checkpoints are written while the run goes on: each holds its own step's weights in both files.
  for (const char* checkpoint : {"/checkpoint-35", "/checkpoint-40"})
    check_model_is_master(out + checkpoint);
  CHECK_FALSE(test::has_entry_matching(out, R"(\.tmp)"));
}

std::set<std::string> checkpoints(const std::string& out) {
  std::set<std::string> names;
  for (const CheckpointEntry& c : list_checkpoints(out)) names.insert(fs::path(c.path).filename().string());
  return names;
}

// Starts the run in the background and returns once its first step is logged.
pid_t start_and_wait_for_first_step(const std::string& out, const std::string& extra = "") {
  const pid_t pid = test::spawn(command(out, extra), root() + "/" + fs::path(out).filename().string() + ".log");
  REQUIRE(pid > 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  const std::string log = out + "/trainer_log.jsonl";
  while (!(fs::exists(log) && fs::file_size(log) > 0)) {
    int status = 0;
    REQUIRE(waitpid(pid, &status, WNOHANG) == 0);  // still running
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return pid;
}

TEST_CASE("a run that ended after its last checkpoint but before its model resumes to the same model", "[app][resume]") {
  // What a crash between the last step's checkpoint and the final save leaves: checkpoints and
  // the log, no model. The same command resumes at the last step, trains nothing, saves.
  const std::string out = root() + "/saved-last-checkpoint-only";
  fs::remove_all(out);
  fs::create_directories(out);
  for (const char* entry : {"checkpoint-35", "checkpoint-40", "trainer_log.jsonl"})
    fs::copy(reference() + "/" + entry, out + "/" + entry, fs::copy_options::recursive);
  const CommandResult run = test::run_command(command(out));
  INFO(run.output);
  REQUIRE(run.status == 0);
  CHECK_THAT(run.output, Catch::Contains("resuming from " + out + "/checkpoint-40 at step 40"));
  CHECK(read_file(out + "/model.safetensors") == read_file(reference() + "/model.safetensors"));
}

TEST_CASE("a finished run's end redone from its last checkpoint logs that end once", "[app][resume]") {
  // What the refusal of a finished run's directory offers (--resume_from_checkpoint latest), and
  // what a crash after the summary line but before trainer_state.json leaves: the end is redone.
  const std::string out = root() + "/redone-end";
  fs::remove_all(out);
  fs::copy(reference(), out, fs::copy_options::recursive);
  // One checkpoint too many, as a run killed between its last save and that save's rotation
  // leaves it (--save_total_limit 2): the resumed run deletes the oldest.
  fs::copy(out + "/checkpoint-35", out + "/checkpoint-30", fs::copy_options::recursive);
  const CommandResult run = test::run_command(command(out, "--resume_from_checkpoint latest"));
  INFO(run.output);
  REQUIRE(run.status == 0);
  CHECK_THAT(run.output, Catch::Contains("resuming from " + out + "/checkpoint-40 at step 40"));
  CHECK(log_without_timing(out) == log_without_timing(reference()));
  CHECK(read_file(out + "/model.safetensors") == read_file(reference() + "/model.safetensors"));
  CHECK(checkpoints(out) == std::set<std::string>{"checkpoint-35", "checkpoint-40"});
}

TEST_CASE(
    "a checkpoint holds Trainer's trainer_state.json and its log, and carries them into another "
    "output_dir",
    "[app][resume]") {
  const std::string checkpoint = reference() + "/checkpoint-35";
  // Hugging Face's TrainerState, as Trainer saves it into a checkpoint (transformers'
  // TrainerState.load_from_json reads it): log_history through this step.
  const std::string state = read_file(checkpoint + "/trainer_state.json");
  CHECK_THAT(state, Catch::Contains("\"global_step\": 35,") &&
                        Catch::Contains("\"log_history\": [") && Catch::Contains("\"step\": 35") &&
                        !Catch::Contains("\"step\": 36") && !Catch::Contains("\"format\""));
  const std::vector<std::string> whole_log = read_lines(reference() + "/trainer_log.jsonl");
  CHECK(read_lines(checkpoint + "/trainer_log.jsonl") ==
        std::vector<std::string>(whole_log.begin(), whole_log.begin() + 35));

  // A damaged copy resumed into a directory with a log of its own: refused, the log untouched.
  const std::string damaged = root() + "/damaged-checkpoint-35", kept = root() + "/kept-log";
  fs::remove_all(damaged);
  fs::remove_all(kept);
  fs::copy(checkpoint, damaged, fs::copy_options::recursive);
  fs::remove(damaged + "/" + kTrainingTensorsFile);
  fs::create_directories(kept);
  write_file_atomic(kept + "/trainer_log.jsonl", "{\"step\": 1, \"loss\": 1.0}\n");
  const CommandResult refused =
      test::run_command(command(kept, "--resume_from_checkpoint " + damaged));
  INFO(refused.output);
  CHECK(refused.status == 1);
  CHECK_THAT(refused.output, Catch::Contains(damaged + "/" + kTrainingTensorsFile));
  CHECK(read_file(kept + "/trainer_log.jsonl") == "{\"step\": 1, \"loss\": 1.0}\n");

  // Resumed into a fresh output_dir: the history before the checkpoint carries on.
  const std::string elsewhere = root() + "/resumed-elsewhere";
  fs::remove_all(elsewhere);
  const CommandResult run =
      test::run_command(command(elsewhere, "--resume_from_checkpoint " + checkpoint));
  INFO(run.output);
  REQUIRE(run.status == 0);
  CHECK_THAT(run.output,
             Catch::Contains("the log history up to step 35 continues from " + checkpoint));
  CHECK(log_without_timing(elsewhere) == log_without_timing(reference()));
  CHECK(read_file(elsewhere + "/model.safetensors") ==
        read_file(reference() + "/model.safetensors"));

  // A checkpoint as this engine wrote them before 2026-12-07 (its state under trainer_state.json,
  // no log) still resumes, to the same model; its history before the step is not there.
  const std::string old_layout = root() + "/old-layout-checkpoint-35";
  fs::remove_all(old_layout);
  fs::copy(checkpoint, old_layout, fs::copy_options::recursive);
  fs::remove(old_layout + "/trainer_log.jsonl");
  fs::rename(old_layout + "/" + kEngineStateFile, old_layout + "/" + kTrainerStateFile);
  write_checkpoint_checksums(old_layout);
  const std::string from_old = root() + "/resumed-from-old-layout";
  fs::remove_all(from_old);
  const CommandResult old_run =
      test::run_command(command(from_old, "--resume_from_checkpoint " + old_layout));
  INFO(old_run.output);
  REQUIRE(old_run.status == 0);
  CHECK(read_file(from_old + "/model.safetensors") ==
        read_file(reference() + "/model.safetensors"));
  const std::vector<std::string> reference_log = log_without_timing(reference());
  CHECK(log_without_timing(from_old) ==
        std::vector<std::string>(reference_log.begin() + 35, reference_log.end()));
}

TEST_CASE("train_squad stopped after a step and resumed equals an uninterrupted run", "[app][resume]") {
  reference();
  CHECK(checkpoints(reference()) == std::set<std::string>{"checkpoint-35", "checkpoint-40"});
  const std::string out = root() + "/stopped";
  const CommandResult first = test::run_command(command(out, "--stop_after_steps 7"));
  INFO(first.output);
  REQUIRE(first.status == 0);
  CHECK_THAT(first.output, Catch::Contains("--resume_from_checkpoint " + out + "/checkpoint-7"));
  CHECK(checkpoints(out) == std::set<std::string>{"checkpoint-5", "checkpoint-7"});
  CHECK_FALSE(fs::exists(out + "/model.safetensors"));
  CHECK(log_without_timing(out).size() == 7);

  // The same command again: output_dir holds checkpoints, so it resumes from the newest (as
  // Hugging Face's run_qa.py does without --overwrite_output_dir).
  const CommandResult second = test::run_command(command(out));
  INFO(second.output);
  REQUIRE(second.status == 0);
  CHECK_THAT(second.output, Catch::Contains("resuming from " + out + "/checkpoint-7 at step 7"));
  check_same_as_reference(out);
  CHECK(checkpoints(out) == std::set<std::string>{"checkpoint-35", "checkpoint-40"});

  // --overwrite_output_dir starts afresh instead, and ends with the same model.
  const CommandResult again = test::run_command(command(out, "--overwrite_output_dir"));
  INFO(again.output);
  REQUIRE(again.status == 0);
  CHECK_THAT(again.output, !Catch::Contains("resuming"));
  check_same_as_reference(out);
  // Clearing the earlier run's files keeps this run's arguments (written when it claimed the
  // directory), which rerun it.
  CHECK_THAT(read_file(out + "/training_args.json"),
             Catch::Contains("\"overwrite_output_dir\": true"));
}

TEST_CASE("SIGTERM saves a checkpoint, exits 143, and the run resumes exactly", "[app][resume][signal]") {
  reference();
  const std::string out = root() + "/sigterm";
  // --overwrite_output_dir (harmless here) must not reappear in the printed resume command.
  const pid_t pid = start_and_wait_for_first_step(out, "--overwrite_output_dir");
  REQUIRE(kill(pid, SIGTERM) == 0);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  const std::string log = read_file(root() + "/sigterm.log");
  INFO(log);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 143);
  const std::string checkpoint = find_latest_checkpoint(out);
  REQUIRE_FALSE(checkpoint.empty());
  CHECK_THAT(log, Catch::Contains("stopped by SIGTERM") && Catch::Contains("--resume_from_checkpoint " + checkpoint));
  const int64_t step = read_trainer_state(checkpoint).global_step;
  CHECK(step < 40);
  CHECK_FALSE(fs::exists(out + "/model.safetensors"));

  // Run the command it printed.
  const std::smatch printed = [&] {
    std::smatch match;
    REQUIRE(std::regex_search(log, match, std::regex("to continue, run:\n  ([^\n]*)\n")));
    return match;
  }();
  const std::string resume = printed[1];
  CHECK_THAT(resume, !Catch::Contains("--overwrite_output_dir"));
  const CommandResult resumed = test::run_command(resume);
  INFO(resume << "\n" << resumed.output);
  REQUIRE(resumed.status == 0);
  CHECK_THAT(resumed.output, Catch::Contains("at step " + std::to_string(step)));
  check_same_as_reference(out);
}

TEST_CASE("a second SIGTERM during the stop leaves only complete checkpoints", "[app][resume][signal]") {
  reference();
  const std::string out = root() + "/double_sigterm";
  const pid_t pid = start_and_wait_for_first_step(out);
  REQUIRE(kill(pid, SIGTERM) == 0);
  // The second signal as soon as the checkpoint's temporary directory appears (the save takes
  // milliseconds, so this may miss it; either way the invariants below must hold).
  int status = 0;
  pid_t ended = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while ((ended = waitpid(pid, &status, WNOHANG)) == 0 && std::chrono::steady_clock::now() < deadline) {
    if (test::has_entry_matching(out, R"(\.tmp-)")) {
      kill(pid, SIGTERM);
      break;
    }
    std::this_thread::yield();
  }
  if (ended == 0) REQUIRE(waitpid(pid, &status, 0) == pid);
  INFO(read_file(root() + "/double_sigterm.log"));
  // Killed by the second signal (the usual case), or finished the stop before it arrived.
  CHECK(((WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) || (WIFEXITED(status) && WEXITSTATUS(status) == 143)));
  // Whatever carries a checkpoint's final name is complete.
  for (const CheckpointEntry& c : list_checkpoints(out)) {
    INFO(c.path);
    CHECK(read_trainer_state(c.path).global_step == c.step);
    CHECK_NOTHROW(SafetensorsFile::open(c.path + "/training_state.safetensors"));
    CHECK_NOTHROW(SafetensorsFile::open(c.path + "/model.safetensors"));
  }
  // Rerunning picks up from whatever was saved (or from scratch) and ends identically.
  const CommandResult resumed = test::run_command(command(out));
  INFO(resumed.output);
  REQUIRE(resumed.status == 0);
  check_same_as_reference(out);
}

}  // namespace
}  // namespace bert
