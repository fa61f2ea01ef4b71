#include "engine/checkpoint_writer.h"

#include <cstdio>
#include <memory>
#include <utility>

#include "core/file_io.h"
#include "io/model_dir.h"

namespace bert {

CheckpointContents capture_checkpoint(const TrainerState& state, BertQaModel& model,
                                      AdamWOptimizer& optimizer, const BertConfig& config,
                                      const std::string& vocab_file,
                                      const SavedTokenizer& tokenizer, bool model_only,
                                      std::shared_ptr<TrainingTensors> reuse) {
  CheckpointContents contents;
  contents.state = state;
  contents.model_only = model_only;
  // One readback of each buffer; the model files are made from the master weights' copy on the
  // writer thread: nothing there reads the live model, and the step waits for the copies alone.
  contents.tensors = reuse != nullptr ? std::move(reuse) : std::make_shared<TrainingTensors>();
  capture_training_tensors(model, optimizer, /*with_moments=*/!model_only, contents.tensors.get());
  contents.write_model = [config, tensors = contents.tensors, vocab_file,
                          tokenizer](const std::string& dir) {
    save_model_dir(dir, config, tensors->master_by_name(), vocab_file, tokenizer);
  };
  return contents;
}

CheckpointWriter::~CheckpointWriter() {
  try {
    wait();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "[train] error: a checkpoint could not be written: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "[train] error: a checkpoint could not be written\n");
  }
}

std::string CheckpointWriter::submit(const std::string& output_dir, CheckpointContents contents,
                                     int64_t save_total_limit) {
  wait();
  const std::string path = join_path(output_dir, checkpoint_dir_name(contents.state.global_step));
  const auto started = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    running_ = true;
  }
  thread_ = std::thread(
      [this, output_dir, save_total_limit, started, contents = std::move(contents)]() mutable {
        Written written{"", contents.state.global_step, contents.model_only, 0};
        std::exception_ptr error;
        try {
          written.path = write_checkpoint(output_dir, contents, save_total_limit);
          written.seconds =
              std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        } catch (...) {
          error = std::current_exception();
        }
        // The copies' memory goes to the next capture (take_spare); write_model's reference to
        // them goes first.
        contents.write_model = nullptr;
        std::shared_ptr<TrainingTensors> spare = std::move(contents.tensors);
        std::lock_guard<std::mutex> lock(mutex_);
        spare_ = std::move(spare);
        if (error)
          error_ = error;
        else
          written_.push_back(std::move(written));
        running_ = false;
      });
  return path;
}

void CheckpointWriter::wait() {
  if (thread_.joinable()) thread_.join();
  std::exception_ptr error;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    std::swap(error, error_);
  }
  if (error) std::rethrow_exception(error);
}

bool CheckpointWriter::busy() {
  std::lock_guard<std::mutex> lock(mutex_);
  return running_;
}

std::shared_ptr<TrainingTensors> CheckpointWriter::take_spare() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (running_ || spare_ == nullptr || spare_.use_count() != 1) return nullptr;
  return std::move(spare_);
}

std::vector<CheckpointWriter::Written> CheckpointWriter::take_written() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<Written> out;
  std::swap(out, written_);
  return out;
}

}  // namespace bert
