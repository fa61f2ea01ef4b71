// SQuAD from Hugging Face datasets' cache files: the Arrow tables datasets keeps under
// ~/.cache/huggingface/datasets/<namespace>___<name>/<config>/<version>/<hash>/
// (<name>-<split>.arrow, or <name>-<split>-00000-of-00003.arrow and its sibling shards), with
// the squad dataset's columns: id, title, context, question (strings) and answers (a struct
// of text: list<string> and answer_start: list<int>). Their rows become the same flat rows
// read_squad checks for a --train_file in run_qa's JSON layout, so every check and message
// (data[12].answers.text[0] ...: row 12 of the table, counted across shards) is the same.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/squad.h"

namespace bert {

// "<prefix>-00001-of-00003.arrow": shard `index` of `count`, as datasets names them.
std::string arrow_shard_name(const std::string& prefix, int64_t index, int64_t count);

// The shard files a file of a split belongs to, in order: itself, or for
// "<prefix>-00001-of-00003.arrow" all three (each must exist; InputError otherwise).
std::vector<std::string> arrow_shard_paths(const std::string& path);

// The tables' rows as {"data": [{"id", "title", "context", "question", "answers": {"text",
// "answer_start"}}, ...]}: what read_squad reads. InputError naming the file, the row and the
// column for a missing or mistyped column, a null where a value is needed, or a string that is
// not UTF-8. Other columns are ignored; "title" and "answers" may be absent (as in rows JSON).
// `sources` (when given) receives each shard's first row (data/squad.h RowSource), for messages.
std::string squad_rows_json_from_arrow(const std::vector<std::string>& shard_paths,
                                       std::vector<RowSource>* sources = nullptr);

}  // namespace bert
