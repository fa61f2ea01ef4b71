// The typed view of a flat buffer every layer above core passes around: the backends allocate
// and own the memory (engine/backend.h), the communicators reduce it (comm/), the model holds
// views into it. Here, below both, so that neither has to include the other for the type.
#pragma once

#include <cstddef>

namespace bert {

enum class ScalarType { kF32, kF64, kBF16, kI32 };
size_t scalar_size(ScalarType dtype);
const char* scalar_name(ScalarType dtype);

// A view of backend memory. Views never own; the backend frees everything it allocated.
struct Tensor {
  void* data = nullptr;
  size_t numel = 0;
  ScalarType dtype = ScalarType::kF32;
  bool empty() const { return data == nullptr; }
};

// Elements [offset, offset + count) of a tensor, as a tensor.
Tensor slice(const Tensor& whole, size_t offset, size_t count);

}  // namespace bert
