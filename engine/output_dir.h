// A training run's output_dir: the lock that keeps a second run out, what in it train_squad
// wrote (and so may resume from, replace or delete) and what belongs to someone else.
//
// Policy (Hugging Face run_qa.py's, made safe): a training run may start in an output_dir that
// is absent, empty, or holds only what an interrupted run of ours leaves (checkpoints, which
// it resumes, trainer_log.jsonl, training_args.json and runs/). Anything else there, an earlier
// finished run's model and results included, is refused unless --overwrite_output_dir is given;
// that option deletes only what train_squad writes (our checkpoints, model files, result
// files, a generated model card, metrics log, temporaries of dead processes) and keeps
// everything else untouched, TensorBoard's runs/ (one directory per run, as with Hugging Face)
// and a README.md without the generated notice (the user's own card) included.
#pragma once

#include <string>
#include <vector>

namespace bert {

inline constexpr const char* kOutputDirLockFile = ".train_squad.lock";

// An exclusive lock (flock) on output_dir/.train_squad.lock, held for the object's lifetime
// (released by the kernel when the process ends, however it ends: a holder that has ended but
// whose threads still finish their I/O, a zombie, is waited for up to 30 s); the file holds the
// holder's pid. The file itself stays: deleting it would let two runs lock two different files.
class OutputDirLock {
 public:
  OutputDirLock() = default;
  OutputDirLock(OutputDirLock&& other) noexcept;
  OutputDirLock& operator=(OutputDirLock&& other) noexcept;
  OutputDirLock(const OutputDirLock&) = delete;
  ~OutputDirLock();
  // Creates the lock file when needed and takes the lock without waiting; InputError naming
  // output_dir (and the holder's pid) when another process holds it.
  static OutputDirLock acquire(const std::string& output_dir);

 private:
  int fd_ = -1;
};

struct OutputDirSurvey {
  std::vector<std::string> ours;       // entries train_squad wrote (names relative to output_dir)
  std::vector<std::string> finished;   // of those, a finished run's model and result files
  std::vector<std::string> foreign;    // entries train_squad did not write
  std::vector<std::string> resumable;  // checkpoints with training state, by step
  std::vector<std::string> model_only;  // checkpoints without it (--save_only_model), by step
};

// Classifies every entry directly in output_dir (none when it is absent). The lock file and
// temporaries of our saves count as ours; trainer_log.jsonl, training_args.json and runs/ (when
// it holds only TensorBoard event files) as ours; model and result files, and a README.md that
// is a generated model card (engine/model_card.h), as ours and finished.
OutputDirSurvey survey_output_dir(const std::string& output_dir);

// The policy above for a training run: returns "" when it may start (or resume) here, else
// the reason, naming up to three offending entries. explicit_resume (--resume_from_checkpoint
// given): an earlier run's model and results do not refuse it (its checkpoint continues that
// run, as run_qa.py resumes past them; a run killed during its final evaluation is finished
// so). Without it, checkpoints that hold no training state (--save_only_model) and none that
// does refuse a fresh start beside them: they cannot be resumed, and would be mixed with the
// new run's.
std::string output_dir_refusal(const std::string& output_dir, const OutputDirSurvey& survey,
                               bool explicit_resume = false);

// --overwrite_output_dir: deletes what survey_output_dir counts as ours (except the lock
// file, runs/ and training_args.json, which the run clearing the directory has written
// already) and returns the entries it kept (someone else's).
std::vector<std::string> clear_previous_run(const std::string& output_dir);

}  // namespace bert
