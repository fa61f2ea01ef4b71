// CPU reference of packed variable-length attention: forward against a naive softmax over a
// padded dense batch with a key mask, d_qkv against central differences (with and without
// attention-probability dropout), float against double.
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "core/error.h"
#include "kernels/attention.h"
#include "tests/kernels/ops_ref_test_util.h"

namespace bert::test {
namespace {

struct AttentionCase {
  std::vector<int32_t> cu_seqlens{0, 5, 6, 13};  // lengths 5, 1, 7
  AttentionShape shape;
  AttentionCase() {
    shape.tokens = 13;
    shape.batch = 3;
    shape.heads = 2;
    shape.head_dim = 3;
    shape.max_positions = 8;
  }
  size_t hidden() const { return static_cast<size_t>(shape.heads) * shape.head_dim; }
};

DropoutSpec attention_dropout(float probability) {
  DropoutSpec spec;
  spec.probability = probability;
  spec.seed = 99;
  spec.micro_step = 4;
  spec.site = dropout_site(1, DropoutKind::kAttentionProbs);
  return spec;
}

template <typename T>
struct AttentionResult {
  std::vector<T> ctx, lse;
};

template <typename T>
AttentionResult<T> attention_out(const AttentionCase& c, const std::vector<T>& qkv,
                                 const DropoutSpec& dropout) {
  AttentionResult<T> result{std::vector<T>(c.shape.tokens * c.hidden()),
                            std::vector<T>(static_cast<size_t>(c.shape.tokens) * c.shape.heads)};
  attention_forward_ref(result.ctx.data(), result.lse.data(), qkv.data(), c.cu_seqlens.data(),
                        c.shape, dropout);
  return result;
}

// Hugging Face's formulation: sequences padded to the longest, scores of padded keys masked
// to −∞, softmax over the full padded row, then dropout and P·V. Only real queries are kept.
AttentionResult<double> naive_attention(const AttentionCase& c, const std::vector<double>& qkv,
                                        const DropoutSpec& dropout) {
  const int heads = c.shape.heads, dim = c.shape.head_dim, hidden = heads * dim;
  int padded = 0;
  for (int b = 0; b < c.shape.batch; ++b)
    padded = std::max(padded, c.cu_seqlens[b + 1] - c.cu_seqlens[b]);
  AttentionResult<double> result{std::vector<double>(c.shape.tokens * c.hidden()),
                                 std::vector<double>(c.shape.tokens * heads)};
  // Attention dropout draws 8 bits per element (kernels/dropout_rng.h), written out here:
  // element 16k + b is byte b of Philox call k, dropped below round(256·p).
  const long threshold = dropout.active() ? std::lround(256.0 * dropout.probability) : 0;
  const double keep_scale = 256.0 / (256.0 - static_cast<double>(threshold));
  auto keep = [&](uint64_t element) {
    const PhiloxOut bits = philox4x32_10(element / 16, dropout.micro_step, dropout.site, dropout.seed);
    const unsigned byte = (bits.v[(element % 16) / 4] >> (8 * (element % 4))) & 0xFF;
    return static_cast<long>(byte) >= threshold;
  };
  for (int b = 0; b < c.shape.batch; ++b) {
    const int first = c.cu_seqlens[b], length = c.cu_seqlens[b + 1] - first;
    for (int h = 0; h < heads; ++h)
      for (int i = 0; i < length; ++i) {
        const int query = first + i;
        std::vector<double> scores(padded, -std::numeric_limits<double>::infinity());
        for (int j = 0; j < length; ++j) {
          double s = 0;
          for (int d = 0; d < dim; ++d)
            s += qkv[query * 3 * hidden + h * dim + d] *
                 qkv[(first + j) * 3 * hidden + hidden + h * dim + d];
          scores[j] = s / std::sqrt(static_cast<double>(dim));
        }
        double sum = 0;
        for (int j = 0; j < padded; ++j) sum += std::exp(scores[j]);
        result.lse[query * heads + h] = std::log(sum);
        for (int d = 0; d < dim; ++d) {
          double acc = 0;
          for (int j = 0; j < padded; ++j) {
            const uint64_t element =
                (static_cast<uint64_t>(query) * heads + h) * c.shape.max_positions + j;
            const double p = std::exp(scores[j]) / sum;
            const double kept = dropout.active() ? (keep(element) ? p * keep_scale : 0) : p;
            if (j < length) acc += kept * qkv[(first + j) * 3 * hidden + 2 * hidden + h * dim + d];
          }
          result.ctx[query * hidden + h * dim + d] = acc;
        }
      }
  }
  return result;
}

void check_attention(float probability) {
  const AttentionCase c;
  const DropoutSpec dropout = attention_dropout(probability);
  std::mt19937_64 rng(31);
  std::vector<double> qkv = random_vector(c.shape.tokens * 3 * c.hidden(), rng, -1.5, 1.5);
  const std::vector<double> r = random_vector(c.shape.tokens * c.hidden(), rng);

  const AttentionResult<double> fwd = attention_out(c, qkv, dropout);
  const AttentionResult<double> naive = naive_attention(c, qkv, dropout);
  REQUIRE_CLOSE("attention ctx vs naive", compare_close(fwd.ctx, naive.ctx, 1e-14, 1e-13));
  REQUIRE_CLOSE("attention lse vs naive", compare_close(fwd.lse, naive.lse, 1e-14, 1e-13));

  std::vector<double> d_qkv(qkv.size(), std::nan(""));  // overwritten everywhere
  attention_backward_ref(d_qkv.data(), r.data(), qkv.data(), fwd.ctx.data(), fwd.lse.data(),
                         c.cu_seqlens.data(), c.shape, dropout);
  check_gradient("attention d_qkv", qkv, d_qkv, [&] { return dot(r, attention_out(c, qkv, dropout).ctx); });

  const AttentionResult<float> fwd_float = attention_out(c, to_float(qkv), dropout);
  REQUIRE_CLOSE("attention float ctx", compare_close(fwd_float.ctx, fwd.ctx, kFloatAtol, kFloatRtol));
  REQUIRE_CLOSE("attention float lse", compare_close(fwd_float.lse, fwd.lse, kFloatAtol, kFloatRtol));
  std::vector<float> d_qkv_float(qkv.size());
  const std::vector<float> r_float = to_float(r);
  attention_backward_ref(d_qkv_float.data(), r_float.data(), to_float(qkv).data(),
                         fwd_float.ctx.data(), fwd_float.lse.data(), c.cu_seqlens.data(), c.shape,
                         dropout);
  REQUIRE_CLOSE("attention float d_qkv", compare_close(d_qkv_float, d_qkv, 1e-5, 1e-4));
}

TEST_CASE("attention_ref: forward vs naive, d_qkv by finite differences", "[kernels][attention]") {
  SECTION("no dropout") { check_attention(0.0f); }
  SECTION("dropout 0.3 on the probabilities") { check_attention(0.3f); }
}

TEST_CASE("attention_ref: dropout mask depends on micro-step", "[kernels][attention]") {
  const AttentionCase c;
  std::mt19937_64 rng(32);
  const std::vector<double> qkv = random_vector(c.shape.tokens * 3 * c.hidden(), rng);
  DropoutSpec first = attention_dropout(0.3f), second = first;
  second.micro_step += 1;
  const AttentionResult<double> a = attention_out(c, qkv, first);
  const AttentionResult<double> b = attention_out(c, qkv, second);
  REQUIRE_FALSE(compare_close(a.ctx, b.ctx, 1e-12, 1e-12).ok);
  REQUIRE(a.lse == b.lse);  // the statistics are taken before dropout
}

TEST_CASE("attention_ref: rejects inconsistent cu_seqlens", "[kernels][attention]") {
  AttentionCase c;
  std::vector<double> qkv(c.shape.tokens * 3 * c.hidden(), 0.0);
  c.cu_seqlens = {0, 5, 6, 12};  // does not reach tokens
  REQUIRE_THROWS_AS(attention_out(c, qkv, attention_dropout(0.0f)), BertError);
  c.cu_seqlens = {0, 5, 4, 13};  // negative length
  REQUIRE_THROWS_AS(attention_out(c, qkv, attention_dropout(0.0f)), BertError);
  c.cu_seqlens = {0, 1, 2, 13};  // length 11 > max_positions 8
  REQUIRE_THROWS_AS(attention_out(c, qkv, attention_dropout(0.0f)), BertError);
  // The shape's longest bounds the lengths too, and max_positions bounds it.
  c.cu_seqlens = {0, 4, 8, 13};
  REQUIRE_NOTHROW(attention_out(c, qkv, attention_dropout(0.0f)));
  c.shape.longest = 5;
  REQUIRE_NOTHROW(attention_out(c, qkv, attention_dropout(0.0f)));
  c.shape.longest = 4;
  REQUIRE_THROWS_WITH(
      attention_out(c, qkv, attention_dropout(0.0f)),
      Catch::Contains("sequence 2 has length 5, expected 0..4 (the shape's longest)"));
  c.shape.longest = 9;
  REQUIRE_THROWS_WITH(attention_out(c, qkv, attention_dropout(0.0f)),
                      Catch::Contains("longest 9, expected 0..8"));
}

}  // namespace
}  // namespace bert::test
