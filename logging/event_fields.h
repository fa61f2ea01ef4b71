// Field numbers of the tensorflow.Event messages (tensorflow/core/util/event.proto and
// summary.proto) that the TensorBoard writer and reader use. Shared so the two cannot drift.
#pragma once

#include <cstdint>

namespace bert::event_fields {

// Event
constexpr uint32_t kWallTime = 1;     // double
constexpr uint32_t kStep = 2;         // int64
constexpr uint32_t kFileVersion = 3;  // string, oneof what
constexpr uint32_t kSummary = 5;      // Summary, oneof what
// Summary
constexpr uint32_t kSummaryValue = 1;  // repeated Value
// Summary.Value
constexpr uint32_t kValueTag = 1;    // string
constexpr uint32_t kSimpleValue = 2;  // float, oneof value

}  // namespace bert::event_fields
