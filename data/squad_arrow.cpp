#include "data/squad_arrow.h"

#include <simdjson.h>

#include <cstdio>
#include <regex>

#include "core/error.h"
#include "core/file_io.h"
#include "core/json_text.h"
#include "data/arrow_ipc.h"

namespace bert {
namespace {

// Where a value is, for messages: "squad-train.arrow: row 12, column answers.text".
[[noreturn]] void fail(const std::string& path, int64_t row, const std::string& column, const std::string& what) {
  throw_input_error(path, "row " + std::to_string(row) + ", column " + column, what);
}

// What a column may hold: strings (also integers: ids, as datasets infers int64 for numbered
// questions; also Null: a title column datasets wrote with no titles), or (answers) a struct.
enum class Holds { kStrings, kStringsOrIntegers, kStringsOrNull, kStruct };

bool holds(const ArrowField& field, Holds what) {
  switch (what) {
    case Holds::kStruct:
      return field.type == ArrowType::kStruct;
    case Holds::kStringsOrIntegers:
      return field.is_string() || field.type == ArrowType::kInt;
    case Holds::kStringsOrNull:
      return field.is_string() || field.is_null_type();
    case Holds::kStrings:
      return field.is_string();
  }
  return false;
}

// The top-level column `name` as `what` says; nullptr when absent and optional.
const ArrowArray* column_of(const ArrowTable& table, const ArrowBatch& batch, const char* name,
                            Holds what, bool required) {
  const int index = table.column(name);
  if (index < 0) {
    if (required) throw_input_error(table.path(), std::string("column ") + name, "missing (a SQuAD table has id, "
                                                  "title, context, question and answers)");
    return nullptr;
  }
  const ArrowArray& array = batch.columns[size_t(index)];
  if (!holds(*array.field, what))
    throw_input_error(table.path(), std::string("column ") + name,
                      std::string("expected ") +
                          (what == Holds::kStruct              ? "a struct"
                           : what == Holds::kStringsOrIntegers ? "strings or integers"
                                                               : "strings") +
                          ", found " + array.field->type_name);
  return &array;
}

// An integer as the JSON number it is (an unsigned 64-bit value above INT64_MAX as itself, for
// the reader to refuse where it must be small).
std::string integer_text(const ArrowArray& array, int64_t at) {
  const int64_t value = array.int_at(at);
  const bool unsigned64 = !array.field->int_signed && array.field->int_bits == 64;
  return unsigned64 ? std::to_string(static_cast<uint64_t>(value)) : std::to_string(value);
}

void append_string(const ArrowArray& array, int64_t at, const std::string& path, int64_t row,
                   const std::string& column, std::string* out) {
  if (array.is_null(at)) {
    *out += "null";  // read_squad names it: "expected a string, found null"
    return;
  }
  if (array.field->type == ArrowType::kInt) {  // an id; read_squad decides what may be one
    *out += integer_text(array, at);
    return;
  }
  const std::string_view text = array.string_at(at);
  if (!simdjson::validate_utf8(text.data(), text.size())) fail(path, row, column, "not valid UTF-8");
  *out += json_quote(text);
}

// answers: {"text": [...], "answer_start": [...]}, each list's elements.
void append_answers(const ArrowArray& answers, int64_t at, const std::string& path, int64_t row, std::string* out) {
  if (answers.is_null(at)) {
    *out += "null";
    return;
  }
  const ArrowArray* text = answers.child("text");
  const ArrowArray* start = answers.child("answer_start");
  // list<null>: what datasets infers when every list is empty (a test set without answers).
  if (!text || !text->field->is_list() || !holds(*text->children[0].field, Holds::kStringsOrNull))
    fail(path, row, "answers",
         "expected a field text: list<string>, found " +
             (text ? text->field->type_name : std::string("none")));
  if (!start || !start->field->is_list() ||
      !(start->children[0].field->type == ArrowType::kInt ||
        start->children[0].field->is_null_type()))
    fail(path, row, "answers",
         "expected a field answer_start: list<int>, found " +
             (start ? start->field->type_name : std::string("none")));
  *out += "{\"text\": [";
  const auto [text_begin, text_end] = text->list_range(at);
  for (int64_t i = text_begin; i < text_end; ++i) {
    if (i > text_begin) *out += ", ";
    append_string(text->children[0], i, path, row, "answers.text", out);
  }
  *out += "], \"answer_start\": [";
  const auto [start_begin, start_end] = start->list_range(at);
  const ArrowArray& starts = start->children[0];
  for (int64_t i = start_begin; i < start_end; ++i) {
    if (i > start_begin) *out += ", ";
    *out += starts.is_null(i) ? "null" : integer_text(starts, i);
  }
  *out += "]}";
}

}  // namespace

std::string arrow_shard_name(const std::string& prefix, int64_t index, int64_t count) {
  char suffix[64];
  std::snprintf(suffix, sizeof suffix, "-%05lld-of-%05lld.arrow", static_cast<long long>(index),
                static_cast<long long>(count));
  return prefix + suffix;
}

std::vector<std::string> arrow_shard_paths(const std::string& path) {
  static const std::regex shard(R"((.*)-(\d{5})-of-(\d{5})\.arrow)");
  std::smatch match;
  if (!std::regex_match(path, match, shard)) return {path};
  const int count = std::stoi(match[3]);
  std::vector<std::string> paths;
  for (int i = 0; i < count; ++i) {
    paths.push_back(arrow_shard_name(match[1], i, count));
    if (!path_exists(paths.back()))
      throw_input_error(paths.back(), "",
                        "no such file: shard " + std::to_string(i) + " of the " +
                            std::to_string(count) + " of the split that " + path +
                            " belongs to (every shard of a split is read)");
  }
  return paths;
}

std::string squad_rows_json_from_arrow(const std::vector<std::string>& shard_paths,
                                       std::vector<RowSource>* sources) {
  std::string out = "{\"data\": [";
  int64_t row = 0;
  for (const std::string& path : shard_paths) {
    const ArrowTable table = ArrowTable::read(path);
    if (sources) sources->push_back(RowSource{static_cast<int32_t>(row), path});
    int64_t local = 0;  // the row within this file, for its messages
    for (const ArrowBatch& batch : table.batches()) {
      const ArrowArray* id =
          column_of(table, batch, "id", Holds::kStringsOrIntegers, /*required=*/true);
      const ArrowArray* title = column_of(table, batch, "title", Holds::kStringsOrNull, false);
      const ArrowArray* context = column_of(table, batch, "context", Holds::kStrings, true);
      const ArrowArray* question = column_of(table, batch, "question", Holds::kStrings, true);
      const ArrowArray* answers =
          column_of(table, batch, "answers", Holds::kStruct, /*required=*/false);
      for (int64_t i = 0; i < batch.rows; ++i, ++row, ++local) {
        out += row == 0 ? "\n{" : ",\n{";
        out += "\"id\": ";
        append_string(*id, i, path, local, "id", &out);
        if (title) {
          out += ", \"title\": ";
          append_string(*title, i, path, local, "title", &out);
        }
        out += ", \"context\": ";
        append_string(*context, i, path, local, "context", &out);
        out += ", \"question\": ";
        append_string(*question, i, path, local, "question", &out);
        if (answers) {
          out += ", \"answers\": ";
          append_answers(*answers, i, path, local, &out);
        }
        out += "}";
      }
    }
  }
  return out + "\n]}\n";
}

}  // namespace bert
