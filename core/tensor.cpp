#include "core/tensor.h"

#include <string>

#include "core/error.h"

namespace bert {

size_t scalar_size(ScalarType dtype) {
  switch (dtype) {
    case ScalarType::kF32: return 4;
    case ScalarType::kF64: return 8;
    case ScalarType::kBF16: return 2;
    case ScalarType::kI32: return 4;
  }
  return 0;
}

const char* scalar_name(ScalarType dtype) {
  switch (dtype) {
    case ScalarType::kF32: return "f32";
    case ScalarType::kF64: return "f64";
    case ScalarType::kBF16: return "bf16";
    case ScalarType::kI32: return "i32";
  }
  return "?";
}

Tensor slice(const Tensor& whole, size_t offset, size_t count) {
  BERT_CHECK(offset + count <= whole.numel, "slice [" + std::to_string(offset) + ", " +
                                                std::to_string(offset + count) + ") of a tensor of " +
                                                std::to_string(whole.numel));
  Tensor part = whole;
  part.data = static_cast<char*>(whole.data) + offset * scalar_size(whole.dtype);
  part.numel = count;
  return part;
}

}  // namespace bert
