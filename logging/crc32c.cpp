#include "logging/crc32c.h"

#include <array>
#include <cstring>

namespace bert {

namespace {

constexpr uint32_t kCastagnoliReflected = 0x82F63B78u;

// tables[0][b] = CRC of the single byte b, computed bit by bit once at start-up;
// tables[k][b] = the same byte followed by k zero bytes (slicing-by-8: eight bytes per step).
using Tables = std::array<std::array<uint32_t, 256>, 8>;

Tables make_tables() {
  Tables tables{};
  for (uint32_t byte = 0; byte < 256; ++byte) {
    uint32_t crc = byte;
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 1u) ? (crc >> 1) ^ kCastagnoliReflected : crc >> 1;
    }
    tables[0][byte] = crc;
  }
  for (size_t k = 1; k < 8; ++k)
    for (uint32_t byte = 0; byte < 256; ++byte)
      tables[k][byte] = (tables[k - 1][byte] >> 8) ^ tables[0][tables[k - 1][byte] & 0xFFu];
  return tables;
}

}  // namespace

uint32_t crc32c_extend(uint32_t crc, const void* data, size_t size) {
  static const Tables tables = make_tables();
  const auto* bytes = static_cast<const unsigned char*>(data);
  uint32_t state = crc ^ 0xFFFFFFFFu;
  for (; size >= 8; size -= 8, bytes += 8) {
    uint32_t low, high;  // the next eight bytes as two little-endian words
    std::memcpy(&low, bytes, 4);
    std::memcpy(&high, bytes + 4, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    low = __builtin_bswap32(low);
    high = __builtin_bswap32(high);
#endif
    low ^= state;
    state = tables[7][low & 0xFFu] ^ tables[6][(low >> 8) & 0xFFu] ^ tables[5][(low >> 16) & 0xFFu] ^
            tables[4][low >> 24] ^ tables[3][high & 0xFFu] ^ tables[2][(high >> 8) & 0xFFu] ^
            tables[1][(high >> 16) & 0xFFu] ^ tables[0][high >> 24];
  }
  for (; size > 0; --size, ++bytes) state = tables[0][(state ^ *bytes) & 0xFFu] ^ (state >> 8);
  return state ^ 0xFFFFFFFFu;
}

uint32_t crc32c(const void* data, size_t size) { return crc32c_extend(0, data, size); }

uint32_t mask_crc32c(uint32_t crc) {
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

uint32_t masked_crc32c(const void* data, size_t size) {
  return mask_crc32c(crc32c(data, size));
}

}  // namespace bert
