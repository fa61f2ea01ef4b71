// CPU reference of the BERT embeddings (kernels/embedding.h). The sum is formed as
// (word + token_type) + position, the order Hugging Face's BertEmbeddings uses, so the
// double reference rounds like the float64 golden.
#include "kernels/embedding.h"

#include <cstddef>

#include "kernels/cpu_parallel.h"

namespace bert {

template <typename T>
void embedding_forward_ref(T* out, const int32_t* input_ids, const int32_t* token_type_ids,
                           const int32_t* position_ids, const T* word, const T* position,
                           const T* token_type, int tokens, int hidden) {
  const size_t width = static_cast<size_t>(hidden);
  cpu::parallel_for(static_cast<size_t>(tokens), 64, [&](size_t first, size_t last) {
    for (size_t t = first; t < last; ++t) {
      const T* word_row = word + static_cast<size_t>(input_ids[t]) * width;
      const T* type_row = token_type + static_cast<size_t>(token_type_ids[t]) * width;
      const T* position_row = position + static_cast<size_t>(position_ids[t]) * width;
      T* out_row = out + t * width;
      for (size_t c = 0; c < width; ++c) out_row[c] = (word_row[c] + type_row[c]) + position_row[c];
    }
  });
}

template <typename T>
void embedding_backward_ref(T* d_word, T* d_position, T* d_token_type, const T* d_out,
                            const int32_t* input_ids, const int32_t* token_type_ids,
                            const int32_t* position_ids, int tokens, int hidden, int padding_idx) {
  const size_t width = static_cast<size_t>(hidden);
  // Token order fixes the summation order of repeated ids: deterministic results. Threads take
  // bands of columns, so no two write the same element and each keeps the token order.
  cpu::parallel_for(width, 32, [&](size_t first, size_t last) {
    for (int t = 0; t < tokens; ++t) {
      const T* grad = d_out + static_cast<size_t>(t) * width;
      T* word_row = d_word + static_cast<size_t>(input_ids[t]) * width;
      T* type_row = d_token_type + static_cast<size_t>(token_type_ids[t]) * width;
      T* position_row = d_position + static_cast<size_t>(position_ids[t]) * width;
      const bool word_gets_gradient = input_ids[t] != padding_idx;
      for (size_t c = first; c < last; ++c) {
        if (word_gets_gradient) word_row[c] += grad[c];
        type_row[c] += grad[c];
        position_row[c] += grad[c];
      }
    }
  });
}

#define BERT_INSTANTIATE_EMBEDDING(T)                                                            \
  template void embedding_forward_ref<T>(T*, const int32_t*, const int32_t*, const int32_t*,    \
                                         const T*, const T*, const T*, int, int);               \
  template void embedding_backward_ref<T>(T*, T*, T*, const T*, const int32_t*, const int32_t*, \
                                          const int32_t*, int, int, int);
BERT_INSTANTIATE_EMBEDDING(float)
BERT_INSTANTIATE_EMBEDDING(double)
#undef BERT_INSTANTIATE_EMBEDDING

}  // namespace bert
