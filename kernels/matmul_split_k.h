// Split-K for the weight-gradient GEMMs (a candidate of issue 13, off by default). d_weight
// [out, in] = d_outᵀ · inp sums over k = the batch's tokens (thousands) into an output of only
// in × out elements: at 768 × 768 (attn-out) that is 36 tiles of 128 × 128 for an H100/H200's
// 132 SMs, so most SMs idle unless k is split and the partial products are reduced.
// BERT_GEMM_SPLIT_K (read once per process by kernels/matmul_context.cu) picks the policy:
//   unset, "" or "off": the heuristic's first algorithm, as ever;
//   "auto": split_k_for_tiles below, from the output's tile count and the device's SMs;
//   "2" ... "16": that factor on every weight-gradient GEMM.
// A factor cuBLASLt rejects for a shape falls back to the heuristic's first (said once per
// MatmulContext on stderr). Host code, no CUDA: the CPU tests check the parsing and the rule;
// test_gpu the GEMMs it changes.
#pragma once

#include <string>

#include "core/error.h"

namespace bert {

// The factors a fixed policy may name.
constexpr int kMinSplitK = 2, kMaxSplitK = 16;

struct SplitKPolicy {
  enum class Mode { kOff, kAuto, kFixed };
  Mode mode = Mode::kOff;
  int factor = 0;  // kFixed only
};

// The policy a BERT_GEMM_SPLIT_K value names; InputError on anything else.
inline SplitKPolicy parse_split_k_policy(const char* value) {
  const std::string text = value == nullptr ? "" : value;
  if (text.empty() || text == "off") return {};
  if (text == "auto") return {SplitKPolicy::Mode::kAuto, 0};
  int factor = 0;
  bool digits = text.size() <= 2;
  for (const char c : text) {
    digits = digits && c >= '0' && c <= '9';
    factor = factor * 10 + (c - '0');
  }
  if (!digits || factor < kMinSplitK || factor > kMaxSplitK)
    throw InputError("BERT_GEMM_SPLIT_K: expected off, auto or a factor from 2 to 16, got '" + text + "'");
  return {SplitKPolicy::Mode::kFixed, factor};
}

// "auto": split k so the output's tiles (128 × 128 nominal) times the factor stay within one
// wave of the SMs: the largest power of two ≤ min(8, sms / tiles); 1 (no split) when the
// output alone fills the GPU or k is too short to be worth splitting (under 1,024 per part).
inline int split_k_for_tiles(int m, int n, int k, int sms) {
  const long tiles = static_cast<long>((m + 127) / 128) * ((n + 127) / 128);
  if (tiles <= 0 || sms <= 0) return 1;
  int factor = 1;
  while (factor < 8 && tiles * factor * 2 <= sms && k / (factor * 2) >= 1024) factor *= 2;
  return factor;
}

// The factor the policy gives a weight-gradient GEMM of this shape (1: no split).
inline int split_k_factor(const SplitKPolicy& policy, int m, int n, int k, int sms) {
  switch (policy.mode) {
    case SplitKPolicy::Mode::kOff: return 1;
    case SplitKPolicy::Mode::kAuto: return split_k_for_tiles(m, n, k, sms);
    case SplitKPolicy::Mode::kFixed: return policy.factor;
  }
  return 1;
}

}  // namespace bert
