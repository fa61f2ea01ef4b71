#include "logging/protobuf_wire.h"

#include <cstring>

#include "core/bytes.h"
#include "core/error.h"

namespace bert {

namespace {

void append_key(std::string& out, uint32_t field, WireType type) {
  append_varint(out, (static_cast<uint64_t>(field) << 3) | static_cast<uint32_t>(type));
}

void append_little_endian(std::string& out, uint64_t bits, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((bits >> (8 * i)) & 0xFFu));
}

}  // namespace

void append_varint(std::string& out, uint64_t value) {
  while (value >= 0x80u) {
    out.push_back(static_cast<char>((value & 0x7Fu) | 0x80u));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

void append_int64_field(std::string& out, uint32_t field, int64_t value) {
  append_key(out, field, WireType::kVarint);
  append_varint(out, static_cast<uint64_t>(value));
}

void append_double_field(std::string& out, uint32_t field, double value) {
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  append_key(out, field, WireType::kFixed64);
  append_little_endian(out, bits, 8);
}

void append_float_field(std::string& out, uint32_t field, float value) {
  uint32_t bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  append_key(out, field, WireType::kFixed32);
  append_little_endian(out, bits, 4);
}

void append_bytes_field(std::string& out, uint32_t field, std::string_view bytes) {
  append_key(out, field, WireType::kLengthDelimited);
  append_varint(out, bytes.size());
  out.append(bytes.data(), bytes.size());
}

double WireField::as_double() const {
  double value = 0;
  std::memcpy(&value, &number_bits, sizeof value);
  return value;
}

float WireField::as_float() const {
  const auto bits = static_cast<uint32_t>(number_bits);
  float value = 0;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

WireReader::WireReader(std::string_view message, std::string file, std::string where)
    : data_(message), file_(std::move(file)), where_(std::move(where)) {}

void WireReader::fail(size_t offset, const std::string& what) const {
  throw_input_error(file_, where_ + ": byte " + std::to_string(offset), what);
}

uint64_t WireReader::read_varint(const char* what) {
  const size_t start = pos_;
  uint64_t value = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (pos_ >= data_.size()) fail(start, std::string("truncated varint (") + what + ")");
    const auto byte = static_cast<unsigned char>(data_[pos_++]);
    // The 10th byte may only carry the top bit of a 64-bit value.
    if (shift == 63 && byte > 1) fail(start, std::string("varint overflows 64 bits (") + what + ")");
    value |= static_cast<uint64_t>(byte & 0x7Fu) << shift;
    if ((byte & 0x80u) == 0) return value;
  }
  fail(start, std::string("varint longer than 10 bytes (") + what + ")");
}

void WireReader::read_payload(WireType type, WireField& field) {
  auto need = [&](uint64_t bytes, const char* what) {
    if (bytes > data_.size() - pos_) {
      fail(field.offset, std::string("truncated ") + what + ": needs " + std::to_string(bytes) +
                             " bytes, " + std::to_string(data_.size() - pos_) + " left");
    }
  };
  switch (type) {
    case WireType::kVarint:
      field.number_bits = read_varint("field value");
      return;
    case WireType::kFixed64:
      need(8, "fixed64");
      field.number_bits = load_little_endian(data_.data() + pos_, 8);
      pos_ += 8;
      return;
    case WireType::kFixed32:
      need(4, "fixed32");
      field.number_bits = load_little_endian(data_.data() + pos_, 4);
      pos_ += 4;
      return;
    case WireType::kLengthDelimited: {
      const uint64_t length = read_varint("length");
      need(length, "length-delimited field");
      field.bytes = data_.substr(pos_, static_cast<size_t>(length));
      pos_ += static_cast<size_t>(length);
      return;
    }
    default:
      fail(field.offset, "unexpected wire type " + std::to_string(static_cast<uint32_t>(type)));
  }
}

// Skips fields up to the end-group key matching `number`, descending into nested groups.
void WireReader::skip_group(uint32_t number, size_t start) {
  WireField inner;
  for (;;) {
    if (pos_ >= data_.size()) fail(start, "group " + std::to_string(number) + " is not closed");
    inner.offset = pos_;
    const uint64_t key = read_varint("key");
    const auto inner_number = static_cast<uint32_t>(key >> 3);
    const auto inner_type = static_cast<WireType>(key & 7u);
    if (inner_type == WireType::kEndGroup) {
      if (inner_number != number) {
        fail(inner.offset, "end of group " + std::to_string(inner_number) + ", expected end of group " +
                               std::to_string(number));
      }
      return;
    }
    if (inner_type == WireType::kStartGroup) {
      skip_group(inner_number, inner.offset);
    } else {
      read_payload(inner_type, inner);
    }
  }
}

bool WireReader::next(WireField& field) {
  for (;;) {
    if (pos_ >= data_.size()) return false;
    field = WireField{};
    field.offset = pos_;
    const uint64_t key = read_varint("key");
    const uint64_t number = key >> 3;
    const auto wire_type = static_cast<uint32_t>(key & 7u);
    if (number == 0 || number > 0x1FFFFFFFu) {
      fail(field.offset, "field number " + std::to_string(number) + " outside 1..536870911");
    }
    field.number = static_cast<uint32_t>(number);
    field.type = static_cast<WireType>(wire_type);
    if (field.type == WireType::kStartGroup) {
      skip_group(field.number, field.offset);  // never part of the messages we read
      continue;
    }
    if (field.type == WireType::kEndGroup) fail(field.offset, "end of group without a start");
    read_payload(field.type, field);
    return true;
  }
}

}  // namespace bert
