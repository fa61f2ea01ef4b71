// An open-addressing hash table from token bytes to id, looked up by string_view without
// allocating (std::unordered_map<std::string, …> cannot do that in C++17). Keys live in one
// arena string, so the table copies and moves safely.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bert {

class VocabTable {
 public:
  // Adds a key (id >= 0); a key added twice keeps the later id (as the Rust loader does).
  void insert(std::string_view key, int32_t id);
  // The id of key, or -1.
  int32_t find(std::string_view key) const;
  // Longest key in bytes: a longer string cannot be a key.
  size_t max_key_bytes() const { return max_key_bytes_; }
  size_t size() const { return count_; }

 private:
  struct Slot {
    uint64_t hash = 0;
    uint32_t offset = 0, size = 0;  // key bytes in arena_
    int32_t id = -1;                // -1: empty
  };
  static uint64_t hash_bytes(std::string_view key);
  void grow();
  const Slot* slot_for(std::string_view key, uint64_t hash) const;  // the key's or an empty one

  std::vector<Slot> slots_;
  std::string arena_;
  size_t count_ = 0, max_key_bytes_ = 0;
};

}  // namespace bert
