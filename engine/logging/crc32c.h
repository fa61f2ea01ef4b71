// CRC32C (Castagnoli), as used by the TFRecord framing of TensorBoard event files.
// Reflected polynomial 0x82F63B78, initial value and final xor 0xFFFFFFFF, so that
// crc32c("123456789") == 0xE3069283 (the standard check value). Table-driven, one byte
// at a time: event files are small, so the simple form is fast enough.
#pragma once

#include <cstddef>
#include <cstdint>

namespace bert {

// CRC32C of size bytes at data.
uint32_t crc32c(const void* data, size_t size);

// TFRecord stores CRCs "masked" so that a CRC of data that itself holds CRCs stays
// well distributed: rotate right by 15 bits, then add 0xa282ead8 (mod 2^32).
uint32_t mask_crc32c(uint32_t crc);

// crc32c() followed by mask_crc32c().
uint32_t masked_crc32c(const void* data, size_t size);

}  // namespace bert
