#include "data/window_cache.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "core/file_io.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the window cache format is little-endian");

namespace bert {
namespace {

constexpr char kMagic[8] = {'B', 'E', 'R', 'T', 'W', 'I', 'N', '\0'};

struct Header {
  char magic[8];
  uint32_t format_version;
  uint32_t header_bytes;
  int32_t max_seq_length;
  int32_t doc_stride;
  uint64_t vocab_hash;
  uint64_t dataset_hash;
  uint64_t num_windows;
  uint64_t num_tokens;
  uint64_t num_examples;
  uint64_t example_id_bytes;
  uint64_t payload_bytes;
  uint64_t reserved;
};
static_assert(sizeof(Header) == 88, "header layout");

// Word-at-a-time multiply-xorshift hash: not cryptographic, but any flipped or truncated
// byte changes it, and it runs at memory speed (caches reach hundreds of MB).
class Hasher {
 public:
  void update(const void* data, size_t bytes) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (; bytes >= 8; p += 8, bytes -= 8) {
      uint64_t word;
      std::memcpy(&word, p, 8);
      mix(word);
    }
    uint64_t tail = 0;
    std::memcpy(&tail, p, bytes);
    mix(tail ^ (static_cast<uint64_t>(bytes) << 56));
  }
  void update(std::string_view text) {
    update_u64(text.size());
    update(text.data(), text.size());
  }
  void update_u64(uint64_t value) { mix(value); }
  uint64_t finish() const {
    uint64_t h = state_;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
  }

 private:
  void mix(uint64_t word) {
    state_ = (state_ ^ word) * 0x9E3779B97F4A7C15ULL;
    state_ ^= state_ >> 29;
  }
  uint64_t state_ = 0x243F6A8885A308D3ULL;
};

uint64_t payload_checksum(const char* payload, size_t bytes) {
  Hasher hasher;
  hasher.update(payload, bytes);
  return hasher.finish();
}

size_t round_up4(size_t bytes) { return (bytes + 3) / 4 * 4; }

// Payload bytes the header's counts imply (see the layout in window_cache.h).
uint64_t payload_bytes_for(const Header& h) {
  return 4 * (h.num_windows + 1) + 16 * h.num_tokens + 12 * h.num_windows + 4 * (h.num_examples + 1) +
         round_up4(h.example_id_bytes);
}

// Fills a buffer sized in advance; memcpy keeps it free of alignment assumptions.
class ByteWriter {
 public:
  explicit ByteWriter(char* at) : at_(at) {}
  template <typename T>
  void put(const T* values, size_t count) {
    std::memcpy(at_, values, count * sizeof(T));
    at_ += count * sizeof(T);
  }
  void put_i32(int32_t value) { put(&value, 1); }
  char* at() const { return at_; }

 private:
  char* at_;
};

// An int32 array inside the file's bytes.
struct I32Array {
  const char* base;
  int32_t operator[](size_t i) const {
    int32_t value;
    std::memcpy(&value, base + 4 * i, 4);
    return value;
  }
  template <typename T>
  void copy_to(size_t first_int, size_t count_ints, T* out) const {
    std::memcpy(out, base + 4 * first_int, 4 * count_ints);
  }
};

}  // namespace

uint64_t tokenizer_fingerprint(const Tokenizer& tokenizer, bool do_lower_case) {
  Hasher hasher;
  hasher.update_u64(static_cast<uint64_t>(tokenizer.vocab_size()));
  hasher.update_u64(do_lower_case ? 1 : 0);
  hasher.update(kTokenizerRulesRevision);
  // Only when there are any, so fingerprints of tokenizers without options stay as they were.
  if (const std::string rules = tokenizer.text_rules(); !rules.empty()) hasher.update(rules);
  for (int32_t id = 0; id < tokenizer.vocab_size(); ++id) hasher.update(tokenizer.id_to_token(id));
  return hasher.finish();
}

uint64_t dataset_fingerprint(const SquadDataset& dataset) {
  Hasher hasher;
  hasher.update_u64(dataset.examples.size());
  const std::string* last_context = nullptr;
  for (const SquadExample& example : dataset.examples) {
    hasher.update(example.id);
    hasher.update(example.question);
    // Paragraphs repeat their context for every question; hash each distinct one once.
    if (!last_context || *last_context != example.context) hasher.update(example.context);
    last_context = &example.context;
    hasher.update_u64((static_cast<uint64_t>(example.article) << 32) ^
                      static_cast<uint32_t>(example.paragraph));
    hasher.update_u64(example.answers.size() * 2 + (example.is_impossible ? 1 : 0));
    for (const SquadAnswer& answer : example.answers) {
      hasher.update(answer.text);
      hasher.update_u64(static_cast<uint32_t>(answer.start_char));
    }
  }
  return hasher.finish();
}

WindowCacheKey make_window_cache_key(const SquadDataset& dataset, const Tokenizer& tokenizer,
                                     bool do_lower_case, const WindowConfig& config) {
  WindowCacheKey key;
  key.max_seq_length = config.max_seq_length;
  key.doc_stride = config.doc_stride;
  key.vocab_hash = tokenizer_fingerprint(tokenizer, do_lower_case);
  key.dataset_hash = dataset_fingerprint(dataset);
  return key;
}

std::string serialize_window_cache(const WindowCacheKey& key, const SquadDataset& dataset,
                                   const std::vector<Window>& windows) {
  size_t num_tokens = 0, id_bytes = 0;
  for (const Window& window : windows) num_tokens += window.input_ids.size();
  for (const SquadExample& example : dataset.examples) id_bytes += example.id.size();
  constexpr size_t kMaxInt32 = std::numeric_limits<int32_t>::max();
  BERT_CHECK(num_tokens <= kMaxInt32 && id_bytes <= kMaxInt32 && windows.size() < kMaxInt32,
             "window cache too large for its int32 indices");

  Header header{};
  std::memcpy(header.magic, kMagic, sizeof kMagic);
  header.format_version = kWindowCacheVersion;
  header.header_bytes = sizeof(Header);
  header.max_seq_length = key.max_seq_length;
  header.doc_stride = key.doc_stride;
  header.vocab_hash = key.vocab_hash;
  header.dataset_hash = key.dataset_hash;
  header.num_windows = windows.size();
  header.num_tokens = num_tokens;
  header.num_examples = dataset.examples.size();
  header.example_id_bytes = id_bytes;

  header.payload_bytes = payload_bytes_for(header);
  for (const Window& window : windows)
    BERT_CHECK(window.token_type_ids.size() == window.input_ids.size() &&
                   window.offsets.size() == window.input_ids.size(),
               "window arrays must have one entry per token");

  std::string out(sizeof(Header) + header.payload_bytes + sizeof(uint64_t), '\0');
  ByteWriter writer(out.data());
  writer.put(&header, 1);
  int32_t begin = 0;
  writer.put_i32(begin);
  for (const Window& window : windows) writer.put_i32(begin += window.length());
  for (const Window& w : windows) writer.put(w.input_ids.data(), w.input_ids.size());
  for (const Window& w : windows) writer.put(w.token_type_ids.data(), w.token_type_ids.size());
  for (const Window& w : windows) {
    for (const TokenSpan& span : w.offsets) {  // std::pair is not trivially copyable
      writer.put_i32(span.first);
      writer.put_i32(span.second);
    }
  }
  for (const Window& w : windows) writer.put_i32(w.start_position);
  for (const Window& w : windows) writer.put_i32(w.end_position);
  for (const Window& w : windows) writer.put_i32(w.example_index);
  int32_t id_begin = 0;
  writer.put_i32(id_begin);
  for (const SquadExample& example : dataset.examples)
    writer.put_i32(id_begin += static_cast<int32_t>(example.id.size()));
  for (const SquadExample& example : dataset.examples) writer.put(example.id.data(), example.id.size());
  writer.put("\0\0\0", round_up4(id_bytes) - id_bytes);
  BERT_CHECK(writer.at() == out.data() + sizeof(Header) + header.payload_bytes, "payload size");
  const uint64_t checksum = payload_checksum(out.data() + sizeof(Header), header.payload_bytes);
  writer.put(&checksum, 1);
  return out;
}

bool window_cache_replaceable(const std::string& path) {
  if (!path_exists(path)) return true;
  check_output_file(path);  // a directory, device or FIFO: refused before anything opens it
  // A file that cannot be read (permissions) is refused by InputFile, never taken for empty.
  const InputFile file = InputFile::open(path, std::numeric_limits<uint64_t>::max());
  char head[sizeof kMagic] = {};
  const size_t got = static_cast<size_t>(std::min<uint64_t>(file.size(), sizeof head));
  file.read_into(head, got);
  return got == 0 || (got == sizeof head && std::memcmp(head, kMagic, sizeof kMagic) == 0);
}

void require_window_cache_replaceable(const std::string& path) {
  if (!window_cache_replaceable(path))
    throw_input_error(path, "",
                      "exists and is no window cache (it does not start with \"BERTWIN\"): "
                      "refused, never overwritten; give another cache file");
}

void save_window_cache(const std::string& path, const WindowCacheKey& key,
                       const SquadDataset& dataset, const std::vector<Window>& windows) {
  require_window_cache_replaceable(path);  // --overwrite_cache or not
  write_file_atomic(path, serialize_window_cache(key, dataset, windows));
}

namespace {

// Checks that a prefix-sum index array starts at 0, never decreases, and ends at total.
void check_prefix_index(const std::string& path, I32Array begin, size_t count, size_t total,
                        const char* name) {
  if (begin[0] != 0) throw_input_error(path, name, "expected to start at 0 (corrupt cache)");
  for (size_t i = 1; i <= count; ++i)
    if (begin[i] < begin[i - 1])
      throw_input_error(path, std::string(name) + "[" + std::to_string(i) + "]",
                        "expected non-decreasing offsets (corrupt cache)");
  if (static_cast<size_t>(begin[count]) != total)
    throw_input_error(path, name, "expected to end at " + std::to_string(total) + " (corrupt cache)");
}

void check_window(const std::string& path, size_t w, const Window& window, const Header& header) {
  const std::string where = "window " + std::to_string(w);
  if (window.length() < 3 || window.length() > header.max_seq_length)
    throw_input_error(path, where, "expected 3 to max_seq_length " + std::to_string(header.max_seq_length) +
                                       " tokens, found " + std::to_string(window.length()));
  for (int32_t t = 0; t < window.length(); ++t) {
    const TokenSpan& span = window.offsets[t];
    const bool no_span = span.first == -1 && span.second == -1;
    if (window.input_ids[t] < 0 || (window.token_type_ids[t] != 0 && window.token_type_ids[t] != 1) ||
        !(no_span || (span.first >= 0 && span.second >= span.first)))
      throw_input_error(path, where + " token " + std::to_string(t),
                        "expected an id >= 0, a token type 0/1 and an offset pair start <= end or "
                        "-1/-1 (corrupt cache)");
  }
  if (window.start_position < 0 || window.end_position < 0 || window.start_position >= window.length() ||
      window.end_position >= window.length())
    throw_input_error(path, where, "expected start/end positions inside the window (corrupt cache)");
  if (window.example_index < 0 || static_cast<uint64_t>(window.example_index) >= header.num_examples)
    throw_input_error(path, where, "expected an example index below " + std::to_string(header.num_examples) +
                                       " (corrupt cache)");
}

}  // namespace

WindowCache read_window_cache(const std::string& path) {
  const InputFile file = InputFile::open(path);
  // The header first: the rest is read only once its sizes agree with the file's.
  std::string bytes(static_cast<size_t>(std::min<uint64_t>(file.size(), sizeof(Header))), '\0');
  file.read_into(bytes.data(), bytes.size());
  Header header{};
  if (bytes.size() < sizeof(Header))
    throw_input_error(path, "header", "file is " + std::to_string(bytes.size()) +
                                          " bytes, shorter than the " + std::to_string(sizeof(Header)) +
                                          "-byte window cache header (truncated or not a cache)");
  std::memcpy(&header, bytes.data(), sizeof header);
  if (std::memcmp(header.magic, kMagic, sizeof kMagic) != 0)
    throw_input_error(path, "header", "expected the magic \"BERTWIN\" (not a window cache)");
  if (header.format_version != kWindowCacheVersion)
    throw_input_error(path, "header.format_version",
                      std::to_string(header.format_version) + ", expected " +
                          std::to_string(kWindowCacheVersion) + " (written by another version)");
  if (header.header_bytes != sizeof(Header))
    throw_input_error(path, "header.header_bytes",
                      std::to_string(header.header_bytes) + ", expected " +
                          std::to_string(sizeof(Header)) + " (corrupt cache)");
  constexpr uint64_t kLimit = std::numeric_limits<int32_t>::max();
  if (header.num_windows >= kLimit || header.num_tokens > kLimit || header.num_examples >= kLimit ||
      header.example_id_bytes > kLimit || header.max_seq_length < 4 || header.doc_stride < 0 ||
      header.reserved != 0)
    throw_input_error(path, "header", "implausible counts or settings (corrupt cache)");
  const uint64_t windows = header.num_windows, tokens = header.num_tokens;
  const uint64_t expected_payload = payload_bytes_for(header);
  if (header.payload_bytes != expected_payload)
    throw_input_error(path, "header", "payload size " + std::to_string(header.payload_bytes) +
                                          " does not match its counts (" + std::to_string(expected_payload) +
                                          "; corrupt cache)");
  const uint64_t expected_size = sizeof(Header) + expected_payload + sizeof(uint64_t);
  if (file.size() != expected_size)
    throw_input_error(path, "",
                      "file is " + std::to_string(file.size()) + " bytes, expected " +
                          std::to_string(expected_size) + " from its header (" +
                          (file.size() < expected_size ? "truncated)" : "trailing bytes)"));
  bytes.resize(static_cast<size_t>(expected_size));
  file.read_range(sizeof(Header), bytes.data() + sizeof(Header), bytes.size() - sizeof(Header));
  uint64_t stored_checksum = 0;
  std::memcpy(&stored_checksum, bytes.data() + sizeof(Header) + expected_payload, sizeof stored_checksum);
  if (payload_checksum(bytes.data() + sizeof(Header), expected_payload) != stored_checksum)
    throw_input_error(path, "payload", "checksum mismatch (corrupt cache)");

  // The sections, in file order.
  const char* at = bytes.data() + sizeof(Header);
  auto section = [&at](uint64_t bytes_in_section) {
    const char* begin = at;
    at += bytes_in_section;
    return I32Array{begin};
  };
  const I32Array token_begin = section(4 * (windows + 1));
  const I32Array ids = section(4 * tokens), types = section(4 * tokens), offsets = section(8 * tokens);
  const I32Array starts = section(4 * windows), ends = section(4 * windows);
  const I32Array example_index = section(4 * windows);
  const I32Array id_begin = section(4 * (header.num_examples + 1));
  const char* id_chars = at;
  check_prefix_index(path, token_begin, windows, tokens, "token_begin");
  check_prefix_index(path, id_begin, header.num_examples, header.example_id_bytes, "example_id_begin");

  WindowCache cache;
  cache.key = {header.max_seq_length, header.doc_stride, header.vocab_hash, header.dataset_hash};
  cache.example_ids.reserve(header.num_examples);
  for (uint64_t e = 0; e < header.num_examples; ++e)
    cache.example_ids.emplace_back(id_chars + id_begin[e], id_begin[e + 1] - id_begin[e]);
  cache.windows.resize(windows);
  for (uint64_t w = 0; w < windows; ++w) {
    Window& window = cache.windows[w];
    const size_t begin = token_begin[w], length = token_begin[w + 1] - token_begin[w];
    window.input_ids.resize(length);
    ids.copy_to(begin, length, window.input_ids.data());
    window.token_type_ids.resize(length);
    types.copy_to(begin, length, window.token_type_ids.data());
    window.offsets.resize(length);
    for (size_t t = 0; t < length; ++t)
      window.offsets[t] = {offsets[2 * (begin + t)], offsets[2 * (begin + t) + 1]};
    window.start_position = starts[w];
    window.end_position = ends[w];
    window.example_index = example_index[w];
    check_window(path, w, window, header);
  }
  return cache;
}

WindowCache load_window_cache(const std::string& path, const WindowCacheKey& expected,
                              const SquadDataset& dataset) {
  WindowCache cache = read_window_cache(path);
  const WindowCacheKey& key = cache.key;
  auto stale = [&](const std::string& what) {
    throw StaleWindowCache(path + ": stale window cache: " + what);
  };
  if (key.max_seq_length != expected.max_seq_length)
    stale("built with max_seq_length " + std::to_string(key.max_seq_length) + ", expected " +
          std::to_string(expected.max_seq_length));
  if (key.doc_stride != expected.doc_stride)
    stale("built with doc_stride " + std::to_string(key.doc_stride) + ", expected " +
          std::to_string(expected.doc_stride));
  if (key.vocab_hash != expected.vocab_hash)
    stale(
        "built with another vocabulary, lower-casing setting, SentencePiece model or keep_accents, "
        "or revision of the tokenizer's rules");
  if (key.dataset_hash != expected.dataset_hash)
    stale("built from other SQuAD data than " + dataset.path +
          " (the file changed, or another part of it is used now: --max_train_samples, "
          "--max_eval_samples)");
  if (cache.example_ids.size() != dataset.examples.size())
    stale("holds " + std::to_string(cache.example_ids.size()) + " examples, the data set " +
          std::to_string(dataset.examples.size()));
  for (size_t e = 0; e < cache.example_ids.size(); ++e)
    if (cache.example_ids[e] != dataset.examples[e].id)
      stale("example " + std::to_string(e) + " is \"" + cache.example_ids[e] + "\", the data set has \"" +
            dataset.examples[e].id + "\"");
  return cache;
}

}  // namespace bert
