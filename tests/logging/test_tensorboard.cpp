// TensorBoard event files: exact Event bytes, write/read round trips, and that corrupted or
// truncated files are reported with the file and record.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "core/file_io.h"
#include "logging/crc32c.h"
#include "logging/protobuf_wire.h"
#include "logging/tensorboard_reader.h"
#include "logging/tensorboard_writer.h"
#include "logging_test_util.h"

namespace bert {
namespace {

using test::input_error_message;
using test::LogTempDir;

std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out.push_back(static_cast<char>(v));
  return out;
}

void write_raw(const std::string& path, const std::string& data) { write_file_atomic(path, data); }

// The file a writer made, after writing a few records of a short training run.
std::string write_sample_run(const std::string& dir) {
  TensorBoardWriter writer(dir);
  for (int64_t step = 10; step <= 30; step += 10) {
    writer.add_scalar("train/loss", 3.0 / static_cast<double>(step), step);
    writer.add_scalar("train/learning_rate", 3e-5 * (1.0 - step / 100.0), step);
  }
  writer.add_scalars({{"eval/exact_match", 80.91769157994324}, {"eval/f1", 88.52}}, 30);
  return writer.path();
}

TEST_CASE("encode_scalar_event produces the protobuf bytes of tensorflow.Event", "[logging][tensorboard]") {
  const std::string event = encode_scalar_event(1.5, 3, {{"a", 2.0f}});
  const std::string expected =
      bytes({0x09, 0, 0, 0, 0, 0, 0, 0xF8, 0x3F,  // wall_time = 1.5 (field 1, fixed64)
             0x10, 0x03,                          // step = 3 (field 2, varint)
             0x2A, 0x0A,                          // summary (field 5), 10 bytes
             0x0A, 0x08,                          //   value (field 1), 8 bytes
             0x0A, 0x01, 'a',                     //     tag = "a"
             0x15, 0, 0, 0, 0x40});               //     simple_value = 2.0f (field 2, fixed32)
  CHECK(event == expected);

  const std::string version = encode_file_version_event(2.0, "brain.Event:2");
  CHECK(version.substr(9, 2) == bytes({0x10, 0x00}));
  CHECK(version.substr(11) == bytes({0x1A, 13}) + "brain.Event:2");
}

TEST_CASE("a text is written as add_text writes it and reads back", "[logging][tensorboard]") {
  LogTempDir dir;
  TensorBoardWriter writer(dir.file("run"));
  const std::string text = "{\n  \"seed\": 42,\n  \"output_dir\": \"caf\xc3\xa9\"\n}";
  writer.add_text("args", text, 0);
  writer.add_scalars({{"train/loss", 1.5}}, 3);
  writer.close();
  const auto events = read_tensorboard_events(writer.path());
  REQUIRE(events.size() == 3);
  CHECK(events[1].scalars.empty());
  REQUIRE(events[1].texts.size() == 1);
  CHECK(events[1].texts[0].first == "args/text_summary");
  CHECK(events[1].texts[0].second == text);
  CHECK(events[1].step == 0);
  CHECK(events[2].texts.empty());
  // The plugin that shows it: SummaryMetadata.plugin_data.plugin_name = "text" (field 9, 1, 1).
  const std::string event = encode_text_event(1.0, 0, "args", "x");
  CHECK(event.find(std::string("\x4a\x08\x0a\x06\x0a\x04text", 10)) != std::string::npos);
  CHECK_THROWS_WITH(TensorBoardWriter(dir.file("other")).add_text("", "x", 0),
                    Catch::Contains("tag"));
}

TEST_CASE("logged keys get the tags of transformers' TensorBoardCallback",
          "[logging][tensorboard]") {
  CHECK(hf_tensorboard_tag("loss") == "train/loss");
  CHECK(hf_tensorboard_tag("train_runtime") == "train/train_runtime");
  CHECK(hf_tensorboard_tag("epoch") == "train/epoch");
  CHECK(hf_tensorboard_tag("eval_f1") == "eval/f1");
  CHECK(hf_tensorboard_tag("eval_HasAns_total") == "eval/HasAns_total");
  CHECK(hf_tensorboard_tag("test_exact_match") == "test/exact_match");
  CHECK(hf_tensorboard_tag("evaluation") == "train/evaluation");
}

TEST_CASE("frame_tfrecord writes length, masked CRCs and payload", "[logging][tensorboard]") {
  const std::string record = frame_tfrecord("hello");
  REQUIRE(record.size() == 8 + 4 + 5 + 4);
  CHECK(record.substr(0, 8) == bytes({5, 0, 0, 0, 0, 0, 0, 0}));
  auto load32 = [&](size_t at) {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<unsigned char>(record[at + i])) << (8 * i);
    return v;
  };
  CHECK(load32(8) == masked_crc32c(record.data(), 8));
  CHECK(record.substr(12, 5) == "hello");
  CHECK(load32(17) == masked_crc32c("hello", 5));
}

TEST_CASE("TensorBoardWriter output reads back exactly", "[logging][tensorboard]") {
  LogTempDir dir;
  const std::string log_dir = dir.file("runs/run1");
  const double before = unix_time_now();
  const std::string path = write_sample_run(log_dir);
  const double after = unix_time_now();

  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  const std::string name = std::filesystem::path(path).filename().string();
  CHECK(std::filesystem::path(path).parent_path() == std::filesystem::path(log_dir));
  CHECK_THAT(name, Catch::StartsWith("events.out.tfevents.") && Catch::EndsWith(std::string(".") + host));

  const auto events = read_tensorboard_events(path);
  REQUIRE(events.size() == 1 + 6 + 1);
  CHECK(events[0].file_version == "brain.Event:2");
  CHECK(events[0].scalars.empty());

  const auto scalars = read_tensorboard_scalars(path);
  REQUIRE(scalars.size() == 8);
  size_t i = 0;
  for (int64_t step = 10; step <= 30; step += 10) {
    CHECK(scalars[i].tag == "train/loss");
    CHECK(scalars[i].step == step);
    CHECK(scalars[i].value == static_cast<float>(3.0 / static_cast<double>(step)));
    ++i;
    CHECK(scalars[i].tag == "train/learning_rate");
    CHECK(scalars[i].step == step);
    CHECK(scalars[i].value == static_cast<float>(3e-5 * (1.0 - step / 100.0)));
    ++i;
  }
  CHECK(scalars[6].tag == "eval/exact_match");
  CHECK(scalars[6].value == static_cast<float>(80.91769157994324));
  CHECK(scalars[7].tag == "eval/f1");
  CHECK(scalars[7].value == 88.52f);
  CHECK(scalars[6].step == 30);
  CHECK(scalars[6].wall_time == scalars[7].wall_time);  // one Event for the batch
  for (const auto& scalar : scalars) {
    CHECK(scalar.wall_time >= before - 1e-3);
    CHECK(scalar.wall_time <= after + 1e-3);
  }
}

TEST_CASE("each scalar is on disk before add_scalar returns", "[logging][tensorboard]") {
  LogTempDir dir;
  TensorBoardWriter writer(dir.path());
  writer.add_scalar("loss", 1.25, 7);
  // Read while the writer is still open: nothing may sit in a stdio buffer.
  const auto scalars = read_tensorboard_scalars(writer.path());
  REQUIRE(scalars.size() == 1);
  CHECK(scalars[0].value == 1.25f);
  CHECK(scalars[0].step == 7);
  writer.close();
  CHECK_THROWS_AS(writer.add_scalar("loss", 1.0, 8), BertError);
}

TEST_CASE("two writers in one directory get two files", "[logging][tensorboard]") {
  LogTempDir dir;
  TensorBoardWriter first(dir.path());
  TensorBoardWriter second(dir.path());
  CHECK(first.path() != second.path());
  first.add_scalar("a", 1.0, 1);
  second.add_scalar("b", 2.0, 1);
  CHECK(read_tensorboard_scalars(first.path()).at(0).tag == "a");
  CHECK(read_tensorboard_scalars(second.path()).at(0).tag == "b");
}

TEST_CASE("non-finite values, negative steps and empty tags", "[logging][tensorboard]") {
  LogTempDir dir;
  TensorBoardWriter writer(dir.path());
  writer.add_scalars({{"nan", std::nan("")}, {"inf", -HUGE_VAL}}, -5);
  const auto scalars = read_tensorboard_scalars(writer.path());
  REQUIRE(scalars.size() == 2);
  CHECK(std::isnan(scalars[0].value));
  CHECK(scalars[1].value == -HUGE_VALF);
  CHECK(scalars[1].step == -5);
  CHECK_THROWS_AS(writer.add_scalar("", 1.0, 1), BertError);
}

TEST_CASE("unwritable log directory names the path", "[logging][tensorboard]") {
  LogTempDir dir;
  const std::string blocker = dir.file("not_a_dir");
  write_raw(blocker, "x");
  try {
    TensorBoardWriter writer(join_path(blocker, "run"));
    FAIL("expected an error");
  } catch (const BertError& error) {
    CHECK_THAT(error.what(), Catch::Contains(blocker));
  }
}

TEST_CASE("a flipped byte anywhere in a record fails its CRC", "[logging][tensorboard]") {
  LogTempDir dir;
  const std::string path = write_sample_run(dir.file("run"));
  const std::string good = read_file(path);
  const size_t record0 = 8 + 4 + static_cast<size_t>(static_cast<unsigned char>(good[0])) + 4;
  // Offsets into record 1: length, length CRC, payload, payload CRC.
  const size_t record1_payload = static_cast<size_t>(static_cast<unsigned char>(good[record0]));
  const std::vector<std::pair<size_t, const char*>> flips = {
      {record0 + 1, "length CRC mismatch"},
      {record0 + 9, "length CRC mismatch"},
      {record0 + 12 + 3, "payload CRC mismatch"},
      {record0 + 12 + record1_payload + 2, "payload CRC mismatch"},
  };
  const std::string bad_path = dir.file("corrupt.tfevents");
  for (const auto& [offset, expected] : flips) {
    std::string bad = good;
    bad[offset] = static_cast<char>(bad[offset] ^ 0x10);
    write_raw(bad_path, bad);
    const std::string message = input_error_message([&] { read_tensorboard_scalars(bad_path); });
    INFO("flipped byte " << offset);
    CHECK_THAT(message, Catch::Contains(bad_path) && Catch::Contains("record 1 at byte " + std::to_string(record0)) &&
                            Catch::Contains(expected));
  }
}

TEST_CASE("a truncated file is reported, not read short", "[logging][tensorboard]") {
  LogTempDir dir;
  const std::string path = write_sample_run(dir.file("run"));
  const std::string good = read_file(path);
  const std::string bad_path = dir.file("truncated.tfevents");

  write_raw(bad_path, good.substr(0, good.size() - 1));  // payload CRC cut
  CHECK_THAT(input_error_message([&] { read_tensorboard_scalars(bad_path); }),
             Catch::Contains(bad_path) && Catch::Contains("record 7") && Catch::Contains("truncated record:"));
  const size_t record0 = 8 + 4 + static_cast<size_t>(static_cast<unsigned char>(good[0])) + 4;
  write_raw(bad_path, good.substr(0, record0 + 5));  // header cut
  CHECK_THAT(input_error_message([&] { read_tensorboard_scalars(bad_path); }),
             Catch::Contains("record 1 at byte " + std::to_string(record0)) &&
                 Catch::Contains("truncated record header: expected 12 bytes, 5 left"));
  write_raw(bad_path, "");
  CHECK(read_tensorboard_scalars(bad_path).empty());
  CHECK_THAT(input_error_message([&] { read_tensorboard_scalars(dir.file("missing")); }),
             Catch::Contains("missing"));
}

TEST_CASE("the reader skips unknown Event fields and non-scalar values", "[logging][tensorboard]") {
  // An Event as another writer might produce it: a source_metadata-like field 10, a
  // log_message-like field 6, a Value holding a tensor (field 8) instead of simple_value,
  // then a scalar Value with an unknown field.
  std::string tensor_value, scalar_value, summary, event;
  append_bytes_field(tensor_value, 1, "hist");
  append_bytes_field(tensor_value, 8, std::string("\x08\x01", 2));
  append_bytes_field(scalar_value, 1, "acc");
  append_int64_field(scalar_value, 99, 12345);
  append_float_field(scalar_value, 2, 0.75f);
  append_bytes_field(summary, 1, tensor_value);
  append_bytes_field(summary, 1, scalar_value);
  append_double_field(event, 1, 100.25);
  append_bytes_field(event, 10, "writer");
  append_int64_field(event, 2, 12);
  append_bytes_field(event, 6, std::string("\x08\x02", 2));
  append_bytes_field(event, 5, summary);
  LogTempDir dir;
  const std::string path = dir.file("foreign.tfevents");
  write_raw(path, frame_tfrecord(encode_file_version_event(1.0, "brain.Event:2")) + frame_tfrecord(event));
  const auto scalars = read_tensorboard_scalars(path);
  REQUIRE(scalars.size() == 1);
  CHECK(scalars[0].tag == "acc");
  CHECK(scalars[0].value == 0.75f);
  CHECK(scalars[0].step == 12);
  CHECK(scalars[0].wall_time == 100.25);

  // A known field with the wrong wire type is an error, located in the record.
  std::string wrong;
  append_bytes_field(wrong, 2, "12");
  write_raw(path, frame_tfrecord(wrong));
  CHECK_THAT(input_error_message([&] { read_tensorboard_scalars(path); }),
             Catch::Contains("record 0 at byte 0") && Catch::Contains("Event.step") &&
                 Catch::Contains("expected varint"));
}

}  // namespace
}  // namespace bert
