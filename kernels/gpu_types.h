// Types named by the CUDA launcher declarations in kernels/<op>.h. Includes no CUDA header, so
// host-only translation units (g++) can include every op header; kernels/*.cu see the real types.
#pragma once

#include <cstddef>
#include <cstdint>

// cuda_bf16.h defines `struct __nv_bfloat16`; this declaration agrees with it.
struct __nv_bfloat16;

namespace bert {

using bf16 = ::__nv_bfloat16;  // bf16 storage for activations and GEMM operands

// Host code that cannot see cuda_bf16.h holds bf16 values as their 16 bits.
inline bf16* as_bf16(uint16_t* bits) { return reinterpret_cast<bf16*>(bits); }
inline const bf16* as_bf16(const uint16_t* bits) { return reinterpret_cast<const bf16*>(bits); }

// Scratch device memory lent to one launcher call (stream-ordered: reusable by the next call on
// the same stream). Each op that needs scratch says how much with <op>_workspace_bytes().
struct GpuWorkspace {
  void* data = nullptr;
  size_t bytes = 0;
};

}  // namespace bert
