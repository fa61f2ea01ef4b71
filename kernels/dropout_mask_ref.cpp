// dropout_keep_flags and attention_dropout_keep_flags (kernels/dropout_mask_ref.h): Philox4x32-10
// for 8 consecutive calls at a time, one AVX2 register of 8 lanes (or, without AVX2, written lane
// by lane so the compiler can vectorise each round). dropout_keep_flags' keep test is an
// integer compare: uniform_from_bits(bits) >= p  ⇔  bits >> 8 >= ceil(p·2^24), both sides exact.
#include "kernels/dropout_mask_ref.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace bert {
namespace {

constexpr int kLanes = 8;  // Philox calls per vector batch

// The counters of kLanes consecutive Philox calls: c0/c1 the low/high words of first_group + lane
// (the carry into the high word included).
void lane_counters(uint64_t first_group, uint32_t c0[kLanes], uint32_t c1[kLanes]) {
  for (int lane = 0; lane < kLanes; ++lane) {
    const uint64_t group = first_group + static_cast<uint64_t>(lane);
    c0[lane] = static_cast<uint32_t>(group);
    c1[lane] = static_cast<uint32_t>(group >> 32);
  }
}

#if defined(__AVX2__)
// hi·2^32 + lo = m · c in each of the 8 lanes. vpmuludq multiplies the even 32-bit lanes (as
// 64-bit products); the odd lanes are shifted down for a second one; blends put each product's
// halves back into its lane. GCC's vectorisation of the portable loop below spent about twice
// the instructions on shuffles.
inline void multiply_wide(__m256i m, __m256i c, __m256i* hi, __m256i* lo) {
  const __m256i even = _mm256_mul_epu32(c, m);
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(c, 32), m);
  *lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  *hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}

// words[w][lane] = philox4x32_10(first_group + lane, counter_2, counter_3, key).v[w].
void philox_lanes(uint64_t first_group, uint32_t counter_2, uint32_t counter_3, uint64_t key,
                  uint32_t words[4][kLanes]) {
  static_assert(kLanes == 8, "one AVX2 register of 32-bit lanes");
  alignas(32) uint32_t low[kLanes], high[kLanes];
  lane_counters(first_group, low, high);
  __m256i c0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(low));
  __m256i c1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(high));
  __m256i c2 = _mm256_set1_epi32(static_cast<int>(counter_2));
  __m256i c3 = _mm256_set1_epi32(static_cast<int>(counter_3));
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  const __m256i m0 = _mm256_set1_epi32(static_cast<int>(0xD2511F53u));
  const __m256i m1 = _mm256_set1_epi32(static_cast<int>(0xCD9E8D57u));
  for (int round = 0; round < 10; ++round) {  // philox_round of kernels/dropout_rng.h
    __m256i hi0, lo0, hi1, lo1;
    multiply_wide(m0, c0, &hi0, &lo0);
    multiply_wide(m1, c2, &hi1, &lo1);
    c0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), _mm256_set1_epi32(static_cast<int>(k0)));
    c2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), _mm256_set1_epi32(static_cast<int>(k1)));
    c1 = lo1;
    c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(words[0]), c0);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(words[1]), c1);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(words[2]), c2);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(words[3]), c3);
}
#else
// words[w][lane] = philox4x32_10(first_group + lane, counter_2, counter_3, key).v[w], lane by
// lane so that the compiler can turn each round into vector instructions.
void philox_lanes(uint64_t first_group, uint32_t counter_2, uint32_t counter_3, uint64_t key,
                  uint32_t words[4][kLanes]) {
  uint32_t c0[kLanes], c1[kLanes], c2[kLanes], c3[kLanes];
  lane_counters(first_group, c0, c1);
  for (int lane = 0; lane < kLanes; ++lane) {
    c2[lane] = counter_2;
    c3[lane] = counter_3;
  }
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  for (int round = 0; round < 10; ++round) {
    for (int lane = 0; lane < kLanes; ++lane) {  // philox_round of kernels/dropout_rng.h
      const uint64_t product0 = static_cast<uint64_t>(0xD2511F53u) * c0[lane];
      const uint64_t product1 = static_cast<uint64_t>(0xCD9E8D57u) * c2[lane];
      const uint32_t next0 = static_cast<uint32_t>(product1 >> 32) ^ c1[lane] ^ k0;
      const uint32_t next2 = static_cast<uint32_t>(product0 >> 32) ^ c3[lane] ^ k1;
      c1[lane] = static_cast<uint32_t>(product1);
      c3[lane] = static_cast<uint32_t>(product0);
      c0[lane] = next0;
      c2[lane] = next2;
    }
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  for (int lane = 0; lane < kLanes; ++lane) {
    words[0][lane] = c0[lane];
    words[1][lane] = c1[lane];
    words[2][lane] = c2[lane];
    words[3][lane] = c3[lane];
  }
}
#endif

// The keep flags of `count` elements from first_index, for a scheme of kPerCall elements per
// Philox call: element e of the stream (e = index + element_offset) is element e % kPerCall of
// call e / kPerCall. Every call the range touches is drawn once, in batches of kLanes calls
// whose flags batch_flags(words, flags) writes in element order (flags[kPerCall·lane + j]); the
// partial batches at either end included: an attention row of 200 keys takes 13 calls, not one
// per element of its unaligned head and tail.
template <int kPerCall, typename BatchFlags>
void keep_flags(uint8_t* keep, const DropoutSpec& spec, uint64_t first_index, size_t count,
                const BatchFlags& batch_flags) {
  if (!spec.active()) {
    for (size_t i = 0; i < count; ++i) keep[i] = 1;
    return;
  }
  if (count == 0) return;
  constexpr uint64_t kBatch = static_cast<uint64_t>(kPerCall) * kLanes;
  const uint64_t first = first_index + spec.element_offset, end = first + count;
  uint32_t words[4][kLanes];
  uint8_t flags[kBatch];
  for (uint64_t call = first / kPerCall; call * kPerCall < end; call += kLanes) {
    philox_lanes(call, spec.micro_step, spec.site, spec.seed, words);
    batch_flags(words, flags);
    const uint64_t batch_first = call * kPerCall;
    const uint64_t lo = std::max(first, batch_first), hi = std::min(end, batch_first + kBatch);
    std::memcpy(keep + (lo - first), flags + (lo - batch_first), static_cast<size_t>(hi - lo));
  }
}

}  // namespace

void dropout_keep_flags(uint8_t* keep, const DropoutSpec& spec, uint64_t first_index, size_t count) {
  const uint32_t threshold = static_cast<uint32_t>(std::ceil(static_cast<double>(spec.probability) * 16777216.0));
  keep_flags<4>(keep, spec, first_index, count, [&](const uint32_t words[4][kLanes], uint8_t* flags) {
    for (int lane = 0; lane < kLanes; ++lane)
      for (int j = 0; j < 4; ++j) flags[4 * lane + j] = (words[j][lane] >> 8) >= threshold ? 1 : 0;
  });
}

void attention_dropout_keep_flags(uint8_t* keep, const DropoutSpec& spec, uint64_t first_index,
                                  size_t count) {
  const uint8_t threshold = static_cast<uint8_t>(attention_drop_threshold(spec.probability));
  keep_flags<16>(keep, spec, first_index, count, [&](const uint32_t words[4][kLanes], uint8_t* flags) {
    // Element 4w + b of a call is byte b (little end first) of its word w: unpacked, then one
    // compare per byte in a loop the compiler vectorises.
    uint8_t bytes[16 * kLanes];
    for (int lane = 0; lane < kLanes; ++lane)
      for (int w = 0; w < 4; ++w)
        for (int b = 0; b < 4; ++b) bytes[16 * lane + 4 * w + b] = static_cast<uint8_t>(words[w][lane] >> (8 * b));
    for (int e = 0; e < 16 * kLanes; ++e) flags[e] = bytes[e] >= threshold ? 1 : 0;
  });
}

}  // namespace bert
