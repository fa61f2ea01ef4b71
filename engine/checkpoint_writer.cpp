#include "engine/checkpoint_writer.h"

#include <cstdio>
#include <utility>

#include "core/file_io.h"
#include "io/model_dir.h"

namespace bert {

CheckpointContents capture_checkpoint(const TrainerState& state, BertQaModel& model,
                                      AdamWOptimizer& optimizer, const BertConfig& config,
                                      const std::string& vocab_file, bool do_lower_case,
                                      bool model_only) {
  CheckpointContents contents;
  contents.state = state;
  contents.model_only = model_only;
  // Copies of everything the model files are made of: the writer thread reads nothing live.
  contents.write_model = [config, parameters = model.parameters(), vocab_file,
                          do_lower_case](const std::string& dir) {
    save_model_dir(dir, config, parameters, vocab_file, do_lower_case);
  };
  if (!model_only) contents.training = capture_training_tensors(model, optimizer);
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
  thread_ =
      std::thread([this, output_dir, save_total_limit, started, contents = std::move(contents)] {
        Written written{"", contents.state.global_step, contents.model_only, 0};
        std::exception_ptr error;
        try {
          written.path = write_checkpoint(output_dir, contents, save_total_limit);
          written.seconds =
              std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        } catch (...) {
          error = std::current_exception();
        }
        std::lock_guard<std::mutex> lock(mutex_);
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

std::vector<CheckpointWriter::Written> CheckpointWriter::take_written() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<Written> out;
  std::swap(out, written_);
  return out;
}

}  // namespace bert
