// A binary cache of built windows, so training does not re-tokenize the data set each run.
//
// File layout (little-endian, every field 4-byte aligned):
//   header (88 bytes):
//     char     magic[8] = "BERTWIN\0"
//     uint32   format_version (kWindowCacheVersion), uint32 header_bytes (88)
//     int32    max_seq_length, doc_stride
//     uint64   vocab_hash      tokenizer_fingerprint(): vocabulary + lower-casing + text_rules()
//     uint64   dataset_hash    dataset_fingerprint(): ids, questions, contexts, answers
//     uint64   num_windows, num_tokens, num_examples, example_id_bytes
//     uint64   payload_bytes   bytes after the header, checksum excluded
//     uint64   reserved (0)
//   payload, flat arrays in this order:
//     int32 token_begin[num_windows + 1]     window w owns tokens [token_begin[w],
//     token_begin[w+1]) int32 input_ids[num_tokens] int32 token_type_ids[num_tokens] int32
//     offsets[num_tokens][2]           {-1, -1} outside the context int32
//     start_positions[num_windows], end_positions[num_windows] int32 example_index[num_windows]
//     int32 example_id_begin[num_examples + 1]  into the id bytes
//     char  example_ids[example_id_bytes], zero-padded to a multiple of 4
//   uint64 checksum of the payload (see window_cache.cpp).
// The key fields (max_seq_length, doc_stride, vocab_hash, dataset_hash) make a stale cache
// fail to load instead of silently feeding the model windows from other settings.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/squad.h"
#include "data/windows.h"
#include "tokenizer/tokenizer.h"

namespace bert {

constexpr uint32_t kWindowCacheVersion = 1;

// What a cache was built from; load_window_cache refuses a cache whose key differs.
struct WindowCacheKey {
  int32_t max_seq_length = 0;
  int32_t doc_stride = 0;
  uint64_t vocab_hash = 0;
  uint64_t dataset_hash = 0;
  bool operator==(const WindowCacheKey& other) const {
    return max_seq_length == other.max_seq_length && doc_stride == other.doc_stride &&
           vocab_hash == other.vocab_hash && dataset_hash == other.dataset_hash;
  }
};

struct WindowCache {
  WindowCacheKey key;
  std::vector<std::string> example_ids;  // [num_examples], dataset order
  std::vector<Window> windows;           // example_index indexes example_ids
};

// 64-bit fingerprint of every token string in id order, plus the lower-casing flag and the
// tokenizer's text_rules() (a SentencePiece model's bytes, keep_accents) when it has any.
uint64_t tokenizer_fingerprint(const Tokenizer& tokenizer, bool do_lower_case);
// 64-bit fingerprint of the examples (ids, questions, contexts, answers, article indices).
uint64_t dataset_fingerprint(const SquadDataset& dataset);
// The key for windows built from dataset + tokenizer with config.
WindowCacheKey make_window_cache_key(const SquadDataset& dataset, const Tokenizer& tokenizer,
                                     bool do_lower_case, const WindowConfig& config);

// Serialises the cache (header + payload + checksum) into bytes.
std::string serialize_window_cache(const WindowCacheKey& key, const SquadDataset& dataset,
                                   const std::vector<Window>& windows);
// Whether a cache may be written over the file at path: none is there, or a window cache (of
// any version, stale or damaged) or an empty file is. InputError naming the path when it is no
// regular file (a FIFO is never opened: that would wait for a writer) or cannot be read.
bool window_cache_replaceable(const std::string& path);
// The same as a check: InputError naming the path when a cache may not be written over it.
void require_window_cache_replaceable(const std::string& path);
// Writes serialize_window_cache atomically; refuses (InputError) a path that is not
// window_cache_replaceable: a cache path mistyped onto a vocabulary or a note must not destroy it.
void save_window_cache(const std::string& path, const WindowCacheKey& key,
                       const SquadDataset& dataset, const std::vector<Window>& windows);

// Reads and fully validates a cache (magic, version, sizes, every index and label range,
// checksum). Throws InputError naming the file and what is wrong.
WindowCache read_window_cache(const std::string& path);
// A valid window cache built from other data or settings than asked (load_window_cache).
class StaleWindowCache : public InputError {
 public:
  using InputError::InputError;
};

// read_window_cache, then refuses (StaleWindowCache naming the differing field) a cache whose
// key is not `expected`, and one whose example ids differ from the dataset's.
WindowCache load_window_cache(const std::string& path, const WindowCacheKey& expected,
                              const SquadDataset& dataset);

}  // namespace bert
