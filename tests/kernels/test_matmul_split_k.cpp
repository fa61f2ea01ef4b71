// BERT_GEMM_SPLIT_K's policy (kernels/matmul_split_k.h): the values it accepts, the message for
// the others, and the "auto" rule against bert-base's weight-gradient shapes on 132 SMs.
#include <catch2/catch.hpp>

#include "kernels/matmul_split_k.h"

namespace bert {

TEST_CASE("BERT_GEMM_SPLIT_K: off, auto or a factor from 2 to 16", "[kernels][matmul]") {
  CHECK(parse_split_k_policy(nullptr).mode == SplitKPolicy::Mode::kOff);
  CHECK(parse_split_k_policy("").mode == SplitKPolicy::Mode::kOff);
  CHECK(parse_split_k_policy("off").mode == SplitKPolicy::Mode::kOff);
  CHECK(parse_split_k_policy("auto").mode == SplitKPolicy::Mode::kAuto);
  const SplitKPolicy four = parse_split_k_policy("4");
  CHECK(four.mode == SplitKPolicy::Mode::kFixed);
  CHECK(four.factor == 4);
  CHECK(parse_split_k_policy("16").factor == 16);
  for (const char* bad : {"1", "0", "17", "-2", "4x", "x", "auto ", "100", "002"}) {
    INFO(bad);
    CHECK_THROWS_WITH(parse_split_k_policy(bad),
                      Catch::Contains("BERT_GEMM_SPLIT_K: expected off, auto or a factor from 2 to 16"));
  }
}

TEST_CASE("split-K auto: the output's tiles times the factor within one wave, k long enough", "[kernels][matmul]") {
  const int sms = 132, tokens = 5557;
  // d_weight is m = in_features by n = out_features.
  CHECK(split_k_for_tiles(768, 768, tokens, sms) == 2);     // attn-out: 36 tiles
  CHECK(split_k_for_tiles(768, 2304, tokens, sms) == 1);    // QKV: 108 tiles
  CHECK(split_k_for_tiles(768, 3072, tokens, sms) == 1);    // FFN1: 144 tiles
  CHECK(split_k_for_tiles(384, 384, 12288, sms) == 8);      // MiniLM's attn-out: 9 tiles
  CHECK(split_k_for_tiles(384, 384, tokens, sms) == 4);     // parts of 1,389 tokens, not 694
  CHECK(split_k_for_tiles(384, 384, 2048, sms) == 2);       // k too short for more
  CHECK(split_k_for_tiles(768, 768, 1500, sms) == 1);       // parts under 1,024
  CHECK(split_k_for_tiles(768, 768, tokens, 0) == 1);       // no device count: no split
  CHECK(split_k_factor(SplitKPolicy{}, 768, 768, tokens, sms) == 1);
  CHECK(split_k_factor(SplitKPolicy{SplitKPolicy::Mode::kAuto, 0}, 768, 768, tokens, sms) == 2);
  CHECK(split_k_factor(SplitKPolicy{SplitKPolicy::Mode::kFixed, 4}, 768, 3072, tokens, sms) == 4);
}

}  // namespace bert
