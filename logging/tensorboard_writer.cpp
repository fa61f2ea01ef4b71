#include "logging/tensorboard_writer.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <ctime>
#include <cstring>

#include "core/error.h"
#include "core/file_io.h"
#include "logging/crc32c.h"
#include "logging/event_fields.h"
#include "logging/protobuf_wire.h"

namespace bert {

namespace {

void append_le(std::string& out, uint64_t bits, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((bits >> (8 * i)) & 0xFFu));
}

std::string host_name() {
  char buffer[256] = {};
  if (::gethostname(buffer, sizeof buffer - 1) != 0 || buffer[0] == '\0') return "localhost";
  // A '/' would turn the name into a path; TensorBoard only needs "tfevents" in the name.
  std::string name(buffer);
  for (char& c : name) {
    if (c == '/') c = '_';
  }
  return name;
}

// Opens a new file exclusively ("x"), so two writers started in the same second on the same
// host never append to one another's file: the second gets a ".1" suffix, and so on.
std::FILE* create_event_file(const std::string& log_dir, std::string& path) {
  const auto seconds = static_cast<long long>(unix_time_now());
  const std::string base =
      join_path(log_dir, "events.out.tfevents." + std::to_string(seconds) + "." + host_name());
  for (int attempt = 0; attempt < 1000; ++attempt) {
    path = attempt == 0 ? base : base + "." + std::to_string(attempt);
    std::FILE* file = std::fopen(path.c_str(), "wbxe");  // x: never another's; e: close-on-exec
    if (file) return file;
    if (errno != EEXIST) {
      throw BertError(path + ": cannot create TensorBoard event file: " + std::strerror(errno));
    }
  }
  throw BertError(base + ": cannot create TensorBoard event file: 1000 files of that name exist");
}

}  // namespace

std::string default_logging_dir(const std::string& output_dir) {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char stamp[64];
  std::strftime(stamp, sizeof stamp, "%b%d_%H-%M-%S", &local);  // Python's "%b%d_%H-%M-%S", C locale
  return join_path(join_path(output_dir, "runs"), std::string(stamp) + "_" + host_name());
}

double unix_time_now() {
  const auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration<double>(since_epoch).count();
}

std::string encode_file_version_event(double wall_time, const std::string& file_version) {
  std::string event;
  append_double_field(event, event_fields::kWallTime, wall_time);
  append_int64_field(event, event_fields::kStep, 0);
  append_bytes_field(event, event_fields::kFileVersion, file_version);
  return event;
}

std::string encode_scalar_event(double wall_time, int64_t step,
                                const std::vector<std::pair<std::string, float>>& values) {
  std::string summary;
  for (const auto& [tag, value] : values) {
    std::string encoded_value;
    append_bytes_field(encoded_value, event_fields::kValueTag, tag);
    append_float_field(encoded_value, event_fields::kSimpleValue, value);
    append_bytes_field(summary, event_fields::kSummaryValue, encoded_value);
  }
  std::string event;
  append_double_field(event, event_fields::kWallTime, wall_time);
  append_int64_field(event, event_fields::kStep, step);
  append_bytes_field(event, event_fields::kSummary, summary);
  return event;
}

std::string encode_text_event(double wall_time, int64_t step, const std::string& tag,
                              const std::string& text) {
  std::string plugin_data, metadata, dim, shape, tensor, value, summary, event;
  append_bytes_field(plugin_data, event_fields::kPluginName, "text");
  append_bytes_field(metadata, event_fields::kPluginData, plugin_data);
  append_int64_field(dim, event_fields::kDimSize, 1);
  append_bytes_field(shape, event_fields::kShapeDim, dim);
  append_int64_field(tensor, event_fields::kTensorDtype, event_fields::kDtypeString);
  append_bytes_field(tensor, event_fields::kTensorShape, shape);
  append_bytes_field(tensor, event_fields::kTensorStringVal, text);
  append_bytes_field(value, event_fields::kValueTag, tag + "/text_summary");
  append_bytes_field(value, event_fields::kValueTensor, tensor);
  append_bytes_field(value, event_fields::kValueMetadata, metadata);
  append_bytes_field(summary, event_fields::kSummaryValue, value);
  append_double_field(event, event_fields::kWallTime, wall_time);
  append_int64_field(event, event_fields::kStep, step);
  append_bytes_field(event, event_fields::kSummary, summary);
  return event;
}

std::string hf_tensorboard_tag(const std::string& key) {
  for (const char* prefix : {"eval", "test"}) {
    const std::string with_underscore = std::string(prefix) + "_";
    if (key.compare(0, with_underscore.size(), with_underscore) == 0)
      return std::string(prefix) + "/" + key.substr(with_underscore.size());
  }
  return "train/" + key;
}

std::string frame_tfrecord(const std::string& payload) {
  std::string record;
  record.reserve(payload.size() + 16);
  append_le(record, payload.size(), 8);
  append_le(record, masked_crc32c(record.data(), 8), 4);
  record += payload;
  append_le(record, masked_crc32c(payload.data(), payload.size()), 4);
  return record;
}

TensorBoardWriter::TensorBoardWriter(const std::string& log_dir) {
  make_directories(log_dir);
  file_ = create_event_file(log_dir, path_);
  write_event(encode_file_version_event(unix_time_now(), kTensorBoardFileVersion));
}

TensorBoardWriter::~TensorBoardWriter() {
  if (file_) std::fclose(file_);
}

void TensorBoardWriter::add_scalar(const std::string& tag, double value, int64_t step) {
  add_scalars({{tag, value}}, step);
}

void TensorBoardWriter::add_scalars(const std::vector<std::pair<std::string, double>>& values,
                                    int64_t step) {
  std::vector<std::pair<std::string, float>> as_float;
  as_float.reserve(values.size());
  for (const auto& [tag, value] : values) {
    if (tag.empty()) throw BertError(path_ + ": TensorBoard scalar tag must not be empty");
    as_float.emplace_back(tag, static_cast<float>(value));
  }
  write_event(encode_scalar_event(unix_time_now(), step, as_float));
}

void TensorBoardWriter::add_text(const std::string& tag, const std::string& text, int64_t step) {
  if (tag.empty()) throw BertError(path_ + ": TensorBoard text tag must not be empty");
  write_event(encode_text_event(unix_time_now(), step, tag, text));
}

void TensorBoardWriter::write_event(const std::string& event) {
  if (!file_) throw BertError(path_ + ": TensorBoard writer is closed");
  const std::string record = frame_tfrecord(event);
  if (std::fwrite(record.data(), 1, record.size(), file_) != record.size()) {
    throw BertError(path_ + ": cannot write TensorBoard event: " + std::strerror(errno));
  }
  flush();
}

void TensorBoardWriter::flush() {
  if (!file_) return;
  if (std::fflush(file_) != 0) {
    throw BertError(path_ + ": cannot flush TensorBoard events: " + std::strerror(errno));
  }
}

void TensorBoardWriter::close() {
  if (!file_) return;
  std::FILE* file = file_;
  file_ = nullptr;
  if (std::fclose(file) != 0) {
    throw BertError(path_ + ": cannot close TensorBoard event file: " + std::strerror(errno));
  }
}

}  // namespace bert
