#include "comm/gradient_buckets.h"

#include <algorithm>
#include <map>

#include "core/error.h"

namespace bert {
namespace {

GradientBucket make_bucket(const std::vector<const GradientSegment*>& members) {
  GradientBucket bucket;
  bucket.first_unit = members.front()->unit;
  bucket.last_unit = members.front()->unit;
  std::vector<GradientRange> ranges;
  for (const GradientSegment* s : members) {
    bucket.first_unit = std::min(bucket.first_unit, s->unit);
    bucket.last_unit = std::max(bucket.last_unit, s->unit);
    ranges.push_back({s->offset, s->numel});
    bucket.numel += s->numel;
  }
  std::sort(ranges.begin(), ranges.end(),
            [](const GradientRange& a, const GradientRange& b) { return a.offset < b.offset; });
  for (const GradientRange& r : ranges) {
    if (!bucket.ranges.empty() && bucket.ranges.back().offset + bucket.ranges.back().count == r.offset)
      bucket.ranges.back().count += r.count;
    else
      bucket.ranges.push_back(r);
  }
  return bucket;
}

}  // namespace

std::vector<GradientBucket> plan_gradient_buckets(const std::vector<GradientSegment>& segments,
                                                  size_t bucket_bytes, size_t element_bytes) {
  BERT_CHECK(element_bytes > 0, "plan_gradient_buckets: element size must be positive");
  // Overlap check over the segments sorted by offset.
  std::vector<const GradientSegment*> by_offset;
  for (const GradientSegment& s : segments) {
    BERT_CHECK(s.numel > 0, "plan_gradient_buckets: segment " + s.name + " is empty");
    by_offset.push_back(&s);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const GradientSegment* a, const GradientSegment* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i)
    BERT_CHECK(by_offset[i - 1]->offset + by_offset[i - 1]->numel <= by_offset[i]->offset,
               "plan_gradient_buckets: segments " + by_offset[i - 1]->name + " and " + by_offset[i]->name +
                   " overlap");

  std::map<int, std::vector<const GradientSegment*>> units;  // ascending unit
  std::map<int, size_t> unit_numel;
  for (const GradientSegment& s : segments) {
    units[s.unit].push_back(&s);
    unit_numel[s.unit] += s.numel;
  }
  std::vector<GradientBucket> buckets;
  std::vector<const GradientSegment*> members;
  size_t members_numel = 0;
  for (auto unit = units.rbegin(); unit != units.rend(); ++unit) {
    members.insert(members.end(), unit->second.begin(), unit->second.end());
    members_numel += unit_numel[unit->first];
    if (members_numel * element_bytes >= bucket_bytes) {
      buckets.push_back(make_bucket(members));
      members.clear();
      members_numel = 0;
    }
  }
  if (!members.empty()) buckets.push_back(make_bucket(members));
  return buckets;
}

}  // namespace bert
