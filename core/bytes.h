// Little-endian integers in byte buffers (file formats: zip, pickle, TFRecord, protobuf), read
// the same way whatever the host's byte order.
#pragma once

#include <cstddef>
#include <cstdint>

namespace bert {

// The unsigned integer in the `count` (<= 8) bytes at `data`, least significant first.
inline uint64_t load_little_endian(const void* data, size_t count) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  uint64_t value = 0;
  for (size_t i = 0; i < count; ++i) value |= static_cast<uint64_t>(bytes[i]) << (8 * i);
  return value;
}

}  // namespace bert
