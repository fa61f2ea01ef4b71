#include "logging/tensorboard_reader.h"

#include <cstdio>
#include <string_view>

#include "core/bytes.h"
#include "core/error.h"
#include "core/file_io.h"
#include "logging/crc32c.h"
#include "logging/event_fields.h"
#include "logging/protobuf_wire.h"

namespace bert {

namespace {

constexpr size_t kHeaderBytes = 12;  // uint64 length + uint32 masked CRC of the length
constexpr size_t kFooterBytes = 4;   // uint32 masked CRC of the payload

std::string hex32(uint32_t value) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "0x%08x", value);
  return buffer;
}

const char* wire_type_name(WireType type) {
  switch (type) {
    case WireType::kVarint: return "varint";
    case WireType::kFixed64: return "fixed64";
    case WireType::kLengthDelimited: return "length-delimited";
    case WireType::kFixed32: return "fixed32";
    default: return "group";
  }
}

// A known field number must carry the wire type its declaration implies.
void expect_type(const WireReader& reader, const WireField& field, WireType expected,
                 const char* name) {
  if (field.type == expected) return;
  reader.fail(field.offset, std::string(name) + " (field " + std::to_string(field.number) +
                                ") has wire type " + wire_type_name(field.type) + ", expected " +
                                wire_type_name(expected));
}

// A TensorProto's one string when it is a DT_STRING tensor holding exactly one (a text
// summary's); false for any other tensor.
bool decode_string_tensor(std::string_view bytes, const std::string& path, const std::string& where,
                          std::string& text) {
  WireReader reader(bytes, path, where + ": tensor");
  WireField field;
  int64_t dtype = 0;
  int strings = 0;
  while (reader.next(field)) {
    if (field.number == event_fields::kTensorDtype) {
      expect_type(reader, field, WireType::kVarint, "TensorProto.dtype");
      dtype = field.as_int64();
    } else if (field.number == event_fields::kTensorStringVal) {
      expect_type(reader, field, WireType::kLengthDelimited, "TensorProto.string_val");
      text.assign(field.bytes.data(), field.bytes.size());
      ++strings;
    }
  }
  return dtype == event_fields::kDtypeString && strings == 1;
}

// Summary.Value: a scalar (tag, simple_value) or a text (tag, string tensor); other kinds are
// skipped.
enum class ValueKind { kOther, kScalar, kText };
ValueKind decode_value(std::string_view bytes, const std::string& path, const std::string& where,
                       std::pair<std::string, float>& scalar, std::string& text) {
  WireReader reader(bytes, path, where);
  WireField field;
  ValueKind kind = ValueKind::kOther;
  while (reader.next(field)) {
    if (field.number == event_fields::kValueTag) {
      expect_type(reader, field, WireType::kLengthDelimited, "Value.tag");
      scalar.first.assign(field.bytes.data(), field.bytes.size());
    } else if (field.number == event_fields::kSimpleValue) {
      expect_type(reader, field, WireType::kFixed32, "Value.simple_value");
      scalar.second = field.as_float();
      kind = ValueKind::kScalar;
    } else if (field.number == event_fields::kValueTensor) {
      expect_type(reader, field, WireType::kLengthDelimited, "Value.tensor");
      if (decode_string_tensor(field.bytes, path, where, text)) kind = ValueKind::kText;
    }
  }
  return kind;
}

void decode_summary(std::string_view bytes, const std::string& path, const std::string& where,
                    TensorBoardEvent& event) {
  WireReader reader(bytes, path, where + ": summary");
  WireField field;
  size_t index = 0;
  while (reader.next(field)) {
    if (field.number != event_fields::kSummaryValue) continue;
    expect_type(reader, field, WireType::kLengthDelimited, "Summary.value");
    std::pair<std::string, float> scalar;
    std::string text;
    const std::string value_where = where + ": summary.value[" + std::to_string(index++) + "]";
    switch (decode_value(field.bytes, path, value_where, scalar, text)) {
      case ValueKind::kScalar:
        event.scalars.push_back(scalar);
        break;
      case ValueKind::kText:
        event.texts.emplace_back(scalar.first, text);
        break;
      case ValueKind::kOther:
        break;
    }
  }
}

TensorBoardEvent decode_event(std::string_view payload, const std::string& path,
                              const std::string& where) {
  TensorBoardEvent event;
  WireReader reader(payload, path, where);
  WireField field;
  while (reader.next(field)) {
    switch (field.number) {
      case event_fields::kWallTime:
        expect_type(reader, field, WireType::kFixed64, "Event.wall_time");
        event.wall_time = field.as_double();
        break;
      case event_fields::kStep:
        expect_type(reader, field, WireType::kVarint, "Event.step");
        event.step = field.as_int64();
        break;
      case event_fields::kFileVersion:
        expect_type(reader, field, WireType::kLengthDelimited, "Event.file_version");
        event.file_version.assign(field.bytes.data(), field.bytes.size());
        break;
      case event_fields::kSummary:
        expect_type(reader, field, WireType::kLengthDelimited, "Event.summary");
        decode_summary(field.bytes, path, where, event);
        break;
      default:
        break;  // graph_def, log_message, ...: not ours to read
    }
  }
  return event;
}

}  // namespace

std::vector<TensorBoardEvent> read_tensorboard_events(const std::string& path) {
  const std::string data = read_file(path);
  std::vector<TensorBoardEvent> events;
  size_t offset = 0;
  for (size_t index = 0; offset < data.size(); ++index) {
    const std::string where = "record " + std::to_string(index) + " at byte " + std::to_string(offset);
    const size_t left = data.size() - offset;
    if (left < kHeaderBytes) {
      throw_input_error(path, where, "truncated record header: expected 12 bytes, " +
                                         std::to_string(left) + " left");
    }
    const char* header = data.data() + offset;
    const uint64_t length = load_little_endian(header, 8);
    const auto stored_length_crc = static_cast<uint32_t>(load_little_endian(header + 8, 4));
    const uint32_t length_crc = masked_crc32c(header, 8);
    if (stored_length_crc != length_crc) {
      throw_input_error(path, where, "length CRC mismatch: stored " + hex32(stored_length_crc) +
                                         ", computed " + hex32(length_crc));
    }
    if (length > left - kHeaderBytes || left - kHeaderBytes - length < kFooterBytes) {
      throw_input_error(path, where, "truncated record: expected " + std::to_string(length) +
                                         " payload bytes + 4 CRC bytes, " +
                                         std::to_string(left - kHeaderBytes) + " left");
    }
    const std::string_view payload(header + kHeaderBytes, static_cast<size_t>(length));
    const auto stored_data_crc = static_cast<uint32_t>(load_little_endian(payload.data() + length, 4));
    const uint32_t data_crc = masked_crc32c(payload.data(), payload.size());
    if (stored_data_crc != data_crc) {
      throw_input_error(path, where, "payload CRC mismatch: stored " + hex32(stored_data_crc) +
                                         ", computed " + hex32(data_crc));
    }
    events.push_back(decode_event(payload, path, where));
    offset += kHeaderBytes + static_cast<size_t>(length) + kFooterBytes;
  }
  return events;
}

std::vector<ScalarEvent> read_tensorboard_scalars(const std::string& path) {
  std::vector<ScalarEvent> scalars;
  for (const TensorBoardEvent& event : read_tensorboard_events(path)) {
    for (const auto& [tag, value] : event.scalars) {
      scalars.push_back(ScalarEvent{tag, event.step, value, event.wall_time});
    }
  }
  return scalars;
}

}  // namespace bert
