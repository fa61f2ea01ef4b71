// CPU references of dropout: the counter-based mask (determinism, keep rate, independence of
// micro-step and site, element offsets), forward/backward/residual consistency, p = 0 identity.
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/dropout.h"
#include "kernels/dropout_mask_ref.h"
#include "kernels/dropout_rng.h"
#include "tests/kernels/ops_ref_test_util.h"

namespace bert::test {
namespace {

DropoutSpec make_spec(float probability) {
  DropoutSpec spec;
  spec.probability = probability;
  spec.seed = 0x1234abcd5678ull;
  spec.micro_step = 17;
  spec.site = dropout_site(3, DropoutKind::kFfnOutput);
  return spec;
}

// Draws keep(spec, i) for 100,000 elements, each checked by each(i, kept): the keep rate must be
// `rate`, and a mask with another micro-step, site (other_site) or seed must agree with it on
// rate² + (1 − rate)² of the elements, as independent masks do.
template <typename Keep, typename Each>
void check_keyed_mask(const Keep& keep, const DropoutSpec& spec, uint32_t other_site, double rate,
                      const Each& each) {
  const size_t count = 100000;
  size_t kept = 0, same_step = 0, same_site = 0, same_seed = 0;
  DropoutSpec other_step = spec, other_site_spec = spec, other_seed = spec;
  other_step.micro_step += 1;
  other_site_spec.site = other_site;
  other_seed.seed += 1;
  for (size_t i = 0; i < count; ++i) {
    const bool k = keep(spec, i);
    each(i, k);
    kept += k;
    same_step += k == keep(other_step, i);
    same_site += k == keep(other_site_spec, i);
    same_seed += k == keep(other_seed, i);
  }
  // Binomial standard deviation is about 0.0015 at these rates; allow about 5 of them.
  CHECK(std::abs(static_cast<double>(kept) / count - rate) < 0.0075);
  for (size_t same : {same_step, same_site, same_seed})
    CHECK(std::abs(static_cast<double>(same) / count - (rate * rate + (1 - rate) * (1 - rate))) < 0.01);
}

TEST_CASE("dropout_keep: deterministic, rate 1-p, keyed by micro-step and site", "[kernels][dropout]") {
  const DropoutSpec spec = make_spec(0.3f);
  const auto keep = [](const DropoutSpec& s, size_t i) { return dropout_keep(s, i); };
  check_keyed_mask(keep, spec, dropout_site(3, DropoutKind::kAttentionOutput), 0.7,
                   [&](size_t i, bool kept) { REQUIRE(kept == dropout_keep(spec, i)); });
  REQUIRE(dropout_site(-1, DropoutKind::kEmbeddings) == 0);
  REQUIRE(dropout_site(0, DropoutKind::kEmbeddings) != dropout_site(-1, DropoutKind::kFfnOutput));
}

// dropout_keep_flags draws 8 Philox groups at a time: every start (aligned or not), length,
// element offset and probability (a threshold on the 24 bits, edge values included) must give
// exactly dropout_keep's bits. Offset 2^34 − 8 puts group 2^32 − 2 first, so the 8 counters of a
// batch carry into their high word.
TEST_CASE("dropout_keep_flags equals dropout_keep element by element", "[kernels][dropout]") {
  for (const float probability : {0.1f, 0.5f, 0.3333333f, 1e-7f, 0.9999999f, 1.0f}) {
    DropoutSpec spec = make_spec(probability);
    for (const uint64_t offset :
         {uint64_t(0), uint64_t(3), uint64_t(1) << 33, (uint64_t(1) << 34) - 8}) {
      spec.element_offset = offset;
      for (const uint64_t first : {0, 1, 2, 5, 31, 32, 77}) {
        for (const size_t count : {0, 1, 3, 4, 31, 32, 33, 100, 1000}) {
          std::vector<uint8_t> keep(count, 7);
          dropout_keep_flags(keep.data(), spec, first, count);
          size_t mismatches = 0;
          for (size_t i = 0; i < count; ++i) mismatches += keep[i] != (dropout_keep(spec, first + i) ? 1 : 0);
          INFO("p " << probability << " offset " << offset << " first " << first << " count " << count);
          REQUIRE(mismatches == 0);
        }
      }
    }
  }
}

// Attention dropout's 8-bit scheme: the threshold rounds 256·p, the keep rate is 1 − threshold/256,
// masks are keyed like dropout_keep's, and element 16k + b is byte b of Philox call k.
TEST_CASE("attention_dropout_keep: 8-bit thresholds, rate 1 - round(256p)/256, keyed", "[kernels][dropout]") {
  CHECK(attention_drop_threshold(0.0f) == 0);
  CHECK(attention_keep_scale(0.0f) == 1.0f);
  CHECK(attention_drop_threshold(0.1f) == 26);  // 25.6
  CHECK(attention_drop_rate(0.1f) == 26.0f / 256.0f);
  CHECK(attention_keep_scale(0.1f) == 256.0f / 230.0f);
  CHECK(attention_drop_threshold(0.5f) == 128);
  CHECK(attention_drop_threshold(0.3f) == 77);  // 76.8
  CHECK(attention_drop_threshold(1e-7f) == 1);  // never rounded off to no dropout
  CHECK(attention_drop_threshold(0.9999f) == 255);  // never everything dropped

  DropoutSpec spec = make_spec(0.3f);
  spec.site = dropout_site(3, DropoutKind::kAttentionProbs);
  const auto keep = [](const DropoutSpec& s, size_t i) { return attention_dropout_keep(s, i); };
  check_keyed_mask(keep, spec, dropout_site(4, DropoutKind::kAttentionProbs), 179.0 / 256.0,  // threshold 77
                   [&](size_t i, bool kept) {
                     const PhiloxOut bits = philox4x32_10(i / 16, spec.micro_step, spec.site, spec.seed);
                     const uint32_t byte = (bits.v[(i % 16) / 4] >> (8 * (i % 4))) & 0xFF;
                     REQUIRE(kept == (byte >= 77));
                   });
}

TEST_CASE("attention_dropout_keep_flags equals attention_dropout_keep element by element", "[kernels][dropout]") {
  for (const float probability : {0.1f, 0.5f, 1e-7f, 0.9999f, 0.0f}) {
    DropoutSpec spec = make_spec(probability);
    // 2^36 − 32: call 2^32 − 2 first, a batch whose counters carry into their high word.
    for (const uint64_t offset :
         {uint64_t(0), uint64_t(5), uint64_t(1) << 33, (uint64_t(1) << 36) - 32}) {
      spec.element_offset = offset;
      for (const uint64_t first : {0, 1, 15, 16, 17, 127, 128, 384}) {
        for (const size_t count : {0, 1, 15, 16, 17, 127, 128, 129, 300, 1000}) {
          std::vector<uint8_t> keep(count, 7);
          attention_dropout_keep_flags(keep.data(), spec, first, count);
          size_t mismatches = 0;
          for (size_t i = 0; i < count; ++i)
            mismatches += keep[i] != (!spec.active() || attention_dropout_keep(spec, first + i) ? 1 : 0);
          INFO("p " << probability << " offset " << offset << " first " << first << " count " << count);
          REQUIRE(mismatches == 0);
        }
      }
    }
  }
}

TEST_CASE("dropout_ref: forward uses dropout_keep, backward the same mask", "[kernels][dropout]") {
  const DropoutSpec spec = make_spec(0.3f);
  const size_t count = 100000;
  std::mt19937_64 rng(21);
  const std::vector<double> inp = random_vector(count, rng, 0.5, 1.5);  // never 0
  std::vector<double> out(count), d_inp(count);
  dropout_forward_ref(out.data(), inp.data(), count, spec);
  dropout_backward_ref(d_inp.data(), inp.data(), count, spec, Accumulate::kOverwrite);
  const double scale = 1.0 / (1.0 - static_cast<double>(spec.probability));
  std::vector<double> expected(count);
  size_t kept = 0, kept_backward = 0;
  for (size_t i = 0; i < count; ++i) {
    expected[i] = dropout_keep(spec, i) ? inp[i] * scale : 0.0;
    kept += out[i] != 0;
    kept_backward += d_inp[i] != 0;
  }
  REQUIRE_CLOSE("dropout forward", compare_close(out, expected, 0, 1e-15));
  REQUIRE_CLOSE("dropout backward mask", compare_close(d_inp, out, 0, 0));
  REQUIRE(kept == kept_backward);
  CHECK(std::abs(static_cast<double>(kept) / count - 0.7) < 0.0075);

  // A slice with element_offset draws the same mask as the corresponding part of the whole.
  const size_t split = 1234;
  DropoutSpec tail = spec;
  tail.element_offset = split;
  std::vector<double> out_tail(count - split);
  dropout_forward_ref(out_tail.data(), inp.data() + split, count - split, tail);
  REQUIRE_CLOSE("dropout element_offset",
                compare_close(out_tail, std::vector<double>(out.begin() + split, out.end()), 0, 0));

  // residual_dropout = residual + dropout(branch), with the same mask.
  const std::vector<double> residual = random_vector(count, rng);
  std::vector<double> fused(count);
  residual_dropout_forward_ref(fused.data(), inp.data(), residual.data(), count, spec);
  REQUIRE_CLOSE("residual_dropout", compare_close(fused, plus(residual, out), 0, 1e-15));

  // kAdd adds onto the buffer.
  const std::vector<double> d0 = random_vector(count, rng);
  std::vector<double> d_added = d0;
  dropout_backward_ref(d_added.data(), inp.data(), count, spec, Accumulate::kAdd);
  REQUIRE_CLOSE("dropout kAdd", compare_close(d_added, plus(d0, d_inp), 0, 1e-15));

  // Float draws the same mask as double.
  const std::vector<float> inp_float = to_float(inp);
  std::vector<float> out_float(count);
  dropout_forward_ref(out_float.data(), inp_float.data(), count, spec);
  REQUIRE_CLOSE("dropout float vs double", compare_close(out_float, out, kFloatAtol, kFloatRtol));
}

TEST_CASE("dropout_ref: gradients by finite differences (p = 0.3)", "[kernels][dropout]") {
  const DropoutSpec spec = make_spec(0.3f);
  const size_t count = 41;
  std::mt19937_64 rng(22);
  std::vector<double> inp = random_vector(count, rng), residual = random_vector(count, rng);
  const std::vector<double> r = random_vector(count, rng);
  std::vector<double> d_inp(count);
  dropout_backward_ref(d_inp.data(), r.data(), count, spec, Accumulate::kOverwrite);
  const auto loss = [&] {
    std::vector<double> out(count);
    dropout_forward_ref(out.data(), inp.data(), count, spec);
    return dot(r, out);
  };
  check_gradient("dropout d_inp", inp, d_inp, loss);
  // residual_dropout: d_branch is dropout_backward, d_residual is the identity.
  const auto residual_loss = [&] {
    std::vector<double> out(count);
    residual_dropout_forward_ref(out.data(), inp.data(), residual.data(), count, spec);
    return dot(r, out);
  };
  check_gradient("residual_dropout d_branch", inp, d_inp, residual_loss);
  check_gradient("residual_dropout d_residual", residual, r, residual_loss);
}

TEST_CASE("dropout_ref: p = 0 is exactly the identity", "[kernels][dropout]") {
  DropoutSpec spec = make_spec(0.0f);
  REQUIRE_FALSE(spec.active());
  std::mt19937_64 rng(23);
  const size_t count = 1001;
  const std::vector<double> inp = random_vector(count, rng), residual = random_vector(count, rng);
  std::vector<double> out(count), d_inp(count), fused(count);
  dropout_forward_ref(out.data(), inp.data(), count, spec);
  dropout_backward_ref(d_inp.data(), inp.data(), count, spec, Accumulate::kOverwrite);
  residual_dropout_forward_ref(fused.data(), inp.data(), residual.data(), count, spec);
  REQUIRE(out == inp);
  REQUIRE(d_inp == inp);
  for (size_t i = 0; i < count; ++i) REQUIRE(fused[i] == residual[i] + inp[i]);
}

}  // namespace
}  // namespace bert::test
