// CPU reference of dropout (kernels/dropout.h): the mask comes from dropout_keep_flags, so
// forward and backward (and the CUDA kernels) see the same bits without storing a mask.
// Chunks of kChunk elements run on the CPU pool.
#include <cstdint>

#include "kernels/dropout.h"
#include "kernels/cpu_parallel.h"
#include "kernels/dropout_mask_ref.h"

namespace bert {
namespace {

// Masks are drawn in chunks so no buffer proportional to `count` is needed.
constexpr size_t kChunk = 1024;

// body(start, n, keep) for each chunk [start, start + n) with its keep flags, on the CPU pool.
template <typename Body>
void for_each_masked_chunk(size_t count, const DropoutSpec& spec, const Body& body) {
  cpu::parallel_for(count, 16 * kChunk, [&](size_t first, size_t last) {
    uint8_t keep[kChunk];
    for (size_t start = first; start < last; start += kChunk) {
      const size_t n = last - start < kChunk ? last - start : kChunk;
      dropout_keep_flags(keep, spec, start, n);
      body(start, n, keep);
    }
  });
}

// Kept values are multiplied by 1/(1-p) computed in T, as torch does (noise.div_(1-p)).
template <typename T>
T keep_scale(const DropoutSpec& spec) {
  return T(1) / (T(1) - static_cast<T>(spec.probability));
}

}  // namespace

template <typename T>
void dropout_forward_ref(T* out, const T* inp, size_t count, const DropoutSpec& spec) {
  if (!spec.active()) {
    for (size_t i = 0; i < count; ++i) out[i] = inp[i];
    return;
  }
  const T scale = keep_scale<T>(spec);
  for_each_masked_chunk(count, spec, [&](size_t start, size_t n, const uint8_t* keep) {
    for (size_t i = 0; i < n; ++i) out[start + i] = keep[i] ? inp[start + i] * scale : T(0);
  });
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
  for_each_masked_chunk(count, spec, [&](size_t start, size_t n, const uint8_t* keep) {
    for (size_t i = 0; i < n; ++i) {
      const T grad = keep[i] ? d_out[start + i] * scale : T(0);
      d_inp[start + i] = add ? d_inp[start + i] + grad : grad;
    }
  });
}

template <typename T>
void residual_dropout_forward_ref(T* out, const T* branch, const T* residual, size_t count,
                                  const DropoutSpec& spec) {
  if (!spec.active()) {
    for (size_t i = 0; i < count; ++i) out[i] = residual[i] + branch[i];
    return;
  }
  const T scale = keep_scale<T>(spec);
  for_each_masked_chunk(count, spec, [&](size_t start, size_t n, const uint8_t* keep) {
    for (size_t i = 0; i < n; ++i)
      out[start + i] = residual[start + i] + (keep[i] ? branch[start + i] * scale : T(0));
  });
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
