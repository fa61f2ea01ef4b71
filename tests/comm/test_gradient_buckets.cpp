// The gradient-bucket plan over the real parameter layout: every gradient element in exactly
// one bucket, buckets in backward order, each bucket at most two contiguous ranges.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>

#include "comm/gradient_buckets.h"
#include "core/error.h"
#include "engine/data_parallel.h"
#include "engine/param_layout.h"
#include "io/bert_config.h"
#include "tests/comm/comm_test_util.h"

namespace bert {
namespace {

void check_plan(const ParamLayout& layout, const std::vector<GradientBucket>& buckets, int num_layers) {
  std::vector<uint8_t> covered(layout.total(), 0);  // bert-base: 109 M elements, no REQUIRE per element
  int previous_unit = num_layers + 2;
  for (const GradientBucket& bucket : buckets) {
    REQUIRE(bucket.last_unit < previous_unit);  // launch order: backward order
    previous_unit = bucket.first_unit;
    REQUIRE(bucket.ranges.size() <= 2);
    size_t numel = 0;
    for (const GradientRange& range : bucket.ranges) {
      for (size_t i = range.offset; i < range.offset + range.count; ++i) ++covered[i];
      numel += range.count;
    }
    REQUIRE(numel == bucket.numel);
  }
  REQUIRE(previous_unit == 0);
  size_t wrong = 0, first_wrong = 0;
  for (size_t i = 0; i < covered.size(); ++i)
    if (covered[i] != 1 && wrong++ == 0) first_wrong = i;
  INFO(wrong << " elements not in exactly one bucket, the first at " << first_wrong);
  REQUIRE(wrong == 0);
}

TEST_CASE("bert-base gradient buckets: one encoder layer each in fp32, two ranges", "[comm][buckets]") {
  const BertConfig config;  // bert-base defaults
  const ParamLayout layout(config);
  const std::vector<GradientSegment> segments = gradient_segments(layout);
  const std::vector<GradientBucket> fp32 = plan_gradient_buckets(segments, kDefaultBucketBytes, 4);
  check_plan(layout, fp32, config.num_hidden_layers);
  // [QA head + layer 11], [layer 10], ..., [layer 0], [embeddings].
  REQUIRE(fp32.size() == 13);
  REQUIRE(fp32.front().first_unit == config.num_hidden_layers);
  REQUIRE(fp32.front().last_unit == config.num_hidden_layers + 1);
  for (size_t b = 1; b + 1 < fp32.size(); ++b) REQUIRE(fp32[b].first_unit == fp32[b].last_unit);
  REQUIRE(fp32.back().numel == 23837184);  // the embeddings, docs/scaling.md
  for (const GradientBucket& bucket : fp32) REQUIRE(bucket.ranges.size() == 2);

  const std::vector<GradientBucket> bf16 = plan_gradient_buckets(segments, kDefaultBucketBytes, 2);
  check_plan(layout, bf16, config.num_hidden_layers);
  REQUIRE(bf16.size() < fp32.size());
}

TEST_CASE("the parameter layout aligns tensors of odd sizes; the segments still tile it", "[comm][buckets]") {
  // intermediate_size 273 and hidden 36 (heads of 12): without alignment every tensor after
  // the first FFN bias starts at an odd element, which the CUDA kernels refuse.
  BertConfig config = test::tiny_config(0.0f);
  config.hidden_size = 36;
  config.num_attention_heads = 3;
  config.intermediate_size = 273;
  config.vocab_size = 101;
  const ParamLayout layout(config);
  size_t count = 0;
  for (const ParamSlot& slot : layout.slots()) {
    INFO(slot.name << " at " << slot.offset);
    count += slot.numel;
    const bool follows_query = slot.name.find(".self.key.") != std::string::npos ||
                               slot.name.find(".self.value.") != std::string::npos;
    if (!follows_query) REQUIRE(slot.offset % ParamLayout::kSlotAlignment == 0);
    REQUIRE(slot.offset + slot.numel <= layout.total());
  }
  REQUIRE(layout.parameter_count() == count);
  REQUIRE(double(count) == bert_qa_parameter_count(config));
  REQUIRE(layout.total() > count);  // gaps exist at these sizes
  REQUIRE(layout.decay_count() % ParamLayout::kSlotAlignment == 0);
  const std::vector<GradientSegment> segments = gradient_segments(layout);
  check_plan(layout, plan_gradient_buckets(segments, 1, 8), config.num_hidden_layers);
  const std::vector<GradientBucket> one = plan_gradient_buckets(segments, size_t(1) << 40, 8);
  REQUIRE(one.size() == 1);
  REQUIRE(one[0].ranges.size() == 1);  // gaps included: one range

  // BERT's usual sizes leave no gaps: the layout of bert-base is the dense one.
  const ParamLayout base{BertConfig{}};
  REQUIRE(base.total() == base.parameter_count());
}

TEST_CASE("gradient buckets of a tiny model and bad segments", "[comm][buckets]") {
  const BertConfig config = test::tiny_config(0.0f);
  const ParamLayout layout(config);
  const std::vector<GradientSegment> segments = gradient_segments(layout);
  check_plan(layout, plan_gradient_buckets(segments, 1, 8), config.num_hidden_layers);  // a unit per bucket
  const std::vector<GradientBucket> one = plan_gradient_buckets(segments, size_t(1) << 40, 8);
  REQUIRE(one.size() == 1);
  REQUIRE(one[0].ranges.size() == 1);  // everything, merged into one range
  REQUIRE(one[0].numel == layout.total());

  std::vector<GradientSegment> overlapping = segments;
  overlapping[1].offset = overlapping[0].offset + 1;
  REQUIRE_THROWS_AS(plan_gradient_buckets(overlapping, kDefaultBucketBytes, 4), BertError);
}

TEST_CASE("the layout's stage ranges tile it, stage by stage, decayed run first",
          "[comm][layout]") {
  BertConfig odd = test::tiny_config(0.0f);  // with alignment gaps, as above
  odd.hidden_size = 36;
  odd.num_attention_heads = 3;
  odd.intermediate_size = 273;
  odd.vocab_size = 101;
  for (const BertConfig& config : {BertConfig{}, test::tiny_config(0.0f), odd}) {
    const ParamLayout layout(config);
    const std::vector<StageRange> ranges = layout.stage_ranges();
    REQUIRE(layout.stage_count() == config.num_hidden_layers + 2);
    REQUIRE(ranges.size() == size_t(2 * layout.stage_count()));  // every stage has both kinds
    std::vector<uint8_t> covered(layout.total(), 0);
    for (size_t r = 0; r < ranges.size(); ++r) {
      const StageRange& range = ranges[r];
      REQUIRE(range.stage == int(r / 2));
      REQUIRE(range.decay == (r % 2 == 0));
      for (size_t i = range.offset; i < range.offset + range.count; ++i) ++covered[i];
      for (const ParamSlot& slot : layout.slots()) {
        if (slot.offset < range.offset || slot.offset >= range.offset + range.count) continue;
        INFO(slot.name);
        REQUIRE(slot.stage == range.stage);
        REQUIRE(slot.decay == range.decay);
        REQUIRE(slot.offset + slot.numel <= range.offset + range.count);
      }
    }
    REQUIRE(std::count(covered.begin(), covered.end(), uint8_t{1}) ==
            std::ptrdiff_t(layout.total()));
  }
  const ParamLayout base{BertConfig{}};
  REQUIRE(base.slot("bert.embeddings.LayerNorm.bias").stage == 0);
  REQUIRE(base.slot("bert.encoder.layer.0.attention.self.key.weight").stage == 1);
  REQUIRE(base.slot("bert.encoder.layer.11.output.LayerNorm.weight").stage == 12);
  REQUIRE(base.slot("qa_outputs.bias").stage == 13);
  for (const char* outside : {"bert.pooler.dense.weight", "bert.encoder.layer.12.output.dense.bias",
                              "bert.encoder.layer.x.output.dense.bias", "bert.encoder.layer.1"})
    REQUIRE_THROWS_AS(ParamLayout::stage_of(outside, 12), BertError);
}

}  // namespace
}  // namespace bert
