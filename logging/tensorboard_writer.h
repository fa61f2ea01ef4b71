// TensorBoard event files written by our own code (no TensorFlow, no protobuf library).
//
// File: <log_dir>/events.out.tfevents.<unix seconds>.<hostname> (the name TensorBoard and
// Hugging Face use; ".<n>" is appended when that name already exists). It is a TFRecord
// stream; each record is
//   uint64 length (LE) | uint32 masked_crc32c(length bytes) | payload | uint32
//   masked_crc32c(payload)
// and each payload a serialized tensorflow.Event:
//   Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
//   Summary { repeated Value value = 1; }
//   Value   { string tag = 1; float simple_value = 2; TensorProto tensor = 8;
//             SummaryMetadata metadata = 9; }
// A text (add_text) is what torch.utils.tensorboard's add_text writes: tag "<tag>/text_summary",
// metadata.plugin_data.plugin_name "text", a DT_STRING tensor of shape [1] holding the text.
// The first record is Event{wall_time, step 0, file_version "brain.Event:2"}. Each
// add_scalar / add_scalars call appends one Event and fflushes it, so a crash loses nothing
// already logged. Values are stored as float, as TensorBoard's simple_value is.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace bert {

inline constexpr const char* kTensorBoardFileVersion = "brain.Event:2";

class TensorBoardWriter {
 public:
  // Creates log_dir (and parents) and the event file, and writes the file_version record.
  // Throws BertError naming the path when either cannot be created or written.
  explicit TensorBoardWriter(const std::string& log_dir);
  ~TensorBoardWriter();
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

  // One scalar at `step`, wall_time = now; written and flushed before returning.
  void add_scalar(const std::string& tag, double value, int64_t step);
  // Several scalars of one step as one Event (one Summary with several Values), one flush.
  void add_scalars(const std::vector<std::pair<std::string, double>>& values, int64_t step);
  // A text shown in TensorBoard's Text tab under "<tag>/text_summary" (as SummaryWriter.add_text).
  void add_text(const std::string& tag, const std::string& text, int64_t step);
  // fflush; add_* already flush, so this is only needed after write errors were ignored.
  void flush();
  // Flushes and closes; later add_* calls throw. The destructor closes without throwing.
  void close();

  const std::string& path() const { return path_; }

 private:
  void write_event(const std::string& event);

  std::string path_;
  std::FILE* file_ = nullptr;
};

// Hugging Face's default logging_dir: <output_dir>/runs/<Mon><DD>_<HH>-<MM>-<SS>_<hostname>
// (TrainingArguments' default_logdir, local time), so each run gets its own TensorBoard run.
std::string default_logging_dir(const std::string& output_dir);

// The tag transformers' TensorBoardCallback gives a logged key (integrations' rewrite_logs):
// "eval_x" -> "eval/x", "test_x" -> "test/x", any other key -> "train/<key>".
std::string hf_tensorboard_tag(const std::string& key);

// ---- encoding, exposed so tests can check exact bytes --------------------------------
// Seconds since the Unix epoch, with sub-second precision.
double unix_time_now();
std::string encode_file_version_event(double wall_time, const std::string& file_version);
std::string encode_scalar_event(double wall_time, int64_t step,
                                const std::vector<std::pair<std::string, float>>& values);
std::string encode_text_event(double wall_time, int64_t step, const std::string& tag,
                              const std::string& text);
// payload framed as one TFRecord (length, masked CRCs).
std::string frame_tfrecord(const std::string& payload);

}  // namespace bert
