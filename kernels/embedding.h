// Embeddings: out[t, :] = word[input_ids[t]] + position[position_ids[t]] + token_type[token_type_ids[t]].
// Layout: row-major [rows, hidden]. Nothing is saved for backward besides the ids.
// Backward scatter-adds d_out rows into the three tables (accumulate), in token order so the
// result is deterministic. Ids are validated on the host before they reach the op.
// padding_idx (config.json's pad_token_id; -1: none) is Hugging Face's nn.Embedding padding_idx:
// its word row receives no gradient, even from a real token holding that id.
#pragma once

#include <cstdint>

namespace bert {

template <typename T>
void embedding_forward_ref(T* out,                     // [tokens, hidden]
                           const int32_t* input_ids,      // [tokens]
                           const int32_t* token_type_ids, // [tokens]
                           const int32_t* position_ids,   // [tokens]
                           const T* word,                 // [vocab, hidden]
                           const T* position,             // [max_positions, hidden]
                           const T* token_type,           // [type_vocab, hidden]
                           int tokens, int hidden);

// Accumulates into d_word, d_position, d_token_type.
template <typename T>
void embedding_backward_ref(T* d_word,                  // [vocab, hidden]
                            T* d_position,              // [max_positions, hidden]
                            T* d_token_type,            // [type_vocab, hidden]
                            const T* d_out,             // [tokens, hidden]
                            const int32_t* input_ids,      // [tokens]
                            const int32_t* token_type_ids, // [tokens]
                            const int32_t* position_ids,   // [tokens]
                            int tokens, int hidden, int padding_idx);

}  // namespace bert

// ---------------------------------------------------------------------------------------------
// CUDA launchers (kernels/embedding.cu): bf16 tables and output, fp32 gradient tables; float
// overloads (fp32 tables, output and d_out: the fp32 compute switch) with the same contract.
// Backward is deterministic without atomics: the (row, token) pairs of all three tables are
// sorted together on the device (one CUB radix sort of unique keys row·2^b + token, rows
// numbered word, then position, then token type, so equal rows stay in token order), each
// block sums a fixed chunk of 32 sorted tokens per row run, and runs that cross chunk
// boundaries are finished by a second pass adding the chunk partials in a fixed order.
#include <cstddef>

#include "kernels/gpu_types.h"
#include "kernels/host_device.h"

namespace bert {

struct EmbeddingTableSizes {
  int vocab = 0;          // rows of word
  int max_positions = 0;  // rows of position
  int type_vocab = 0;     // rows of token_type
};

void embedding_forward_cuda(bf16* out,                       // [tokens, hidden]
                            const int32_t* input_ids,       // [tokens]
                            const int32_t* token_type_ids,  // [tokens]
                            const int32_t* position_ids,    // [tokens]
                            const bf16* word,               // [vocab, hidden]
                            const bf16* position,           // [max_positions, hidden]
                            const bf16* token_type,         // [type_vocab, hidden]
                            int tokens, int hidden, GpuStream stream);
void embedding_forward_cuda(float* out,                      // [tokens, hidden]
                            const int32_t* input_ids,       // [tokens]
                            const int32_t* token_type_ids,  // [tokens]
                            const int32_t* position_ids,    // [tokens]
                            const float* word,              // [vocab, hidden]
                            const float* position,          // [max_positions, hidden]
                            const float* token_type,        // [type_vocab, hidden]
                            int tokens, int hidden, GpuStream stream);

size_t embedding_backward_workspace_bytes(int tokens, int hidden, const EmbeddingTableSizes& sizes);

// Accumulates into d_word, d_position, d_token_type (a null table is skipped). Ids must be in
// range (validated on the host before upload).
void embedding_backward_cuda(float* d_word,                  // [vocab, hidden]
                             float* d_position,              // [max_positions, hidden]
                             float* d_token_type,            // [type_vocab, hidden]
                             const bf16* d_out,              // [tokens, hidden]
                             const int32_t* input_ids,       // [tokens]
                             const int32_t* token_type_ids,  // [tokens]
                             const int32_t* position_ids,    // [tokens]
                             int tokens, int hidden, const EmbeddingTableSizes& sizes,
                             int padding_idx, GpuWorkspace workspace, GpuStream stream);
void embedding_backward_cuda(float* d_word,                  // [vocab, hidden]
                             float* d_position,              // [max_positions, hidden]
                             float* d_token_type,            // [type_vocab, hidden]
                             const float* d_out,             // [tokens, hidden]
                             const int32_t* input_ids,       // [tokens]
                             const int32_t* token_type_ids,  // [tokens]
                             const int32_t* position_ids,    // [tokens]
                             int tokens, int hidden, const EmbeddingTableSizes& sizes,
                             int padding_idx, GpuWorkspace workspace, GpuStream stream);

}  // namespace bert
