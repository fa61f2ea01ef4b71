// Host helper shared by the CPU references of dropout and attention: the keep flags of
// `count` consecutive dropout elements, drawing each Philox group of 4 once instead of once
// per element. Identical bits to dropout_keep() in kernels/dropout_rng.h.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/dropout_rng.h"

namespace bert {

// keep[i] = dropout_keep(spec, first_index + i) for i < count; all 1 when dropout is off.
void dropout_keep_flags(uint8_t* keep, const DropoutSpec& spec, uint64_t first_index, size_t count);

}  // namespace bert
