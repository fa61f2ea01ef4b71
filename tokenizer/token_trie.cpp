// Built through a temporary pointer-style trie, then laid out breadth first so siblings
// are contiguous and sorted.
#include "tokenizer/token_trie.h"

#include <algorithm>
#include <utility>

namespace bert {

TokenTrie::TokenTrie(const std::vector<std::string>& tokens) {
  struct BuildNode {
    std::vector<std::pair<unsigned char, int32_t>> children;
    int32_t id = -1;
  };
  std::vector<BuildNode> build(1);
  for (size_t i = 0; i < tokens.size(); ++i) {
    int32_t node = 0;
    for (char c : tokens[i]) {
      const auto b = static_cast<unsigned char>(c);
      auto& kids = build[node].children;
      auto it = std::find_if(kids.begin(), kids.end(), [b](const auto& k) { return k.first == b; });
      if (it != kids.end()) {
        node = it->second;
      } else {
        const auto next = static_cast<int32_t>(build.size());
        kids.push_back({b, next});
        build.emplace_back();  // invalidates `kids`, which is not used again
        node = next;
      }
    }
    build[node].id = static_cast<int32_t>(i);
  }

  // Breadth-first layout: flat index of each build node, children sorted by byte.
  nodes_.resize(build.size());
  std::vector<int32_t> queue{0};
  nodes_[0].id = build[0].id;
  int32_t next_free = 1;
  for (size_t q = 0; q < queue.size(); ++q) {
    const int32_t flat = static_cast<int32_t>(q);  // queue order == flat order
    BuildNode& b = build[queue[q]];
    std::sort(b.children.begin(), b.children.end());
    nodes_[flat].first_child = next_free;
    nodes_[flat].child_count = static_cast<int32_t>(b.children.size());
    for (const auto& [byte, kid] : b.children) {
      Node& n = nodes_[next_free++];
      n.label = byte;
      n.id = build[kid].id;
      queue.push_back(kid);
    }
  }
}

int32_t TokenTrie::child(int32_t node, unsigned char byte) const {
  const Node& n = nodes_[node];
  int32_t lo = n.first_child, hi = n.first_child + n.child_count;
  if (n.child_count <= 8) {
    for (int32_t i = lo; i < hi; ++i) {
      if (nodes_[i].label == byte) return i;
    }
    return -1;
  }
  while (lo < hi) {
    const int32_t mid = (lo + hi) / 2;
    if (nodes_[mid].label < byte) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo < n.first_child + n.child_count && nodes_[lo].label == byte ? lo : -1;
}

int32_t TokenTrie::node_of(std::string_view prefix) const {
  int32_t node = kRoot;
  for (char c : prefix) {
    node = child(node, static_cast<unsigned char>(c));
    if (node < 0) return -1;
  }
  return node;
}

int32_t TokenTrie::find(std::string_view token) const {
  const int32_t node = node_of(token);
  return node < 0 ? -1 : nodes_[node].id;
}

int32_t TokenTrie::longest_prefix(int32_t from, std::string_view text, size_t* length) const {
  int32_t best = -1;
  int32_t node = from;
  for (size_t i = 0; i < text.size(); ++i) {
    node = child(node, static_cast<unsigned char>(text[i]));
    if (node < 0) break;
    if (nodes_[node].id >= 0) {
      best = nodes_[node].id;
      *length = i + 1;
    }
  }
  return best;
}

}  // namespace bert
