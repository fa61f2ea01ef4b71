// Embedding kernels (kernels/embedding.h).
// Forward: one block per token, out = (word + token_type) + position in fp32 (the reference's
// order), rounded once.
// Backward, all three tables at once, deterministic and atomic-free:
//   1. keys = (row, token) for every (table, token), row = the table's first row in one
//      combined row numbering + id, packed as row·2^token_bits + token and radix-sorted in one
//      call (unique keys, so any correct sort gives the same order: rows ascending, equal rows
//      in token order);
//   2. the sorted list is cut into chunks of kChunk entries; a block (chunk, column slice) sums
//      each run of equal rows in order. A run wholly inside the chunk is added to its table row
//      directly (no other block touches that row); a run that starts before the chunk goes to
//      partial slot 0, one that starts here and continues past the end to slot 1;
//   3. for every run that crosses a chunk end, the block of the chunk where it starts adds slot 1
//      and the following chunks' slot 0 (kMergeGroups strided groups, then the groups in order:
//      a fixed order), then adds the total to the row.
// Every row is written by exactly one block, so the sum order never depends on scheduling, and
// a long run (token type 0 covers about half the batch) is split over many blocks.
// Columns go four to a thread (8-byte accesses) when the hidden size and pointers allow.
// Templated on the storage type T of the tables, output and d_out (bf16, or float under the fp32
// compute switch); the gradient tables are fp32 either way.
#include <algorithm>
#include <utility>
#include <cub/device/device_radix_sort.cuh>

#include "kernels/cuda_common.cuh"
#include "kernels/embedding.h"

namespace bert {
namespace {

constexpr int kForwardThreads = 128;
constexpr int kChunk = 32;          // sorted entries per block in the chunk pass

template <typename T>
__global__ void embedding_forward_kernel(T* out, const int32_t* input_ids,
                                         const int32_t* token_type_ids, const int32_t* position_ids,
                                         const T* word, const T* position, const T* token_type,
                                         int hidden) {
  grid_dependency_sync();
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
  const uint64_t* keys;  // [entries], ascending
  int entries;
  int token_bits;
  __device__ int row(int i) const { return static_cast<int>(keys[i] >> token_bits); }
  __device__ int token(int i) const {
    return static_cast<int>(keys[i] & ((uint64_t{1} << token_bits) - 1));
  }
};

// The three gradient tables under one row numbering: word rows, then position, then token type.
struct GradTables {
  float* word;
  float* position;
  float* token_type;
  int position_first, type_first;  // combined number of each table's row 0
  int padding_row;                 // the word row that receives no gradient (padding_idx); -1: none
  __device__ float* row(int combined, int hidden) const {
    float* table = word;
    if (combined >= type_first) {
      table = token_type;
      combined -= type_first;
    } else if (combined >= position_first) {
      table = position;
      combined -= position_first;
    }
    return table + static_cast<size_t>(combined) * hidden;
  }
};

// Up to three id lists; list k's keys go to keys[k·tokens ..] with rows offset by first_row[k].
struct KeySources {
  const int32_t* ids[3];
  int first_row[3];
  int count;
};

__global__ void make_keys_kernel(uint64_t* keys, KeySources sources, int tokens, int token_bits) {
  grid_dependency_sync();
  const int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= tokens) return;
  for (int k = 0; k < sources.count; ++k) {
    const uint32_t row = static_cast<uint32_t>(sources.ids[k][t] + sources.first_row[k]);
    keys[static_cast<size_t>(k) * tokens + t] =
        (static_cast<uint64_t>(row) << token_bits) | static_cast<uint64_t>(t);
  }
}

// kVec consecutive values: 8-byte accesses for 4, scalar for 1.
template <int kVec, typename T>
__device__ __forceinline__ void load_n(const T* source, float* out) {
  if constexpr (kVec == 4) load4(source, out);
  else out[0] = to_float(*source);
}
template <int kVec>
__device__ __forceinline__ void store_n(float* target, const float* values) {
  if constexpr (kVec == 4) store4(target, values);
  else target[0] = values[0];
}
template <int kVec>
__device__ __forceinline__ void add_to(float* target, const float* values) {
  float old[kVec];
  load_n<kVec>(target, old);
#pragma unroll
  for (int j = 0; j < kVec; ++j) old[j] += values[j];
  store_n<kVec>(target, old);
}

constexpr int kPrefetch = 8;  // sorted rows of d_out loaded ahead of their use

template <int kVec, typename T>
__global__ void chunk_sums_kernel(GradTables tables,
                                  float* partial,  // [chunks, 2, hidden]
                                  SortedKeys sorted, const T* d_out, int hidden) {
  grid_dependency_sync();
  __shared__ int rows[kChunk], tokens[kChunk];
  __shared__ int previous_row, next_row;  // -1 when there is no neighbour entry
  const int chunk = blockIdx.x;
  const int first = chunk * kChunk;
  const int count = min(kChunk, sorted.entries - first);
  if (threadIdx.x < count) {
    rows[threadIdx.x] = sorted.row(first + threadIdx.x);
    tokens[threadIdx.x] = sorted.token(first + threadIdx.x);
  }
  if (threadIdx.x == 0) {
    previous_row = first > 0 ? sorted.row(first - 1) : -1;
    next_row = first + count < sorted.entries ? sorted.row(first + count) : -1;
  }
  __syncthreads();
  const int col = (blockIdx.y * blockDim.x + threadIdx.x) * kVec;
  if (col >= hidden) return;
  float acc[kVec];
#pragma unroll
  for (int j = 0; j < kVec; ++j) acc[j] = 0.0f;
  int run_start = 0;
  for (int batch = 0; batch < count; batch += kPrefetch) {
    float values[kPrefetch][kVec];
#pragma unroll
    for (int u = 0; u < kPrefetch; ++u)
      if (batch + u < count)
        load_n<kVec>(d_out + static_cast<size_t>(tokens[batch + u]) * hidden + col, values[u]);
#pragma unroll
    for (int u = 0; u < kPrefetch; ++u) {
      const int i = batch + u;
      if (i >= count) break;
#pragma unroll
      for (int j = 0; j < kVec; ++j) acc[j] += values[u][j];
      const int row = rows[i];
      if (i + 1 < count && rows[i + 1] == row) continue;
      const bool starts_before = run_start == 0 && previous_row == row;
      const bool continues_after = i + 1 == count && next_row == row;
      if (!starts_before && !continues_after) {
        if (row != tables.padding_row) add_to<kVec>(tables.row(row, hidden) + col, acc);
      } else {
        store_n<kVec>(
            partial + (static_cast<size_t>(chunk) * 2 + (starts_before ? 0 : 1)) * hidden + col,
            acc);
      }
#pragma unroll
      for (int j = 0; j < kVec; ++j) acc[j] = 0.0f;
      run_start = i + 1;
    }
  }
}

constexpr int kMergeGroups = 8;      // blockDim.y of the merge pass
constexpr int kMergeMaxThreadsX = 64;  // blockDim.x (column vectors) at most
constexpr int kChunkMaxThreads = 256;

template <int kVec>
__global__ void merge_chunks_kernel(GradTables tables, const float* partial, SortedKeys sorted,
                                    int hidden, int chunks) {
  grid_dependency_sync();
  __shared__ float group_sums[kMergeGroups][kMergeMaxThreadsX * kVec];
  __shared__ float warp_found[kMergeGroups * kMergeMaxThreadsX / 32];
  const int chunk = blockIdx.x;
  const int first = chunk * kChunk;
  const int end = min(first + kChunk, sorted.entries);
  // Block-uniform early exits, before any barrier.
  if (end >= sorted.entries) return;  // nothing follows the last chunk
  const int row = sorted.row(end - 1);
  if (sorted.row(end) != row) return;  // the chunk's last run ends inside it
  if (row == tables.padding_row) return;  // its partials are never added anywhere
  // A run covering the whole chunk that began earlier belongs to an earlier chunk's block.
  if (first > 0 && sorted.row(first) == row && sorted.row(first - 1) == row) return;

  // The run's later chunks are those whose first entry has its row: a contiguous range
  // chunk+1 .. last. Each thread counts along its own stride until the first miss.
  const int flat = threadIdx.y * blockDim.x + threadIdx.x;
  const int threads = blockDim.x * blockDim.y;
  int found = 0;
  for (int c = chunk + 1 + flat; c < chunks && sorted.row(c * kChunk) == row; c += threads) ++found;
  // blockDim.x is a multiple of 32, so flat warps are the hardware warps; counts are exact floats.
  const float warp_total = warp_sum(static_cast<float>(found));
  if ((flat & 31) == 0) warp_found[flat >> 5] = warp_total;
  __syncthreads();
  float total_found = 0.0f;
  for (int w = 0; w < threads / 32; ++w) total_found += warp_found[w];
  const int last = chunk + static_cast<int>(total_found);

  const int col = (blockIdx.y * blockDim.x + threadIdx.x) * kVec;
  float acc[kVec];
#pragma unroll
  for (int j = 0; j < kVec; ++j) acc[j] = 0.0f;
  if (col < hidden) {
#pragma unroll 4
    for (int c = chunk + 1 + threadIdx.y; c <= last; c += kMergeGroups) {
      float value[kVec];
      load_n<kVec>(partial + static_cast<size_t>(c) * 2 * hidden + col, value);
#pragma unroll
      for (int j = 0; j < kVec; ++j) acc[j] += value[j];
    }
  }
#pragma unroll
  for (int j = 0; j < kVec; ++j) group_sums[threadIdx.y][threadIdx.x * kVec + j] = acc[j];
  __syncthreads();
  if (threadIdx.y != 0 || col >= hidden) return;
  float total[kVec];
  load_n<kVec>(partial + (static_cast<size_t>(chunk) * 2 + 1) * hidden + col, total);
#pragma unroll
  for (int g = 0; g < kMergeGroups; ++g)
#pragma unroll
    for (int j = 0; j < kVec; ++j) total[j] += group_sums[g][threadIdx.x * kVec + j];
  add_to<kVec>(tables.row(row, hidden) + col, total);
}

// Bits to hold 0 .. count-1.
int bits_for(int count) {
  int bits = 0;
  while ((int64_t{1} << bits) < count) ++bits;
  return bits;
}

int total_rows(const EmbeddingTableSizes& sizes) {
  return sizes.vocab + sizes.max_positions + sizes.type_vocab;
}

struct BackwardLayout {
  size_t keys_bytes = 0, partial_bytes = 0, sort_bytes = 0;
  size_t total() const { return 2 * keys_bytes + partial_bytes + sort_bytes; }
};

int chunk_count(int entries) { return div_up(entries, kChunk); }

size_t sort_temp_bytes(int entries, int end_bit) {
  size_t bytes = 0;
  CUDA_CHECK(cub::DeviceRadixSort::SortKeys(nullptr, bytes, static_cast<const uint64_t*>(nullptr),
                                            static_cast<uint64_t*>(nullptr), entries, 0, end_bit));
  return bytes;
}

int end_bit_for(int tokens, const EmbeddingTableSizes& sizes) {
  return std::max(1, bits_for(tokens) + bits_for(total_rows(sizes)));
}

// Sized for all three tables; a call with fewer sorts fewer entries.
BackwardLayout backward_layout(int tokens, int hidden, const EmbeddingTableSizes& sizes) {
  const int entries = 3 * tokens;
  BackwardLayout layout;
  layout.keys_bytes = align_bytes(static_cast<size_t>(entries) * sizeof(uint64_t));
  layout.partial_bytes =
      align_bytes(static_cast<size_t>(chunk_count(entries)) * 2 * hidden * sizeof(float));
  layout.sort_bytes = align_bytes(sort_temp_bytes(entries, end_bit_for(tokens, sizes)));
  return layout;
}

template <int kVec, typename T>
void launch_sums(const GradTables& tables, float* partial, const SortedKeys& sorted,
                 const T* d_out, int hidden, cudaStream_t stream) {
  const int chunks = chunk_count(sorted.entries);
  const int vectors = div_up(hidden, kVec);
  const int chunk_threads = std::min(kChunkMaxThreads, div_up(vectors, 32) * 32);
  launch_kernel(chunk_sums_kernel<kVec, T>, dim3(chunks, div_up(vectors, chunk_threads)),
                chunk_threads, 0, stream, tables, partial, sorted, d_out, hidden);
  CUDA_LAUNCH_CHECK("chunk_sums_kernel");
  const int merge_threads = std::min(kMergeMaxThreadsX, div_up(vectors, 32) * 32);
  launch_kernel(merge_chunks_kernel<kVec>, dim3(chunks, div_up(vectors, merge_threads)),
                dim3(merge_threads, kMergeGroups), 0, stream, tables, partial, sorted, hidden,
                chunks);
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
  launch_kernel(embedding_forward_kernel<T>, tokens, kForwardThreads, 0, stream, out, input_ids,
                token_type_ids, position_ids, word, position, token_type, hidden);
  CUDA_LAUNCH_CHECK("embedding_forward_kernel");
}

template <typename T>
void embedding_backward(float* d_word, float* d_position, float* d_token_type, const T* d_out,
                        const int32_t* input_ids, const int32_t* token_type_ids,
                        const int32_t* position_ids, int tokens, int hidden,
                        const EmbeddingTableSizes& sizes, int padding_idx, GpuWorkspace workspace,
                        GpuStream stream) {
  const char* op = "embedding_backward_cuda";
  check_sizes(tokens, hidden, sizes, op);
  if (tokens == 0) return;
  const BackwardLayout layout = backward_layout(tokens, hidden, sizes);
  check_workspace(workspace, layout.total(), op);
  // Word rows come first in the combined numbering, so the padding row keeps its number.
  const int padding_row = padding_idx >= 0 && padding_idx < sizes.vocab ? padding_idx : -1;
  const GradTables tables{d_word, d_position, d_token_type, sizes.vocab,
                          sizes.vocab + sizes.max_positions, padding_row};
  KeySources sources{};
  bool wide = hidden % 4 == 0 && is_aligned(d_out, 8);
  const std::pair<float*, const int32_t*> lists[3] = {
      {d_word, input_ids}, {d_position, position_ids}, {d_token_type, token_type_ids}};
  const int first_rows[3] = {0, tables.position_first, tables.type_first};
  for (int k = 0; k < 3; ++k) {
    if (lists[k].first == nullptr) continue;
    wide = wide && is_aligned(lists[k].first, 8);
    sources.ids[sources.count] = lists[k].second;
    sources.first_row[sources.count] = first_rows[k];
    ++sources.count;
  }
  if (sources.count == 0) return;
  const int entries = sources.count * tokens;

  char* scratch = static_cast<char*>(workspace.data);
  uint64_t* keys_in = reinterpret_cast<uint64_t*>(scratch);
  uint64_t* keys_sorted = reinterpret_cast<uint64_t*>(scratch + layout.keys_bytes);
  float* partial = reinterpret_cast<float*>(scratch + 2 * layout.keys_bytes);
  void* sort_temp = scratch + 2 * layout.keys_bytes + layout.partial_bytes;

  const int token_bits = bits_for(tokens);
  launch_kernel(make_keys_kernel, div_up(tokens, 256), 256, 0, stream, keys_in, sources, tokens,
                token_bits);
  CUDA_LAUNCH_CHECK("make_keys_kernel");
  const int end_bit = end_bit_for(tokens, sizes);
  size_t sort_bytes = layout.sort_bytes;
  BERT_CHECK(sort_temp_bytes(entries, end_bit) <= sort_bytes, std::string(op) + ": sort scratch");
  CUDA_CHECK(cub::DeviceRadixSort::SortKeys(sort_temp, sort_bytes, keys_in, keys_sorted, entries,
                                            0, end_bit, stream));
  CUDA_LAUNCH_CHECK("cub::DeviceRadixSort::SortKeys");

  const SortedKeys sorted{keys_sorted, entries, token_bits};
  if (wide)
    launch_sums<4, T>(tables, partial, sorted, d_out, hidden, stream);
  else
    launch_sums<1, T>(tables, partial, sorted, d_out, hidden, stream);
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
                             int hidden, const EmbeddingTableSizes& sizes, int padding_idx,
                             GpuWorkspace workspace, GpuStream stream) {
  embedding_backward(d_word, d_position, d_token_type, d_out, input_ids, token_type_ids,
                     position_ids, tokens, hidden, sizes, padding_idx, workspace, stream);
}
void embedding_backward_cuda(float* d_word, float* d_position, float* d_token_type,
                             const float* d_out, const int32_t* input_ids,
                             const int32_t* token_type_ids, const int32_t* position_ids, int tokens,
                             int hidden, const EmbeddingTableSizes& sizes, int padding_idx,
                             GpuWorkspace workspace, GpuStream stream) {
  embedding_backward(d_word, d_position, d_token_type, d_out, input_ids, token_type_ids,
                     position_ids, tokens, hidden, sizes, padding_idx, workspace, stream);
}

}  // namespace bert
