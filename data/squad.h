// SQuAD v1.1 / v2.0 examples as read from the official JSON (simdjson).
// Character positions are Unicode code points of the UTF-8 context, as in the JSON.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bert {

struct SquadAnswer {
  std::string text;       // UTF-8
  int32_t start_char = 0;  // code-point index into the context
};

struct SquadExample {
  std::string id;
  std::string question;  // UTF-8, as in the file (windowing left-strips it)
  std::string context;   // UTF-8
  std::vector<SquadAnswer> answers;
  bool is_impossible = false;  // SQuAD v2.0 only
  int32_t article = 0;         // index of the article in data[]
  int32_t paragraph = 0;       // index of the paragraph in its article
};

struct SquadDataset {
  std::string path;
  std::string version;  // the file's "version" field
  std::vector<SquadExample> examples;  // in file order
};

// Reads and validates a SQuAD file. Every error names the file, the JSON path
// (data[i].paragraphs[j].qas[k]...) and what was expected. Each answer's context slice
// at answer_start must equal its text.
SquadDataset read_squad(const std::string& path);

}  // namespace bert
