// Host helpers shared by the CPU references of dropout and attention: the keep flags of
// `count` consecutive dropout elements, drawing each Philox call once instead of once per
// element. Identical bits to dropout_keep() and attention_dropout_keep() in kernels/dropout_rng.h.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/dropout_rng.h"

namespace bert {

// keep[i] = dropout_keep(spec, first_index + i) for i < count; all 1 when dropout is off.
void dropout_keep_flags(uint8_t* keep, const DropoutSpec& spec, uint64_t first_index, size_t count);

// keep[i] = attention_dropout_keep(spec, first_index + i): the 8-bit scheme of attention
// probabilities (kernels/dropout_rng.h); all 1 when dropout is off.
void attention_dropout_keep_flags(uint8_t* keep, const DropoutSpec& spec, uint64_t first_index,
                                  size_t count);

}  // namespace bert
