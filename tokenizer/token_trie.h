// A byte trie over a vocabulary, for WordPiece's greedy longest-match-first: one walk from
// the current position finds the longest token that prefixes the rest of the word, instead
// of one hash lookup per candidate end. Children of a node are contiguous and sorted by
// byte, so the trie is a few flat arrays (about 100k nodes for BERT's 30k tokens).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bert {

class TokenTrie {
 public:
  static constexpr int32_t kRoot = 0;

  // Token i gets id i; a token listed twice keeps the later id (as the Rust loader does).
  explicit TokenTrie(const std::vector<std::string>& tokens);

  // The id of exactly this token, or -1.
  int32_t find(std::string_view token) const;
  // The node reached by walking `prefix` from the root, or -1.
  int32_t node_of(std::string_view prefix) const;
  // Longest non-empty token t (read from node `from`, so a "##" node gives continuations)
  // with t a prefix of text: returns its id and sets *length to its size in bytes; returns
  // -1 when there is none.
  int32_t longest_prefix(int32_t from, std::string_view text, size_t* length) const;

 private:
  struct Node {
    int32_t first_child = 0;  // children are nodes_[first_child, first_child + child_count)
    int32_t child_count = 0;
    int32_t id = -1;          // token ending here, or -1
    unsigned char label = 0;  // the byte leading into this node
  };
  int32_t child(int32_t node, unsigned char byte) const;

  std::vector<Node> nodes_;
};

}  // namespace bert
