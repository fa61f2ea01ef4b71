// Checkpoints written beside training. At a save point the training thread copies the
// checkpoint's tensors to host memory (CheckpointContents: the step's values, so the next
// steps may change the model at once) and hands them to a writer thread, which writes them
// (write_checkpoint: a temporary directory, every file synced, renamed when complete, then
// rotation) while training goes on: a bert-base checkpoint is 1.7 GB, seconds of disk time
// per save that the training steps no longer wait for.
//
// At most one checkpoint is in flight: submit() first waits for the previous one, so host
// memory holds one copy at most and checkpoints complete in step order. A write's error is
// rethrown by the next submit() or wait(): a failed save still fails the run, at the next save
// point or at the end instead of at once. A checkpoint's final name still appears only once it
// is complete: a crash during a write loses that checkpoint and keeps the earlier ones, as a
// crash during a save on the training thread did; the write now lasts into the next steps (the
// log's "saved" line marks its end). The destructor waits for the write in flight (an exception
// leaving the training loop included).
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/checkpoint_dirs.h"
#include "io/model_dir.h"  // SavedTokenizer

namespace bert {

// The checkpoint of the model and the optimizer as they are now, in host memory: the model
// files (config.json, model.safetensors of the master weights, the vocabulary copied from
// vocab_file, tokenizer_config.json) and, unless model_only, the training tensors. `reuse`:
// an earlier capture's memory (CheckpointWriter::take_spare), filled again without paging in
// 1.3 GB afresh.
CheckpointContents capture_checkpoint(const TrainerState& state, BertQaModel& model,
                                      AdamWOptimizer& optimizer, const BertConfig& config,
                                      const std::string& vocab_file,
                                      const SavedTokenizer& tokenizer, bool model_only,
                                      std::shared_ptr<TrainingTensors> reuse = nullptr);

class CheckpointWriter {
 public:
  struct Written {
    std::string path;
    int64_t step = 0;
    bool model_only = false;
    double seconds = 0;  // from submit() to the rename and rotation
  };

  CheckpointWriter() = default;
  CheckpointWriter(const CheckpointWriter&) = delete;
  CheckpointWriter& operator=(const CheckpointWriter&) = delete;
  // Waits for the write in flight; an error it ends with is printed (a destructor cannot throw).
  ~CheckpointWriter();

  // Waits for the previous write (rethrowing its error), then starts writing `contents` as
  // output_dir/checkpoint-<step> on the writer thread. Returns that final path.
  std::string submit(const std::string& output_dir, CheckpointContents contents,
                     int64_t save_total_limit);
  // Waits for the write in flight, if any; rethrows its error (once).
  void wait();
  // Whether a write is still running.
  bool busy();
  // The writes completed since the last call, oldest first; does not wait.
  std::vector<Written> take_written();
  // The tensors of the last completed write, for capture_checkpoint to fill again; null while a
  // write runs or when there is none.
  std::shared_ptr<TrainingTensors> take_spare();

 private:
  std::thread thread_;
  std::mutex mutex_;  // guards the four below
  bool running_ = false;
  std::shared_ptr<TrainingTensors> spare_;
  std::exception_ptr error_;
  std::vector<Written> written_;
};

}  // namespace bert
