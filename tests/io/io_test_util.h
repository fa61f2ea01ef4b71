// Helpers for the checkpoint IO tests (test_io and test_io_golden): temp directories, hand-made
// safetensors images and vocabularies, a loaded model's notes, and catching an InputError's
// message.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>

#include "core/error.h"
#include "core/file_io.h"
#include "io/bert_config.h"
#include "io/model_dir.h"

namespace bert::test {

// The small BERT the model-directory tests use (also the shapes of
// tests/fixtures/torch-checkpoint): vocab 50, hidden 8, 2 layers of 2 heads, FFN 16, 16
// positions, 2 token types, no hidden dropout.
inline BertConfig small_config() {
  BertConfig c;
  c.vocab_size = 50;
  c.hidden_size = 8;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 2;
  c.intermediate_size = 16;
  c.max_position_embeddings = 16;
  c.type_vocab_size = 2;
  c.hidden_dropout_prob = 0.0f;
  return c;
}

// A fresh directory under $TMPDIR, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "bert_io_test_XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return join_path(path_, name); }

 private:
  std::string path_;
};

// 8-byte little-endian length + header + buffer, exactly as given (no padding).
inline std::string raw_safetensors(const std::string& header, const std::string& buffer) {
  const uint64_t n = header.size();
  std::string out(8, '\0');
  std::memcpy(out.data(), &n, 8);
  return out + header + buffer;
}

// The header length a safetensors image starts with (8 bytes, little-endian).
inline uint64_t header_length(const std::string& image) {
  uint64_t n = 0;
  std::memcpy(&n, image.data(), 8);
  return n;
}

// Runs fn, which must throw InputError; returns its message ("" and a failed check if not).
inline std::string input_error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const InputError& e) {
    return e.what();
  }
  return "<no InputError thrown>";
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// vocab.txt with the BERT special tokens first, then filler tokens, `lines` lines in all.
inline void write_vocab(const std::string& path, int lines) {
  const char* specials[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  std::string text;
  for (int i = 0; i < lines; ++i) text += (i < 5 ? std::string(specials[i]) : "tok" + std::to_string(i)) + "\n";
  write_file_atomic(path, text);
}

inline bool has_note(const LoadedModel& model, const std::string& part) {
  for (const std::string& note : model.notes)
    if (contains(note, part)) return true;
  return false;
}

inline std::string notes_text(const LoadedModel& model) {
  std::string out;
  for (const std::string& note : model.notes) out += note + "\n";
  return out;
}

}  // namespace bert::test
