// Writes a TensorBoard event file and, beside it, the same scalars as metrics JSONL (exact
// doubles) and its text as expected_text.txt, so check_tensorboard_compat.py can compare what
// the real TensorBoard reads against what was written. Usage: write_tensorboard_sample <log_dir>
#include <cmath>
#include <cstdio>
#include <exception>
#include <string>

#include "core/file_io.h"
#include "logging/metrics_log.h"
#include "logging/tensorboard_writer.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <log_dir>\n", argv[0]);
    return 2;
  }
  try {
    const std::string log_dir = argv[1];
    bert::TensorBoardWriter writer(log_dir);
    bert::MetricsLog expected(bert::join_path(log_dir, "expected.jsonl"));
    for (int64_t step = 0; step <= 1000; step += 50) {
      const double loss = 6.0 * std::exp(-static_cast<double>(step) / 300.0) + 0.3;
      const double learning_rate = 3e-5 * (1.0 - static_cast<double>(step) / 1000.0);
      writer.add_scalar("train/loss", loss, step);
      writer.add_scalar("train/learning_rate", learning_rate, step);
      expected.write(step, {{"train/loss", loss}, {"train/learning_rate", learning_rate}});
      if (step % 500 == 0 && step > 0) {
        const double em = 70.0 + step / 100.0 + 0.123456789, f1 = em + 8.0;
        writer.add_scalars({{"eval/exact_match", em}, {"eval/f1", f1}}, step);
        expected.write(step, {{"eval/exact_match", em}, {"eval/f1", f1}});
      }
    }
    // Large and negative steps exercise multi-byte and 10-byte varints.
    writer.add_scalar("misc/big_step", -1.5, int64_t{1} << 40);
    expected.write(int64_t{1} << 40, {{"misc/big_step", -1.5}});
    // A text as Trainer's TensorBoardCallback writes the run's arguments (non-ASCII, newlines).
    const std::string text = "{\n  \"output_dir\": \"runs/caf\u00e9\",\n  \"seed\": 42\n}";
    writer.add_text("args", text, 0);
    bert::write_file_atomic(bert::join_path(log_dir, "expected_text.txt"), text);
    writer.close();
    std::printf("%s\n", writer.path().c_str());
  } catch (const std::exception& error) {
    std::fprintf(stderr, "error: %s\n", error.what());
    return 1;
  }
  return 0;
}
