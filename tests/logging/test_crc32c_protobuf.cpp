// CRC32C against published check values, and the hand-written protobuf wire format.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "logging/crc32c.h"
#include "logging/protobuf_wire.h"
#include "logging_test_util.h"

namespace bert {
namespace {

std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out.push_back(static_cast<char>(v));
  return out;
}

std::vector<WireField> read_all(const std::string& message) {
  WireReader reader(message, "test.bin", "message");
  std::vector<WireField> fields;
  WireField field;
  while (reader.next(field)) fields.push_back(field);
  return fields;
}

TEST_CASE("crc32c matches the Castagnoli check values", "[logging][crc32c]") {
  // "123456789" is the standard CRC catalogue check; the 32-byte vectors are from RFC 3720 B.4.
  CHECK(crc32c("123456789", 9) == 0xE3069283u);
  CHECK(crc32c("", 0) == 0u);
  const std::string zeros(32, '\0');
  CHECK(crc32c(zeros.data(), zeros.size()) == 0x8A9136AAu);
  const std::string ones(32, '\xff');
  CHECK(crc32c(ones.data(), ones.size()) == 0x62A8AB43u);
  std::string ascending;
  for (int i = 0; i < 32; ++i) ascending.push_back(static_cast<char>(i));
  CHECK(crc32c(ascending.data(), ascending.size()) == 0x46DD794Eu);
}

TEST_CASE("crc32c in pieces equals crc32c of the whole, at every split and alignment", "[logging][crc32c]") {
  std::string text;
  for (int i = 0; i < 300; ++i) text.push_back(static_cast<char>((i * 131 + 7) % 256));
  // The byte-at-a-time definition, independent of the eight-byte tables.
  uint32_t reference = 0xFFFFFFFFu;
  for (unsigned char byte : text) {
    reference ^= byte;
    for (int bit = 0; bit < 8; ++bit) reference = (reference & 1u) ? (reference >> 1) ^ 0x82F63B78u : reference >> 1;
  }
  reference ^= 0xFFFFFFFFu;
  CHECK(crc32c(text.data(), text.size()) == reference);
  for (size_t split = 0; split <= text.size(); split += 7) {
    INFO("split at " << split);
    CHECK(crc32c_extend(crc32c(text.data(), split), text.data() + split, text.size() - split) == reference);
  }
  for (size_t offset = 1; offset < 8; ++offset) {  // unaligned starts take the same path
    const std::string tail = text.substr(offset);
    CHECK(crc32c(tail.data(), tail.size()) == crc32c_extend(0, text.data() + offset, text.size() - offset));
  }
}

TEST_CASE("masked crc32c rotates right by 15 and adds the TFRecord constant", "[logging][crc32c]") {
  CHECK(mask_crc32c(0) == 0xa282ead8u);
  CHECK(mask_crc32c(0x00008000u) == 0xa282ead9u);   // bit 15 rotates to bit 0
  CHECK(mask_crc32c(0x00000001u) == 0xa284ead8u);   // bit 0 rotates to bit 17
  CHECK(masked_crc32c("123456789", 9) == mask_crc32c(0xE3069283u));
}

TEST_CASE("varints encode 7 bits per byte, negative int64 as 10 bytes", "[logging][protobuf]") {
  std::string out;
  append_varint(out, 300);
  CHECK(out == bytes({0xAC, 0x02}));
  out.clear();
  append_int64_field(out, 2, -1);
  REQUIRE(out.size() == 11);  // key + 10 bytes
  const auto fields = read_all(out);
  REQUIRE(fields.size() == 1);
  CHECK(fields[0].number == 2);
  CHECK(fields[0].as_int64() == -1);
  out.clear();
  append_int64_field(out, 2, INT64_MAX);
  CHECK(read_all(out).at(0).as_int64() == INT64_MAX);
}

TEST_CASE("fixed and length-delimited fields round-trip", "[logging][protobuf]") {
  std::string out;
  append_double_field(out, 1, 1.5);
  append_float_field(out, 2, 0.1f);
  append_bytes_field(out, 3, "loss");
  // double 1.5 = 0x3FF8000000000000, little-endian after key 0x09 (field 1, wire type 1).
  CHECK(out.substr(0, 9) == bytes({0x09, 0, 0, 0, 0, 0, 0, 0xF8, 0x3F}));
  const auto fields = read_all(out);
  REQUIRE(fields.size() == 3);
  CHECK(fields[0].type == WireType::kFixed64);
  CHECK(fields[0].as_double() == 1.5);
  CHECK(fields[1].type == WireType::kFixed32);
  CHECK(fields[1].as_float() == 0.1f);
  CHECK(fields[2].type == WireType::kLengthDelimited);
  CHECK(fields[2].bytes == "loss");
}

TEST_CASE("groups are skipped whole, nested ones included", "[logging][protobuf]") {
  std::string out;
  append_varint(out, (7u << 3) | 3u);  // start group 7
  append_int64_field(out, 1, 5);
  append_varint(out, (8u << 3) | 3u);  // start nested group 8
  append_bytes_field(out, 2, "x");
  append_varint(out, (8u << 3) | 4u);  // end group 8
  append_varint(out, (7u << 3) | 4u);  // end group 7
  append_int64_field(out, 9, 42);
  const auto fields = read_all(out);
  REQUIRE(fields.size() == 1);
  CHECK(fields[0].number == 9);
  CHECK(fields[0].as_int64() == 42);
}

TEST_CASE("malformed wire data is an InputError naming file and byte", "[logging][protobuf]") {
  using test::input_error_message;
  // Truncated varint: continuation bit set on the last byte.
  std::string message = input_error_message([] { read_all(bytes({0x10, 0x80})); });
  CHECK_THAT(message, Catch::Contains("test.bin") && Catch::Contains("truncated varint"));
  // Length says 5 bytes, 2 present.
  message = input_error_message([] { read_all(bytes({0x1A, 0x05, 'a', 'b'})); });
  CHECK_THAT(message, Catch::Contains("byte 0") && Catch::Contains("needs 5 bytes, 2 left"));
  // Wire type 6 does not exist.
  message = input_error_message([] { read_all(bytes({0x08, 0x01, 0x0E})); });
  CHECK_THAT(message, Catch::Contains("byte 2") && Catch::Contains("wire type 6"));
  // Field number 0.
  message = input_error_message([] { read_all(bytes({0x00, 0x01})); });
  CHECK_THAT(message, Catch::Contains("field number 0"));
  // Group never closed; end group without a start; mismatched end.
  CHECK_THAT(input_error_message([] { read_all(bytes({0x3B, 0x08, 0x01})); }),
             Catch::Contains("not closed"));
  CHECK_THAT(input_error_message([] { read_all(bytes({0x3C})); }),
             Catch::Contains("without a start"));
  CHECK_THAT(input_error_message([] { read_all(bytes({0x3B, 0x44})); }),
             Catch::Contains("expected end of group 7"));
  // Eleven-byte varint.
  CHECK_THAT(input_error_message([] {
               read_all(bytes({0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F}));
             }),
             Catch::Contains("overflows 64 bits"));
}

}  // namespace
}  // namespace bert
