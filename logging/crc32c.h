// CRC32C (Castagnoli), as used by the TFRecord framing of TensorBoard event files.
// Reflected polynomial 0x82F63B78, initial value and final xor 0xFFFFFFFF, so that
// crc32c("123456789") == 0xE3069283 (the standard check value). Table-driven, eight bytes
// per step (slicing-by-8), fast enough for checkpoint files of gigabytes.
#pragma once

#include <cstddef>
#include <cstdint>

namespace bert {

// CRC32C of size bytes at data.
uint32_t crc32c(const void* data, size_t size);
// The CRC32C of (what `crc` is the CRC32C of) followed by size bytes at data, so a file can be
// checksummed in pieces: crc32c_extend(crc32c(a), b) == crc32c(a + b); crc32c_extend(0, ...)
// is crc32c.
uint32_t crc32c_extend(uint32_t crc, const void* data, size_t size);

// TFRecord stores CRCs "masked" so that a CRC of data that itself holds CRCs stays
// well distributed: rotate right by 15 bits, then add 0xa282ead8 (mod 2^32).
uint32_t mask_crc32c(uint32_t crc);

// crc32c() followed by mask_crc32c().
uint32_t masked_crc32c(const void* data, size_t size);

}  // namespace bert
