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
  int32_t article = 0;         // index of the article in data[] (rows: counted as the title changes)
  int32_t paragraph = 0;       // index of the paragraph in its article (rows: as the context changes)
  // Hugging Face datasets' flat rows: the row's index in data[], or its line - 1 in a JSON Lines
  // file (json_line); -1 in the official layout.
  int32_t row = -1;
  bool json_line = false;
};

// The Arrow file a run of rows came from (a datasets cache split may be several shards): rows
// first_row, first_row + 1, ... up to the next source's are that file's rows 0, 1, ...
struct RowSource {
  int32_t first_row = 0;
  std::string path;
};

struct SquadDataset {
  std::string path;
  std::string version;  // the file's "version" field
  std::vector<SquadExample> examples;  // in file order
  // Read with AnswerStarts::kMayMismatch: the answers whose text is not the context at their
  // answer_start (kept, with answer_start -1), and the first one's error message.
  size_t mismatched_answers = 0;
  std::string first_mismatched_answer;
  std::vector<RowSource> row_sources;  // Arrow input only, by first_row
};

// Reads and validates a SQuAD file. Every error names the file, the JSON path
// (data[i].paragraphs[j].qas[k]...) and what was expected. Each answer's context slice
// at answer_start must equal its text (unless AnswerStarts::kMayMismatch). Three layouts:
// - the official one: {"version", "data": [{"title", "paragraphs": [{"context", "qas": [{"id",
//   "question", "answers": [{"text", "answer_start"}], "is_impossible" (v2.0)}]}]}]};
// - Hugging Face datasets' flat rows under "data", as run_qa.py reads its --train_file
//   (load_dataset("json", field="data")): {"data": [{"id", "title", "context", "question",
//   "answers": {"text": [...], "answer_start": [...]}}]}; no answers: an unanswerable question;
// - the same rows as JSON Lines, one object per line (Dataset.to_json's output); errors name
//   the line;
// - the same rows in a Hugging Face datasets cache file (Arrow IPC; data/squad_arrow.h), with
//   its sibling shards.
// Whether each answer's text must be the context at its answer_start. Training needs that (a
// wrong start would label the wrong span, where run_qa trains on it silently); the official
// metric reads only the answers' text, so scoring predictions takes a file whose starts are
// off (counted UTF-16 units by a JavaScript tool, text in NFC over a context in NFD), missing,
// negative or not integers.
enum class AnswerStarts { kMustMatch, kMayMismatch };

SquadDataset read_squad(const std::string& path, AnswerStarts starts = AnswerStarts::kMustMatch);

// Where a Hugging Face datasets row is, for messages: "data[12]", "line 13" in JSON Lines, or
// "data-00001-of-00002.arrow row 4" when the rows came from Arrow files (sources not empty).
std::string row_location(int32_t row, bool json_line, const std::vector<RowSource>& sources = {});

}  // namespace bert
