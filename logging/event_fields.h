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
constexpr uint32_t kValueTag = 1;     // string
constexpr uint32_t kSimpleValue = 2;  // float, oneof value
constexpr uint32_t kValueTensor = 8;  // TensorProto, oneof value
constexpr uint32_t kValueMetadata = 9;  // SummaryMetadata
// SummaryMetadata
constexpr uint32_t kPluginData = 1;  // PluginData
// SummaryMetadata.PluginData
constexpr uint32_t kPluginName = 1;  // string
// TensorProto (tensorflow/core/framework/tensor.proto)
constexpr uint32_t kTensorDtype = 1;      // DataType enum
constexpr uint32_t kTensorShape = 2;      // TensorShapeProto
constexpr uint32_t kTensorStringVal = 8;  // repeated bytes
constexpr int64_t kDtypeString = 7;       // DT_STRING
// TensorShapeProto
constexpr uint32_t kShapeDim = 2;  // repeated Dim
// TensorShapeProto.Dim
constexpr uint32_t kDimSize = 1;  // int64

}  // namespace bert::event_fields
