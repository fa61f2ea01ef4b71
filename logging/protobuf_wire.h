// Protocol-buffer wire format, by hand: just enough to write and read the tensorflow.Event
// messages of TensorBoard event files without a protobuf dependency.
//
// A message is a sequence of fields; each field starts with a varint key
// (field_number << 3 | wire_type) followed by its payload:
//   0 varint           LEB128, 7 bits per byte, least significant group first, at most 10 bytes
//   1 fixed64          8 bytes little-endian (double, fixed64)
//   2 length-delimited varint byte count, then the bytes (string, bytes, nested message)
//   3/4 start/end group (deprecated; only skipped, with nesting)
//   5 fixed32          4 bytes little-endian (float, fixed32)
// Negative int64 values are varints of their two's complement (10 bytes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace bert {

enum class WireType : uint32_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5,
};

// ---- encoding: each appends one complete field to out --------------------------------
void append_varint(std::string& out, uint64_t value);
void append_int64_field(std::string& out, uint32_t field, int64_t value);
void append_double_field(std::string& out, uint32_t field, double value);
void append_float_field(std::string& out, uint32_t field, float value);
void append_bytes_field(std::string& out, uint32_t field, std::string_view bytes);

// One decoded field. For kVarint, kFixed64 and kFixed32 the raw bits are in `number_bits`
// (use the accessors); for kLengthDelimited the payload is `bytes` (a view into the input).
struct WireField {
  uint32_t number = 0;
  WireType type = WireType::kVarint;
  uint64_t number_bits = 0;
  std::string_view bytes;
  size_t offset = 0;  // where the key starts, relative to the message being read

  int64_t as_int64() const { return static_cast<int64_t>(number_bits); }
  double as_double() const;  // kFixed64
  float as_float() const;    // kFixed32
};

// Reads the fields of one serialized message in order. Malformed input (truncated varint
// or payload, field number 0, unknown wire type, unbalanced groups) throws InputError
// "<file>: <where>: byte <offset>: <what was expected>". Groups are skipped whole.
class WireReader {
 public:
  WireReader(std::string_view message, std::string file, std::string where);

  // Fills field and returns true, or returns false at the end of the message.
  bool next(WireField& field);

  // Throws InputError naming file, where and the byte offset of field.
  [[noreturn]] void fail(size_t offset, const std::string& what) const;

 private:
  uint64_t read_varint(const char* what);
  void read_payload(WireType type, WireField& field);
  void skip_group(uint32_t number, size_t start);

  std::string_view data_;
  size_t pos_ = 0;
  std::string file_;
  std::string where_;
};

}  // namespace bert
