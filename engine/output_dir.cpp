// The output_dir lock and policy. See output_dir.h.
#include "engine/output_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "core/error.h"
#include "core/file_io.h"
#include "core/temporaries.h"  // process_alive
#include "engine/checkpoint_dirs.h"
#include "engine/model_card.h"
#include "engine/training_state.h"
#include "io/model_dir.h"  // is_saved_model_file_name

namespace bert {
namespace {

namespace fs = std::filesystem;

// Files train_squad writes directly in output_dir at the end of a run (the names before
// Hugging Face's, predictions.json and nbest_predictions.json, too: an older run left them).
bool is_finished_run_file(const std::string& name) {
  static const char* const kNames[] = {
      "train_results.json",    "eval_results.json",        "all_results.json",
      kTrainerStateFile,       "eval_predictions.json",    "eval_nbest_predictions.json",
      "predictions.json",      "nbest_predictions.json",   "eval_null_odds.json",
      "predict_results.json",  "predict_predictions.json", "predict_nbest_predictions.json",
      "predict_null_odds.json"};
  return is_saved_model_file_name(name) ||
         std::any_of(std::begin(kNames), std::end(kNames),
                     [&](const char* known) { return name == known; });
}

// Written when a run starts (rank 0, after the lock): what an interrupted run leaves too.
bool is_run_start_file(const std::string& name) { return name == "training_args.json"; }

bool is_event_file(const std::string& name) { return name.rfind("events.out.tfevents.", 0) == 0; }

// runs/ as TensorBoardWriter fills it: event files, directly or in one directory per run
// (runs/<date>_<host>/, default_logging_dir).
bool holds_only_event_files(const fs::path& dir, int depth = 0) {
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_symlink(ec)) return false;
    if (entry.is_directory(ec)) {
      if (depth > 0 || !holds_only_event_files(entry.path(), depth + 1)) return false;
    } else if (!is_event_file(entry.path().filename().string())) {
      return false;
    }
  }
  return !ec;
}

bool all_digits(const std::string& text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Temporaries of our atomic saves: "<our file>.tmp.<pid>" (nested for staged model files) and
// "checkpoint-<step>[.old].tmp-<pid>" directories.
bool is_our_temporary(const std::string& name) {
  for (const char* marker : {".tmp.", ".tmp-"}) {
    const size_t at = name.rfind(marker);
    if (at == std::string::npos || !all_digits(name.substr(at + 5))) continue;
    std::string base = name.substr(0, at);
    // README.md: the model card's, which never completed (so whose text cannot be judged).
    if (is_our_temporary(base) || is_finished_run_file(base) || is_run_start_file(base) ||
        base == "trainer_log.jsonl" || base == ".write_test" || base == "README.md")
      return true;
    if (base.size() > 4 && base.compare(base.size() - 4, 4, ".old") == 0) base.resize(base.size() - 4);
    if (base.rfind("checkpoint-", 0) == 0 && all_digits(base.substr(11))) return true;
  }
  return false;
}

std::string first_entries(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < 3; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > 3) out += ", ... (" + std::to_string(names.size()) + " in all)";
  return out;
}

}  // namespace

OutputDirLock::OutputDirLock(OutputDirLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }

OutputDirLock& OutputDirLock::operator=(OutputDirLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

OutputDirLock::~OutputDirLock() {
  if (fd_ >= 0) ::close(fd_);
}

OutputDirLock OutputDirLock::acquire(const std::string& output_dir) {
  const std::string path = join_path(output_dir, kOutputDirLockFile);
  OutputDirLock lock;
  lock.fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (lock.fd_ < 0) throw BertError(path + ": cannot create the output_dir lock: " + std::strerror(errno));
  // A holder that has ended (a killed run whose threads are still finishing their I/O: its
  // main thread already shows as a zombie) releases the lock in a moment: waited for, briefly.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (::flock(lock.fd_, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    if (error != EWOULDBLOCK) throw BertError(path + ": cannot lock: " + std::strerror(error));
    char holder[32] = {0};
    const ssize_t got = ::pread(lock.fd_, holder, sizeof holder - 1, 0);
    std::string pid = got > 0 ? std::string(holder, static_cast<size_t>(got)) : "";
    pid.erase(std::remove(pid.begin(), pid.end(), '\n'), pid.end());
    const long owner = pid_of(pid);
    if (owner > 0 && !process_alive(owner) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    throw_input_error(output_dir, "",
                      "in use by another train_squad run" + (pid.empty() ? std::string() : " (pid " + pid + ")") +
                          ", which holds " + kOutputDirLockFile +
                          "; wait for it to end, or give another --output_dir");
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(lock.fd_, 0) != 0 || ::pwrite(lock.fd_, pid.data(), pid.size(), 0) != ssize_t(pid.size()))
    throw BertError(path + ": cannot write the lock holder's pid: " + std::strerror(errno));
  return lock;
}

OutputDirSurvey survey_output_dir(const std::string& output_dir) {
  OutputDirSurvey survey;
  std::error_code ec;
  if (!fs::is_directory(output_dir, ec)) return survey;
  std::vector<std::string> checkpoints;
  for (const CheckpointEntry& checkpoint : list_checkpoints(output_dir)) {
    checkpoints.push_back(fs::path(checkpoint.path).filename().string());
    (checkpoint.has_state ? survey.resumable : survey.model_only).push_back(checkpoints.back());
  }
  for (const fs::directory_entry& entry : fs::directory_iterator(output_dir, ec)) {
    const std::string name = entry.path().filename().string();
    const bool directory = entry.is_directory(ec) && !entry.is_symlink(ec);
    const bool regular = entry.is_regular_file(ec) && !entry.is_symlink(ec);
    if (std::find(checkpoints.begin(), checkpoints.end(), name) != checkpoints.end() ||
        ((name == kOutputDirLockFile || name == ".write_test") && regular) ||
        is_our_temporary(name) || is_incomplete_checkpoint(output_dir, name) ||
        ((name == "trainer_log.jsonl" || is_run_start_file(name)) && regular) ||
        (name == "runs" && directory && holds_only_event_files(entry.path()))) {
      survey.ours.push_back(name);
    } else if (regular &&
               (is_finished_run_file(name) ||
                (name == "README.md" && is_generated_model_card(entry.path().string())))) {
      survey.ours.push_back(name);
      survey.finished.push_back(name);
    } else {
      survey.foreign.push_back(name);
    }
  }
  if (ec) throw BertError(output_dir + ": cannot list: " + ec.message());
  for (auto* names : {&survey.ours, &survey.finished, &survey.foreign}) std::sort(names->begin(), names->end());
  return survey;
}

std::string output_dir_refusal(const std::string& output_dir, const OutputDirSurvey& survey,
                               bool explicit_resume) {
  const char* fix = "; give --overwrite_output_dir to start afresh (it deletes only what train_squad wrote "
                    "there), or another --output_dir";
  if (!survey.foreign.empty())
    return output_dir + " is not empty and holds files train_squad did not write (" +
           first_entries(survey.foreign) + ")" + fix;
  if (!survey.finished.empty() && !explicit_resume)
    return output_dir + " holds the model or results of an earlier run (" +
           first_entries(survey.finished) + ")" +
           (survey.resumable.empty()
                ? std::string()
                : "; to finish that run or redo its end from its newest checkpoint (" +
                      survey.resumable.back() + "), give --resume_from_checkpoint latest") +
           fix;
  if (!explicit_resume && survey.resumable.empty() && !survey.model_only.empty())
    return output_dir + " holds checkpoints without training state (" +
           first_entries(survey.model_only) +
           ": saved with --save_only_model), which cannot be resumed, and none with it" + fix;
  // What an interrupted run leaves (checkpoints, its log): resumed from the newest checkpoint,
  // or, with none, started afresh with the log cut back to step 0.
  return "";
}

std::vector<std::string> clear_previous_run(const std::string& output_dir) {
  const OutputDirSurvey survey = survey_output_dir(output_dir);
  for (const std::string& name : survey.ours) {
    // runs/ keeps one TensorBoard directory per run (runs/<date>_<host>/, as Hugging Face names
    // them): a new run adds its own beside the earlier ones, as it does under Hugging Face,
    // whose --overwrite_output_dir never deletes the logging history.
    // training_args.json is already this run's (claim_output_dir writes it first).
    if (name == kOutputDirLockFile || name == "runs" || is_run_start_file(name)) continue;
    std::string path = join_path(output_dir, name);
    std::error_code ec;
    // A checkpoint goes out of the way in one rename first (as rotation does): a crash while its
    // files are deleted one by one must not leave a checkpoint-N lacking some, which would stop
    // the next resume. The renamed leftover is a temporary the next run removes.
    if (fs::is_directory(path, ec)) {
      const std::string doomed = path + ".old.tmp-" + std::to_string(::getpid());
      fs::remove_all(doomed, ec);
      if (std::rename(path.c_str(), doomed.c_str()) != 0)
        throw BertError(path + ": cannot delete (--overwrite_output_dir): " + std::strerror(errno));
      path = doomed;
    }
    fs::remove_all(path, ec);
    if (ec) throw BertError(path + ": cannot delete (--overwrite_output_dir): " + ec.message());
  }
  return survey.foreign;
}

}  // namespace bert
