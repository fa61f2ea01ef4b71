// Reads back TensorBoard event files (the format described in tensorboard_writer.h), for
// tests and tools. Every record's two masked CRC32Cs are verified and the Event protobuf is
// decoded field by field, skipping unknown fields by wire type, so files from other writers
// (TensorFlow, PyTorch) read too. Summary values with a simple_value are scalars, those with a
// one-string DT_STRING tensor texts (add_text's); other kinds (images, histograms) are skipped.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace bert {

struct ScalarEvent {
  std::string tag;
  int64_t step = 0;
  float value = 0;
  double wall_time = 0;
};

// One decoded Event record.
struct TensorBoardEvent {
  double wall_time = 0;
  int64_t step = 0;
  std::string file_version;                           // empty unless the record holds one
  std::vector<std::pair<std::string, float>> scalars;  // (tag, simple_value), in order
  std::vector<std::pair<std::string, std::string>> texts;  // (tag, text), in order
};

// Every record of the file, in order. Throws InputError "<path>: record <i> at byte <offset>:
// <what>" on a CRC mismatch, a truncated record or a malformed protobuf.
std::vector<TensorBoardEvent> read_tensorboard_events(const std::string& path);

// The scalars of every record, flattened in file order.
std::vector<ScalarEvent> read_tensorboard_scalars(const std::string& path);

}  // namespace bert
