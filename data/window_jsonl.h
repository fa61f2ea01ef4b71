// Windows as JSON Lines, in exactly the schema and formatting of the golden features file
// (shared/golden/features.jsonl.gz, written by Python's json.dumps with default settings):
//   {"example_id": "...", "article": 0, "input_ids": [101, ...], "token_type_ids": [0, ...],
//    "offsets": [null, ..., [0, 5], ...], "start_position": 46, "end_position": 47}
// one window per line, in order. Non-ASCII characters are written as \uXXXX escapes
// (UTF-16 surrogate pairs above U+FFFF), as json.dumps' ensure_ascii does.
#pragma once

#include <string>
#include <vector>

#include "data/squad.h"
#include "data/windows.h"

namespace bert {

// Appends one line (with its trailing '\n') for the window to *out.
void append_window_json(const SquadDataset& dataset, const Window& window, std::string* out);

// All windows, one line each.
std::string windows_to_jsonl(const SquadDataset& dataset, const std::vector<Window>& windows);

// Writes windows_to_jsonl atomically (nothing half-written is left under path).
void write_windows_jsonl(const std::string& path, const SquadDataset& dataset,
                         const std::vector<Window>& windows);

}  // namespace bert
