// Embedding kernels (kernels/embedding.h).
// Forward: one block per token, out = (word + token_type) + position in fp32 (the reference's
// order), rounded once.
// Backward, per table, deterministic and atomic-free:
//   1. keys[t] = id[t]·2^token_bits + t, radix-sorted (unique keys, so any correct sort gives
//      the same order: ids ascending, equal ids in token order);
//   2. the sorted list is cut into chunks of kChunk entries; a block (chunk, column slice) sums
//      each run of equal ids in order. A run wholly inside the chunk is added to its table row
//      directly (no other block touches that row); a run that starts before the chunk goes to
//      partial slot 0, one that starts here and continues past the end to slot 1;
//   3. for every run that crosses a chunk end, the block of the chunk where it starts adds slot 1
//      and the following chunks' slot 0 in chunk order, then adds the total to the row.
// Every row is written by exactly one block, so the sum order never depends on scheduling, and
// a long run (token type 0 covers about half the batch) is split over many blocks.
// Templated on the storage type T of the tables, output and d_out (bf16, or float under the fp32
// compute switch); the gradient tables are fp32 either way.
#include <algorithm>
#include <cub/device/device_radix_sort.cuh>

#include "kernels/cuda_common.cuh"
#include "kernels/embedding.h"

namespace bert {
namespace {

constexpr int kForwardThreads = 128;
constexpr int kChunk = 32;          // sorted entries per block in the chunk pass
constexpr int kSliceThreads = 256;  // columns per block (one per thread)

template <typename T>
__global__ void embedding_forward_kernel(T* out, const int32_t* input_ids,
                                         const int32_t* token_type_ids, const int32_t* position_ids,
                                         const T* word, const T* position, const T* token_type,
                                         int hidden) {
  const int token = blockIdx.x;
  const size_t word_row = static_cast<size_t>(input_ids[token]) * hidden;
  const size_t type_row = static_cast<size_t>(token_type_ids[token]) * hidden;
  const size_t position_row = static_cast<size_t>(position_ids[token]) * hidden;
  T* out_row = out + static_cast<size_t>(token) * hidden;
  for (int col = threadIdx.x; col < hidden; col += blockDim.x) {
    const float value = (to_float(word[word_row + col]) + to_float(token_type[type_row + col])) +
                        to_float(position[position_row + col]);
    store_value(out_row + col, value);
  }
}

struct SortedKeys {
  const uint64_t* keys;  // [tokens], ascending
  int tokens;
  int token_bits;
  __device__ int id(int i) const { return static_cast<int>(keys[i] >> token_bits); }
  __device__ int token(int i) const {
    return static_cast<int>(keys[i] & ((uint64_t{1} << token_bits) - 1));
  }
};

__global__ void make_keys_kernel(uint64_t* keys, const int32_t* ids, int tokens, int token_bits) {
  const int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t < tokens)
    keys[t] = (static_cast<uint64_t>(static_cast<uint32_t>(ids[t])) << token_bits) |
              static_cast<uint64_t>(t);
}

template <typename T>
__global__ void chunk_sums_kernel(float* table,    // [rows, hidden]
                                  float* partial,  // [chunks, 2, hidden]
                                  SortedKeys sorted, const T* d_out, int hidden) {
  __shared__ int ids[kChunk], tokens[kChunk];
  __shared__ int previous_id, next_id;  // -1 when there is no neighbour entry
  const int chunk = blockIdx.x;
  const int first = chunk * kChunk;
  const int count = min(kChunk, sorted.tokens - first);
  if (threadIdx.x < count) {
    ids[threadIdx.x] = sorted.id(first + threadIdx.x);
    tokens[threadIdx.x] = sorted.token(first + threadIdx.x);
  }
  if (threadIdx.x == 0) {
    previous_id = first > 0 ? sorted.id(first - 1) : -1;
    next_id = first + count < sorted.tokens ? sorted.id(first + count) : -1;
  }
  __syncthreads();
  const int col = blockIdx.y * blockDim.x + threadIdx.x;
  if (col >= hidden) return;
  float acc = 0.0f;
  int run_start = 0;
  for (int i = 0; i < count; ++i) {
    acc += to_float(d_out[static_cast<size_t>(tokens[i]) * hidden + col]);
    const int id = ids[i];
    if (i + 1 < count && ids[i + 1] == id) continue;
    const bool starts_before = run_start == 0 && previous_id == id;
    const bool continues_after = i + 1 == count && next_id == id;
    if (!starts_before && !continues_after)
      table[static_cast<size_t>(id) * hidden + col] += acc;
    else
      partial[(static_cast<size_t>(chunk) * 2 + (starts_before ? 0 : 1)) * hidden + col] = acc;
    acc = 0.0f;
    run_start = i + 1;
  }
}

__global__ void merge_chunks_kernel(float* table, const float* partial, SortedKeys sorted,
                                    int hidden, int chunks) {
  const int chunk = blockIdx.x;
  const int first = chunk * kChunk;
  const int end = min(first + kChunk, sorted.tokens);
  if (end >= sorted.tokens) return;  // nothing follows the last chunk
  const int id = sorted.id(end - 1);
  if (sorted.id(end) != id) return;  // the chunk's last run ends inside it
  // A run covering the whole chunk that began earlier belongs to an earlier chunk's block.
  if (first > 0 && sorted.id(first) == id && sorted.id(first - 1) == id) return;
  const int col = blockIdx.y * blockDim.x + threadIdx.x;
  if (col >= hidden) return;
  float total = partial[(static_cast<size_t>(chunk) * 2 + 1) * hidden + col];
  for (int c = chunk + 1; c < chunks; ++c) {
    total += partial[(static_cast<size_t>(c) * 2) * hidden + col];
    const int c_end = min((c + 1) * kChunk, sorted.tokens);
    if (c_end >= sorted.tokens || sorted.id(c_end) != id) break;
  }
  table[static_cast<size_t>(id) * hidden + col] += total;
}

// Bits to hold 0 .. count-1.
int bits_for(int count) {
  int bits = 0;
  while ((int64_t{1} << bits) < count) ++bits;
  return bits;
}

struct BackwardLayout {
  size_t keys_bytes = 0, partial_bytes = 0, sort_bytes = 0;
  size_t total() const { return 2 * keys_bytes + partial_bytes + sort_bytes; }
};

int chunk_count(int tokens) { return div_up(tokens, kChunk); }

size_t sort_temp_bytes(int tokens, int end_bit) {
  size_t bytes = 0;
  CUDA_CHECK(cub::DeviceRadixSort::SortKeys(nullptr, bytes, static_cast<const uint64_t*>(nullptr),
                                            static_cast<uint64_t*>(nullptr), tokens, 0, end_bit));
  return bytes;
}

int end_bit_for(int tokens, int rows) { return std::max(1, bits_for(tokens) + bits_for(rows)); }

BackwardLayout backward_layout(int tokens, int hidden, const EmbeddingTableSizes& sizes) {
  BackwardLayout layout;
  layout.keys_bytes = align_bytes(static_cast<size_t>(tokens) * sizeof(uint64_t));
  layout.partial_bytes =
      align_bytes(static_cast<size_t>(chunk_count(tokens)) * 2 * hidden * sizeof(float));
  for (int rows : {sizes.vocab, sizes.max_positions, sizes.type_vocab})
    layout.sort_bytes = std::max(layout.sort_bytes,
                                 align_bytes(sort_temp_bytes(tokens, end_bit_for(tokens, rows))));
  return layout;
}

template <typename T>
void backward_one_table(float* table, int rows, const int32_t* ids, const T* d_out, int tokens,
                        int hidden, const BackwardLayout& layout, char* workspace,
                        cudaStream_t stream) {
  uint64_t* keys_in = reinterpret_cast<uint64_t*>(workspace);
  uint64_t* keys_sorted = reinterpret_cast<uint64_t*>(workspace + layout.keys_bytes);
  float* partial = reinterpret_cast<float*>(workspace + 2 * layout.keys_bytes);
  void* sort_temp = workspace + 2 * layout.keys_bytes + layout.partial_bytes;

  const int token_bits = bits_for(tokens);
  make_keys_kernel<<<div_up(tokens, 256), 256, 0, stream>>>(keys_in, ids, tokens, token_bits);
  CUDA_LAUNCH_CHECK("make_keys_kernel");
  size_t sort_bytes = layout.sort_bytes;
  CUDA_CHECK(cub::DeviceRadixSort::SortKeys(sort_temp, sort_bytes, keys_in, keys_sorted, tokens, 0,
                                            end_bit_for(tokens, rows), stream));
  CUDA_LAUNCH_CHECK("cub::DeviceRadixSort::SortKeys");

  const SortedKeys sorted{keys_sorted, tokens, token_bits};
  const int chunks = chunk_count(tokens);
  const dim3 grid(chunks, div_up(hidden, kSliceThreads));
  chunk_sums_kernel<T><<<grid, kSliceThreads, 0, stream>>>(table, partial, sorted, d_out, hidden);
  CUDA_LAUNCH_CHECK("chunk_sums_kernel");
  merge_chunks_kernel<<<grid, kSliceThreads, 0, stream>>>(table, partial, sorted, hidden, chunks);
  CUDA_LAUNCH_CHECK("merge_chunks_kernel");
}

void check_sizes(int tokens, int hidden, const EmbeddingTableSizes& sizes, const char* op) {
  BERT_CHECK(tokens >= 0 && hidden > 0 && sizes.vocab > 0 && sizes.max_positions > 0 &&
                 sizes.type_vocab > 0,
             std::string(op) + ": tokens " + std::to_string(tokens) + ", hidden " +
                 std::to_string(hidden) + ", tables " + std::to_string(sizes.vocab) + "/" +
                 std::to_string(sizes.max_positions) + "/" + std::to_string(sizes.type_vocab));
}

template <typename T>
void embedding_forward(T* out, const int32_t* input_ids, const int32_t* token_type_ids,
                       const int32_t* position_ids, const T* word, const T* position,
                       const T* token_type, int tokens, int hidden, GpuStream stream) {
  BERT_CHECK(tokens >= 0 && hidden > 0, "embedding_forward_cuda: tokens " + std::to_string(tokens) +
                                            ", hidden " + std::to_string(hidden));
  if (tokens == 0) return;
  embedding_forward_kernel<T><<<tokens, kForwardThreads, 0, stream>>>(
      out, input_ids, token_type_ids, position_ids, word, position, token_type, hidden);
  CUDA_LAUNCH_CHECK("embedding_forward_kernel");
}

template <typename T>
void embedding_backward(float* d_word, float* d_position, float* d_token_type, const T* d_out,
                        const int32_t* input_ids, const int32_t* token_type_ids,
                        const int32_t* position_ids, int tokens, int hidden,
                        const EmbeddingTableSizes& sizes, GpuWorkspace workspace,
                        GpuStream stream) {
  const char* op = "embedding_backward_cuda";
  check_sizes(tokens, hidden, sizes, op);
  if (tokens == 0) return;
  const BackwardLayout layout = backward_layout(tokens, hidden, sizes);
  check_workspace(workspace, layout.total(), op);
  char* scratch = static_cast<char*>(workspace.data);
  // The three tables reuse the same scratch one after another (stream order).
  if (d_word != nullptr)
    backward_one_table(d_word, sizes.vocab, input_ids, d_out, tokens, hidden, layout, scratch,
                       stream);
  if (d_position != nullptr)
    backward_one_table(d_position, sizes.max_positions, position_ids, d_out, tokens, hidden, layout,
                       scratch, stream);
  if (d_token_type != nullptr)
    backward_one_table(d_token_type, sizes.type_vocab, token_type_ids, d_out, tokens, hidden,
                       layout, scratch, stream);
}

}  // namespace

void embedding_forward_cuda(bf16* out, const int32_t* input_ids, const int32_t* token_type_ids,
                            const int32_t* position_ids, const bf16* word, const bf16* position,
                            const bf16* token_type, int tokens, int hidden, GpuStream stream) {
  embedding_forward(out, input_ids, token_type_ids, position_ids, word, position, token_type,
                    tokens, hidden, stream);
}
void embedding_forward_cuda(float* out, const int32_t* input_ids, const int32_t* token_type_ids,
                            const int32_t* position_ids, const float* word, const float* position,
                            const float* token_type, int tokens, int hidden, GpuStream stream) {
  embedding_forward(out, input_ids, token_type_ids, position_ids, word, position, token_type,
                    tokens, hidden, stream);
}

size_t embedding_backward_workspace_bytes(int tokens, int hidden,
                                          const EmbeddingTableSizes& sizes) {
  check_sizes(tokens, hidden, sizes, "embedding_backward_workspace_bytes");
  if (tokens == 0) return 0;
  return backward_layout(tokens, hidden, sizes).total();
}

void embedding_backward_cuda(float* d_word, float* d_position, float* d_token_type,
                             const bf16* d_out, const int32_t* input_ids,
                             const int32_t* token_type_ids, const int32_t* position_ids, int tokens,
                             int hidden, const EmbeddingTableSizes& sizes, GpuWorkspace workspace,
                             GpuStream stream) {
  embedding_backward(d_word, d_position, d_token_type, d_out, input_ids, token_type_ids,
                     position_ids, tokens, hidden, sizes, workspace, stream);
}
void embedding_backward_cuda(float* d_word, float* d_position, float* d_token_type,
                             const float* d_out, const int32_t* input_ids,
                             const int32_t* token_type_ids, const int32_t* position_ids, int tokens,
                             int hidden, const EmbeddingTableSizes& sizes, GpuWorkspace workspace,
                             GpuStream stream) {
  embedding_backward(d_word, d_position, d_token_type, d_out, input_ids, token_type_ids,
                     position_ids, tokens, hidden, sizes, workspace, stream);
}

}  // namespace bert
