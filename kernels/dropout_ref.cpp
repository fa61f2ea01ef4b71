// CPU reference of dropout (kernels/dropout.h): the mask comes from dropout_keep_flags, so
// forward and backward (and the CUDA kernels) see the same bits without storing a mask.
#include <cstdint>

#include "kernels/dropout.h"
#include "kernels/dropout_mask_ref.h"

namespace bert {
namespace {

// Masks are drawn in chunks so no buffer proportional to `count` is needed.
constexpr size_t kChunk = 1024;

// Kept values are multiplied by 1/(1-p) computed in T, as torch does (noise.div_(1-p)).
template <typename T>
T keep_scale(const DropoutSpec& spec) {
  return T(1) / (T(1) - static_cast<T>(spec.probability));
}

}  // namespace

void dropout_keep_flags(uint8_t* keep, const DropoutSpec& spec, uint64_t first_index, size_t count) {
  if (!spec.active()) {
    for (size_t i = 0; i < count; ++i) keep[i] = 1;
    return;
  }
  uint64_t cached_group = ~uint64_t(0);
  PhiloxOut bits{};
  for (size_t i = 0; i < count; ++i) {
    const uint64_t element = first_index + i + spec.element_offset;
    const uint64_t group = element >> 2;
    if (group != cached_group) {
      bits = philox4x32_10(group, spec.micro_step, spec.site, spec.seed);
      cached_group = group;
    }
    keep[i] = uniform_from_bits(bits.v[element & 3]) >= spec.probability ? 1 : 0;
  }
}

template <typename T>
void dropout_forward_ref(T* out, const T* inp, size_t count, const DropoutSpec& spec) {
  if (!spec.active()) {
    for (size_t i = 0; i < count; ++i) out[i] = inp[i];
    return;
  }
  const T scale = keep_scale<T>(spec);
  uint8_t keep[kChunk];
  for (size_t start = 0; start < count; start += kChunk) {
    const size_t n = count - start < kChunk ? count - start : kChunk;
    dropout_keep_flags(keep, spec, start, n);
    for (size_t i = 0; i < n; ++i) out[start + i] = keep[i] ? inp[start + i] * scale : T(0);
  }
}

template <typename T>
void dropout_backward_ref(T* d_inp, const T* d_out, size_t count, const DropoutSpec& spec,
                          Accumulate mode) {
  const bool add = mode == Accumulate::kAdd;
  if (!spec.active()) {
    for (size_t i = 0; i < count; ++i) d_inp[i] = add ? d_inp[i] + d_out[i] : d_out[i];
    return;
  }
  const T scale = keep_scale<T>(spec);
  uint8_t keep[kChunk];
  for (size_t start = 0; start < count; start += kChunk) {
    const size_t n = count - start < kChunk ? count - start : kChunk;
    dropout_keep_flags(keep, spec, start, n);
    for (size_t i = 0; i < n; ++i) {
      const T grad = keep[i] ? d_out[start + i] * scale : T(0);
      d_inp[start + i] = add ? d_inp[start + i] + grad : grad;
    }
  }
}

template <typename T>
void residual_dropout_forward_ref(T* out, const T* branch, const T* residual, size_t count,
                                  const DropoutSpec& spec) {
  if (!spec.active()) {
    for (size_t i = 0; i < count; ++i) out[i] = residual[i] + branch[i];
    return;
  }
  const T scale = keep_scale<T>(spec);
  uint8_t keep[kChunk];
  for (size_t start = 0; start < count; start += kChunk) {
    const size_t n = count - start < kChunk ? count - start : kChunk;
    dropout_keep_flags(keep, spec, start, n);
    for (size_t i = 0; i < n; ++i)
      out[start + i] = residual[start + i] + (keep[i] ? branch[start + i] * scale : T(0));
  }
}

#define BERT_INSTANTIATE_DROPOUT(T)                                                              \
  template void dropout_forward_ref<T>(T*, const T*, size_t, const DropoutSpec&);               \
  template void dropout_backward_ref<T>(T*, const T*, size_t, const DropoutSpec&, Accumulate);  \
  template void residual_dropout_forward_ref<T>(T*, const T*, const T*, size_t,                 \
                                                const DropoutSpec&);
BERT_INSTANTIATE_DROPOUT(float)
BERT_INSTANTIATE_DROPOUT(double)
#undef BERT_INSTANTIATE_DROPOUT

}  // namespace bert
