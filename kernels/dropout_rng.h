// Counter-based dropout masks: Philox4x32-10 keyed by the run's seed, counted by
// (micro-step, site, element). Backward regenerates the same mask from the same key and
// counter instead of storing it, and the CPU reference and CUDA kernels draw identical bits.
//
// Element groups: one Philox call yields 4 uniforms, used by elements 4k..4k+3 (so a CUDA
// thread can handle 4 neighbours with one call). Counter = {k lo, k hi, micro_step, site}.
// A site identifies where dropout happens: see dropout_site().
#pragma once

#include <cstdint>

#include "kernels/host_device.h"

namespace bert {

struct DropoutSpec {
  float probability = 0.0f;    // P(drop); 0 disables dropout (the op is then the identity)
  uint64_t seed = 0;           // run seed
  uint32_t micro_step = 0;     // global micro-batch counter (differs for every forward pass)
  uint32_t site = 0;           // dropout_site(layer, kind)
  uint64_t element_offset = 0; // added to each element index (e.g. the batch slice of a rank)
  bool active() const { return probability > 0.0f; }
};

enum class DropoutKind : uint32_t {
  kEmbeddings = 0,       // after the embedding LayerNorm
  kAttentionProbs = 1,   // on the softmax probabilities
  kAttentionOutput = 2,  // on the attention output projection, before the residual
  kFfnOutput = 3,        // on the FFN output, before the residual
};

// Layer -1 stands for the embeddings.
BERT_HOST_DEVICE uint32_t dropout_site(int layer, DropoutKind kind) {
  return static_cast<uint32_t>((layer + 1) * 4) + static_cast<uint32_t>(kind);
}

struct PhiloxOut {
  uint32_t v[4];
};

BERT_HOST_DEVICE void philox_round(uint32_t* ctr, const uint32_t* key) {
  const uint64_t product0 = static_cast<uint64_t>(0xD2511F53u) * ctr[0];
  const uint64_t product1 = static_cast<uint64_t>(0xCD9E8D57u) * ctr[2];
  const uint32_t hi0 = static_cast<uint32_t>(product0 >> 32), lo0 = static_cast<uint32_t>(product0);
  const uint32_t hi1 = static_cast<uint32_t>(product1 >> 32), lo1 = static_cast<uint32_t>(product1);
  const uint32_t next[4] = {hi1 ^ ctr[1] ^ key[0], lo1, hi0 ^ ctr[3] ^ key[1], lo0};
  ctr[0] = next[0];
  ctr[1] = next[1];
  ctr[2] = next[2];
  ctr[3] = next[3];
}

BERT_HOST_DEVICE PhiloxOut philox4x32_10(uint64_t counter_lo, uint32_t counter_2, uint32_t counter_3,
                                          uint64_t key64) {
  uint32_t ctr[4] = {static_cast<uint32_t>(counter_lo), static_cast<uint32_t>(counter_lo >> 32),
                     counter_2, counter_3};
  uint32_t key[2] = {static_cast<uint32_t>(key64), static_cast<uint32_t>(key64 >> 32)};
  for (int round = 0; round < 10; ++round) {
    philox_round(ctr, key);
    if (round < 9) {
      key[0] += 0x9E3779B9u;
      key[1] += 0xBB67AE85u;
    }
  }
  return PhiloxOut{{ctr[0], ctr[1], ctr[2], ctr[3]}};
}

// Uniform in [0, 1) from the top 24 bits (exact in float).
BERT_HOST_DEVICE float uniform_from_bits(uint32_t bits) {
  return static_cast<float>(bits >> 8) * (1.0f / 16777216.0f);
}

// True when element `index` of the site is kept. Kept values are scaled by 1/(1-p).
BERT_HOST_DEVICE bool dropout_keep(const DropoutSpec& spec, uint64_t index) {
  const uint64_t element = index + spec.element_offset;
  const PhiloxOut bits = philox4x32_10(element >> 2, spec.micro_step, spec.site, spec.seed);
  return uniform_from_bits(bits.v[element & 3]) >= spec.probability;
}

// ---------------------------------------------------------------------------------------------
// Attention-probability dropout (kernels/attention.h) draws 8 bits per element, not 32: its
// B·heads·L² elements are drawn in the forward and again in the backward, inside the attention
// kernels, where each Philox call competes with the tensor-core work. One call gives 16 elements:
// element 16k + b is byte b of call k (byte 4w + i = bits 8i..8i+7 of word w). An element is
// dropped when its byte < attention_drop_threshold(p) = round(256·p), so the drop rate is p
// rounded to a multiple of 1/256 (0.1 → 26/256 = 0.1016), and kept values are scaled by
// attention_keep_scale(p) = 256 / (256 − threshold): E[dropout(x)] = x stays exact.
// FlashAttention's and PyTorch's fused SDPA dropout likewise compare 8-bit draws.

// round(256·p), at least 1 and at most 255 when p > 0; 0 when p <= 0 (dropout off).
BERT_HOST_DEVICE uint32_t attention_drop_threshold(float probability) {
  if (!(probability > 0.0f)) return 0;
  const float scaled = probability * 256.0f + 0.5f;
  const uint32_t threshold = scaled >= 255.0f ? 255u : static_cast<uint32_t>(scaled);
  return threshold < 1u ? 1u : threshold;
}

// The drop rate attention dropout actually applies: attention_drop_threshold(p) / 256.
BERT_HOST_DEVICE float attention_drop_rate(float probability) {
  return static_cast<float>(attention_drop_threshold(probability)) * (1.0f / 256.0f);
}

// 1 / (1 − drop rate): the factor of a kept attention probability (1 when dropout is off).
BERT_HOST_DEVICE float attention_keep_scale(float probability) {
  return 256.0f / static_cast<float>(256u - attention_drop_threshold(probability));
}

// Byte b (0..15) of a Philox output, as numbered above.
BERT_HOST_DEVICE uint32_t philox_byte(const PhiloxOut& bits, uint32_t b) {
  return (bits.v[b >> 2] >> (8u * (b & 3u))) & 0xFFu;
}

// True when attention-dropout element `index` of the site is kept.
BERT_HOST_DEVICE bool attention_dropout_keep(const DropoutSpec& spec, uint64_t index) {
  const uint64_t element = index + spec.element_offset;
  const PhiloxOut bits = philox4x32_10(element >> 4, spec.micro_step, spec.site, spec.seed);
  return philox_byte(bits, static_cast<uint32_t>(element & 15)) >= attention_drop_threshold(spec.probability);
}

}  // namespace bert
