// Linear probing over a power-of-two table kept at most half full.
#include "tokenizer/vocab_table.h"

#include <cstring>

#include "core/error.h"

namespace bert {

uint64_t VocabTable::hash_bytes(std::string_view key) {
  // 8 bytes per step, multiply-xorshift mixing: tokens are short, so speed beats strength.
  constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
  uint64_t h = 0x243F6A8885A308D3ull ^ (key.size() * kMul);
  const char* p = key.data();
  size_t n = key.size();
  while (n >= 8) {
    uint64_t chunk;
    std::memcpy(&chunk, p, 8);
    h = (h ^ chunk) * kMul;
    h ^= h >> 32;
    p += 8;
    n -= 8;
  }
  if (n > 0) {
    uint64_t chunk = 0;
    std::memcpy(&chunk, p, n);
    h = (h ^ chunk) * kMul;
  }
  h ^= h >> 29;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 32;
  return h;
}

const VocabTable::Slot* VocabTable::slot_for(std::string_view key, uint64_t hash) const {
  const size_t mask = slots_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.id < 0) return &s;
    if (s.hash == hash && s.size == key.size() &&
        std::memcmp(arena_.data() + s.offset, key.data(), key.size()) == 0) {
      return &s;
    }
  }
}

void VocabTable::grow() {
  std::vector<Slot> old;
  old.swap(slots_);
  slots_.assign(old.empty() ? 64 : old.size() * 2, Slot{});
  const size_t mask = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.id < 0) continue;
    size_t i = s.hash & mask;
    while (slots_[i].id >= 0) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

void VocabTable::insert(std::string_view key, int32_t id) {
  BERT_CHECK(id >= 0, "token ids are non-negative");
  if ((count_ + 1) * 2 > slots_.size()) grow();
  const uint64_t hash = hash_bytes(key);
  auto* s = const_cast<Slot*>(slot_for(key, hash));
  if (s->id < 0) {
    s->hash = hash;
    s->offset = static_cast<uint32_t>(arena_.size());
    s->size = static_cast<uint32_t>(key.size());
    arena_.append(key.data(), key.size());
    ++count_;
    if (key.size() > max_key_bytes_) max_key_bytes_ = key.size();
  }
  s->id = id;
}

int32_t VocabTable::find(std::string_view key) const {
  if (slots_.empty() || key.size() > max_key_bytes_) return -1;
  return slot_for(key, hash_bytes(key))->id;
}

}  // namespace bert
