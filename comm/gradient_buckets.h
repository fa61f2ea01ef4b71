// Gradient buckets: the plan for overlapping the gradient all-reduce with backward (NCCL).
// Backward finishes gradients in reverse model order (QA head, last layer, ..., first layer,
// embeddings); a bucket groups consecutive "units" (a unit = the parameters one stage of the
// backward completes, e.g. one encoder layer) up to ~25 MB, in that order, so the bucket's
// all-reduce can start as soon as its last unit's backward is done.
//
// A unit's parameters need not be contiguous in the flat buffer: ParamLayout puts every
// weight-decayed tensor first and the biases/LayerNorm after, so one layer is two ranges
// (its weights inside the decayed range, its biases and LayerNorm inside the other). Within
// each range the model order holds, so consecutive units stay adjacent there and a bucket of
// consecutive units is exactly two contiguous ranges (merged when they touch): see
// docs/data_parallel.md for why this is kept instead of reordering the layout.
//
// The CPU communicator ignores buckets and reduces the whole flat buffer once per step.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace bert {

// One parameter tensor's gradient: elements [offset, offset + numel) of the flat buffer.
struct GradientSegment {
  std::string name;
  size_t offset = 0;
  size_t numel = 0;
  int unit = 0;  // backward stage; higher units finish earlier (backward runs from the top)
};

struct GradientRange {
  size_t offset = 0;
  size_t count = 0;
};

struct GradientBucket {
  int first_unit = 0, last_unit = 0;  // units [first_unit, last_unit]
  std::vector<GradientRange> ranges;  // ascending offsets, adjacent ranges merged
  size_t numel = 0;                   // Σ range counts
};

// Buckets in launch order (highest unit first). Units are added to the open bucket until it
// holds at least bucket_bytes, then it is closed; a unit is never split (so the ~95 MB word
// embeddings of bert-base make one bucket). bert-base in fp32 at 25 MB: [QA head + layer 11],
// [layer 10], ..., [layer 0], [embeddings]. Throws BertError when segments overlap or are empty.
std::vector<GradientBucket> plan_gradient_buckets(const std::vector<GradientSegment>& segments,
                                                  size_t bucket_bytes, size_t element_bytes);

constexpr size_t kDefaultBucketBytes = size_t(25) << 20;  // torch DDP's bucket_cap_mb = 25

}  // namespace bert
