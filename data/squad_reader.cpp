// read_squad: simdjson DOM parse of a SQuAD v1.1 / v2.0 file, then a walk that checks every
// field the windows and the metric rely on. Errors name the file, the JSON path
// (data[3].paragraphs[0].qas[2].answers[0].answer_start) and what was expected; syntax and
// UTF-8 errors name a byte offset (found by data/json_diagnose.h, since simdjson doesn't).
#include <simdjson.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <limits>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/file_io.h"
#include "core/json_text.h"
#include "core/strings.h"
#include "data/arrow_ipc.h"
#include "data/json_diagnose.h"
#include "data/squad.h"
#include "data/squad_arrow.h"

namespace bert {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

// The file's JSON text; for a Hugging Face datasets cache file (Arrow, told by its first bytes,
// so that only the Arrow reader reads it whole) its rows as the rows layout below reads them.
simdjson::padded_string load_squad_text(const std::string& path, std::vector<RowSource>* sources) {
  const InputFile file = InputFile::open(path);  // a regular file that fits in memory
  char head[8] = {};
  const size_t head_bytes = std::min<size_t>(sizeof head, file.size());
  file.read_into(head, head_bytes);
  // A ".arrow" file that does not start like one (empty, cut short) is a damaged Arrow file, and
  // the Arrow reader says so, rather than a JSON file to be parsed.
  if (looks_like_arrow_ipc(std::string_view(head, head_bytes)) || ends_with(path, ".arrow"))
    return simdjson::padded_string(squad_rows_json_from_arrow(arrow_shard_paths(path), sources));
  simdjson::padded_string text(static_cast<size_t>(file.size()));
  file.read_into(text.data(), text.size());
  return text;
}

[[noreturn]] void throw_parse_error(const std::string& path, std::string_view text,
                                    simdjson::error_code code) {
  // Files of other kinds, told by their first bytes before any JSON position is looked for.
  if (text.substr(0, 2) == "\x1f\x8b")
    throw_input_error(path, "byte 0",
                      "a gzip-compressed file (it starts with gzip's 1F 8B): decompress it first "
                      "(gunzip -k), then pass the .json or .jsonl");
  // The Hub keeps SQuAD as Parquet, which run_qa's load_dataset reads; here it is converted
  // once, as a local dataset folder is (hf_datasets_cache.cpp).
  // (a cut download of a .parquet file may have lost the closing PAR1)
  if (text.substr(0, 4) == "PAR1" &&
      (ends_with(path, ".parquet") || (text.size() >= 8 && text.substr(text.size() - 4) == "PAR1")))
    throw_input_error(path, "byte 0",
                      "a Parquet file (it starts with PAR1), not JSON: SQuAD files are read as "
                      "JSON or JSON Lines (SQuAD's layout or datasets' rows); convert it once with "
                      "python -c \"import datasets; datasets.load_dataset('parquet', data_files='" +
                          path + "')['train'].to_json('rows.jsonl')\"");
  // A table cannot hold SQuAD's nested answers (run_qa's load_dataset('csv', field='data')
  // fails on it too).
  const size_t first = text.find_first_not_of(" \t\r\n", starts_with_utf8_bom(text) ? 3 : 0);
  const bool json_like =
      first != std::string_view::npos && (text[first] == '{' || text[first] == '[');
  if (!json_like && (ends_with(path, ".csv") || ends_with(path, ".tsv")))
    throw_input_error(path, "",
                      "a CSV file, not JSON: SQuAD files are read as JSON or JSON Lines (SQuAD's "
                      "layout or datasets' rows, whose answers column is an object); a table's "
                      "answers column cannot hold that: export the data as JSON Lines (datasets' "
                      "Dataset.to_json) instead");
  if (text.substr(0, 8) == std::string_view("BERTWIN\0", 8))
    throw_input_error(path, "byte 0",
                      "a window cache written by prepare_squad --cache_file, not a SQuAD file: "
                      "pass it to train_squad with --train_cache_file, the SQuAD file with "
                      "--train_file");
  // What follows a byte-order mark is looked at first: its own error, when it has one, is the one
  // to fix (a mark before JSON Lines is dropped); the mark is named when the rest is well-formed.
  const size_t skip = starts_with_utf8_bom(text) ? 3 : 0;
  const std::string_view body = text.substr(skip);
  if (auto at = find_invalid_utf8(body))
    throw_input_error(path, describe_json_position(text, skip + *at),
                      "invalid UTF-8 (expected a UTF-8 encoded JSON file)");
  if (auto problem = find_json_syntax_error(body))
    throw_input_error(path, describe_json_position(text, skip + problem->offset),
                      "malformed JSON: " + problem->expected);
  if (skip > 0) throw_input_error(path, "byte 0", kUtf8BomMessage);
  throw_input_error(path, "", std::string("malformed JSON: ") + simdjson::error_message(code));
}

// Position in the file's tree; the path string is only built when something is wrong. A
// Hugging Face datasets row is data[row] (or line row + 1 of a JSON Lines file), its answers
// answers.text[i] and answers.answer_start[i].
struct Where {
  int article = -1, paragraph = -1, qa = -1, answer = -1;
  int row = -1;
  bool json_line = false;
  bool in_answers = false;  // a row's "answers" object (its fields' paths are answers.<field>)
  const std::vector<RowSource>* sources = nullptr;  // Arrow input: the shard of each row
  std::string path(std::string_view field = {}) const {
    if (row >= 0) return row_path(field);
    std::string out = "data";
    if (article >= 0) out += "[" + std::to_string(article) + "]";
    if (paragraph >= 0) out += ".paragraphs[" + std::to_string(paragraph) + "]";
    if (qa >= 0) out += ".qas[" + std::to_string(qa) + "]";
    if (answer >= 0) out += ".answers[" + std::to_string(answer) + "]";
    if (!field.empty()) (out += ".") += field;
    return out;
  }
  std::string row_path(std::string_view field) const {
    const std::string out =
        row_location(row, json_line, sources ? *sources : std::vector<RowSource>());
    std::string member(field);
    if (answer >= 0)
      member = "answers." + member + "[" + std::to_string(answer) + "]";
    else if (in_answers)
      member = member.empty() ? "answers" : "answers." + member;
    if (member.empty()) return out;
    return out + (json_line || sources ? ": " : ".") + member;
  }
};

// Unchecked conversions for values whose type() was checked already.
array as_array(element value) {
  array out;
  BERT_CHECK(value.get_array().get(out) == simdjson::SUCCESS, "type checked before");
  return out;
}
object as_object(element value) {
  object out;
  BERT_CHECK(value.get_object().get(out) == simdjson::SUCCESS, "type checked before");
  return out;
}
std::string_view as_string(element value) {
  std::string_view out;
  BERT_CHECK(value.get_string().get(out) == simdjson::SUCCESS, "type checked before");
  return out;
}

const char* type_name(simdjson::dom::element_type type) {
  using T = simdjson::dom::element_type;
  switch (type) {
    case T::ARRAY: return "an array";
    case T::OBJECT: return "an object";
    case T::INT64:
    case T::UINT64: return "an integer";
    case T::DOUBLE: return "a non-integer number";
    case T::STRING: return "a string";
    case T::BOOL: return "a boolean";
    case T::NULL_VALUE: return "null";
  }
  return "an unknown value";
}

// Open-addressing set of question ids (views into the parser's strings) that remembers where
// each was first seen; node-based std::unordered_map cost more than the whole parse.
class IdTable {
 public:
  explicit IdTable(size_t expected) {
    size_t capacity = 64;
    while (capacity < 2 * expected) capacity *= 2;
    slots_.assign(capacity, kEmpty);
  }
  // Inserts id (appending where to *places); returns the index of an earlier equal id, or -1.
  template <typename Where>
  long insert(std::string_view id, const Where& where, std::vector<Where>* places) {
    if (2 * (ids_.size() + 1) > slots_.size()) grow();
    size_t slot = hash(id) & (slots_.size() - 1);
    for (; slots_[slot] != kEmpty; slot = (slot + 1) & (slots_.size() - 1))
      if (ids_[slots_[slot]] == id) return static_cast<long>(slots_[slot]);
    slots_[slot] = static_cast<uint32_t>(ids_.size());
    ids_.push_back(id);
    places->push_back(where);
    return -1;
  }

 private:
  static constexpr uint32_t kEmpty = 0xFFFFFFFFu;
  static uint64_t hash(std::string_view id) {
    uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a
    for (char c : id) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
    return h ^ (h >> 31);
  }
  void grow() {
    slots_.assign(slots_.size() * 2, kEmpty);
    for (uint32_t i = 0; i < ids_.size(); ++i) {
      size_t slot = hash(ids_[i]) & (slots_.size() - 1);
      while (slots_[slot] != kEmpty) slot = (slot + 1) & (slots_.size() - 1);
      slots_[slot] = i;
    }
  }
  std::vector<uint32_t> slots_;
  std::vector<std::string_view> ids_;
};

class SquadWalker {
 public:
  // file_bytes sizes the tables up front: SQuAD files hold about one question per 450 bytes.
  SquadWalker(const std::string& path, size_t file_bytes, SquadDataset& out, AnswerStarts starts)
      : path_(path), out_(out), starts_(starts), ids_(file_bytes / 256 + 16) {
    out_.examples.reserve(file_bytes / 256 + 16);
  }

  void walk_root(element root) {
    if (!root.is_object()) fail("", "expected a JSON object at the top level, found " + found(root));
    object top = as_object(root);
    check_unique_keys(top, Where{}, /*top_level=*/true);
    element version;
    if (top["version"].get(version) == simdjson::SUCCESS) {
      if (!version.is_string()) fail("version", "expected a string, found " + found(version));
      out_.version = std::string(as_string(version));
    }
    element data;
    if (top["data"].get(data) != simdjson::SUCCESS) fail("", "missing field \"data\" (an array of articles)");
    if (!data.is_array()) fail("data", "expected an array of articles, found " + found(data));
    const array items = as_array(data);
    Where where;
    if (!out_.row_sources.empty()) where.sources = &out_.row_sources;
    if (holds_rows(items)) {
      for (element row : items) {
        ++where.row;
        walk_row(row, where);
      }
    } else {
      for (element article : items) {
        ++where.article;
        walk_article(article, where);
      }
    }
    if (out_.examples.empty()) fail("data", "expected at least one question, found none");
  }

  // One line of a JSON Lines file: a Hugging Face datasets row (`line` counts from 0).
  void walk_line(element row, int line) {
    Where where;
    where.row = line;
    where.json_line = true;
    walk_row(row, where);
  }
  void finish_lines() const {
    if (out_.examples.empty()) fail("", "expected at least one question (one JSON object per line), found none");
  }

  // A lone row, the whole of a one-line JSON Lines file: an object with "question" and no "data".
  static bool is_lone_row(element root) {
    element ignored;
    return root.is_object() && as_object(root)["data"].get(ignored) != simdjson::SUCCESS &&
           as_object(root)["question"].get(ignored) == simdjson::SUCCESS;
  }

 private:
  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    throw_input_error(path_, where, what);
  }
  static std::string found(element value) { return type_name(value.type()); }

  // The member `name` of obj, required to have the given type.
  element field(object obj, const Where& where, const char* name, simdjson::dom::element_type type,
                const char* expected) const {
    element value;
    if (obj[name].get(value) != simdjson::SUCCESS)
      fail(where.path(), std::string("missing field \"") + name + "\" (expected " + expected + ")");
    const auto actual = value.type();
    const bool integer_ok = type == simdjson::dom::element_type::INT64 &&
                            actual == simdjson::dom::element_type::UINT64;
    if (actual != type && !integer_ok)
      fail(where.path(name), std::string("expected ") + expected + ", found " + found(value));
    return value;
  }
  object field_object(element value, const Where& where, const char* what) const {
    if (!value.is_object()) fail(where.path(), std::string("expected ") + what + ", found " + found(value));
    const object out = as_object(value);
    check_unique_keys(out, where);
    return out;
  }
  // A key given twice: Python's json (the official evaluation script, datasets) keeps its last
  // value, and this reader would see its first, so the two would read different data.
  void check_unique_keys(object obj, const Where& where, bool top_level = false) const {
    constexpr size_t kChecked = 16;  // SQuAD objects have a handful of keys
    std::string_view seen[kChecked];
    size_t count = 0;
    for (const simdjson::dom::key_value_pair field : obj) {
      for (size_t i = 0; i < count; ++i)
        if (seen[i] == field.key)
          fail(top_level ? std::string(field.key) : where.path(field.key),
               "duplicate key (JSON readers disagree on which value counts)");
      if (count < kChecked) seen[count++] = field.key;
    }
  }
  array field_array(object obj, const Where& where, const char* name, const char* expected) const {
    return as_array(field(obj, where, name, simdjson::dom::element_type::ARRAY, expected));
  }
  std::string_view field_string(object obj, const Where& where, const char* name) const {
    return as_string(field(obj, where, name, simdjson::dom::element_type::STRING, "a string"));
  }

  // "title": optional, and null is no title (datasets writes null for a missing one; run_qa.py
  // never reads it).
  std::string_view optional_title(object obj, const Where& where) const {
    element value;
    if (obj["title"].get(value) != simdjson::SUCCESS || value.is_null()) return {};
    return field_string(obj, where, "title");
  }

  void walk_article(element value, Where where) {
    object article = field_object(value, where, "an article object with \"title\" and \"paragraphs\"");
    optional_title(article, where);
    array paragraphs = field_array(article, where, "paragraphs", "an array of paragraphs");
    for (element paragraph : paragraphs) {
      ++where.paragraph;
      walk_paragraph(paragraph, where);
    }
  }

  void walk_paragraph(element value, Where where) {
    object paragraph = field_object(value, where, "a paragraph object with \"context\" and \"qas\"");
    const std::string_view context = field_string(paragraph, where, "context");
    check_context(context, where);
    index_code_points(context);
    array qas = field_array(paragraph, where, "qas", "an array of questions");
    for (element qa : qas) {
      ++where.qa;
      walk_question(qa, context, where);
    }
  }

  void walk_question(element value, std::string_view context, Where where) {
    object qa = field_object(value, where, "a question object with \"id\", \"question\", \"answers\"");
    SquadExample example;
    read_id_and_question(qa, where, &example);
    element impossible;
    if (qa["is_impossible"].get(impossible) == simdjson::SUCCESS) {
      if (!impossible.is_bool()) fail(where.path("is_impossible"), "expected a boolean, found " + found(impossible));
      BERT_CHECK(impossible.get_bool().get(example.is_impossible) == simdjson::SUCCESS, "type checked before");
    }
    array answers = field_array(qa, where, "answers", "an array of answers");
    example.answers.reserve(answers.size());
    for (element answer : answers) {
      ++where.answer;
      example.answers.push_back(read_answer(answer, context, where));
    }
    example.context = std::string(context);
    example.article = where.article;
    example.paragraph = where.paragraph;
    out_.examples.push_back(std::move(example));
  }

  // Hugging Face datasets' flat layout (what run_qa.py's --train_file holds under "data", and
  // what Dataset.to_json writes one per line): data[0] names a "context" instead of "paragraphs".
  static bool holds_rows(const array& items) {
    element ignored;
    for (element first : items)
      return first.is_object() && as_object(first)["paragraphs"].get(ignored) != simdjson::SUCCESS &&
             as_object(first)["context"].get(ignored) == simdjson::SUCCESS;
    return false;
  }

  // {"id", "title" (optional), "context", "question", "answers": {"text": [...], "answer_start": [...]}};
  // no answers is an unanswerable question (SQuAD v2.0's is_impossible).
  void walk_row(element value, Where where) {
    object row = field_object(value, where, "a row object with \"id\", \"context\", \"question\", \"answers\"");
    const std::string_view context = row_context(row, where);
    SquadExample example;
    read_id_and_question(row, where, &example);
    const object answers = as_object(field(row, where, "answers", simdjson::dom::element_type::OBJECT,
                                           "an object {\"text\": [...], \"answer_start\": [...]}"));
    check_unique_keys(answers, where);
    Where in_answers = where;
    in_answers.in_answers = true;
    const array texts = field_array(answers, in_answers, "text", "an array of answer texts");
    const array starts =
        field_array(answers, in_answers, "answer_start", "an array of answer starts");
    if (texts.size() != starts.size())
      fail(where.path("answers"), "expected as many answer_start values (" + std::to_string(starts.size()) +
                                      ") as texts (" + std::to_string(texts.size()) + ")");
    auto start = starts.begin();
    for (element text : texts) {
      ++in_answers.answer;
      if (!text.is_string()) fail(in_answers.path("text"), "expected a string, found " + found(text));
      example.answers.push_back(check_answer(as_string(text), *start, context, in_answers));
      ++start;
    }
    example.is_impossible = example.answers.empty();
    example.context = std::string(context);
    example.article = rows_article_;
    example.paragraph = rows_paragraph_;
    example.row = where.row;
    example.json_line = where.json_line;
    out_.examples.push_back(std::move(example));
  }

  // The row's context, indexed; articles and paragraphs counted as the title and the context change.
  std::string_view row_context(object row, const Where& where) {
    const std::string_view title = optional_title(row, where);
    const std::string_view context = field_string(row, where, "context");
    check_context(context, where);
    if (out_.examples.empty() || title != rows_title_) {
      rows_article_ += out_.examples.empty() ? 0 : 1;
      rows_paragraph_ = 0;
      rows_title_ = std::string(title);
    } else if (context != out_.examples.back().context) {
      ++rows_paragraph_;
    }
    index_code_points(context);
    return context;
  }

  void check_context(std::string_view context, const Where& where) const {
    if (context.empty()) fail(where.path("context"), "expected a non-empty context");
    if (context.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max()))
      fail(where.path("context"), "expected a context of at most 2^31 - 1 bytes, found " +
                                      std::to_string(context.size()));
  }

  SquadAnswer read_answer(element value, std::string_view context, const Where& where) const {
    object answer = field_object(value, where, "an answer object with \"text\" and \"answer_start\"");
    const std::string_view text = field_string(answer, where, "text");
    element start_value;
    if (answer["answer_start"].get(start_value) != simdjson::SUCCESS) {
      if (text.empty() &&
          starts_ == AnswerStarts::kMayMismatch)  // kMustMatch names the start first
        fail(where.path("text"), "expected a non-empty answer text");
      return mismatched(
          text, where.path(),
          "missing field \"answer_start\" (expected an integer code-point offset into the "
          "context)");
    }
    return check_answer(text, start_value, context, where);
  }

  // A question's id (non-empty, unique in the file) and text, in either layout. An integer id
  // is its decimal digits, as run_qa.py keys its predictions (str(id)).
  void read_id_and_question(object question, const Where& where, SquadExample* example) {
    element id_value;
    std::string_view id;
    const bool integer = question["id"].get(id_value) == simdjson::SUCCESS &&
                         (id_value.type() == simdjson::dom::element_type::INT64 ||
                          id_value.type() == simdjson::dom::element_type::UINT64);
    if (integer) {
      id = owned_ids_.emplace_back(simdjson::minify(id_value));
    } else {
      id = field_string(question, where, "id");
      // A JSON Lines file is parsed line by line, so the table keeps its own copy of each id.
      if (where.json_line) id = owned_ids_.emplace_back(id);
    }
    if (id.empty()) fail(where.path("id"), "expected a non-empty question id");
    const long seen = ids_.insert(id, where, &id_places_);
    if (seen >= 0)
      fail(where.path("id"), "duplicate question id \"" + std::string(id) + "\" (first used at " +
                                 id_places_[seen].path() + "), expected unique ids");
    example->id = std::string(id);
    // An empty question is kept, as run_qa.py keeps it: [CLS] [SEP] context [SEP].
    example->question = std::string(field_string(question, where, "question"));
  }

  // An answer's text and start, which must find the text in the context.
  SquadAnswer check_answer(std::string_view text, element start_value, std::string_view context,
                           const Where& where) const {
    if (text.empty()) fail(where.path("text"), "expected a non-empty answer text");
    const auto type = start_value.type();
    double whole = 0;  // 12.0, as files exported through pandas write it, is 12
    const bool integral_double = type == simdjson::dom::element_type::DOUBLE &&
                                 start_value.get_double().get(whole) == simdjson::SUCCESS &&
                                 whole >= 0 && whole < 9.0e15 && whole == std::floor(whole);
    if (integral_double) {
      return check_answer_at(text, static_cast<int64_t>(whole), context, where);
    }
    if (type != simdjson::dom::element_type::INT64 && type != simdjson::dom::element_type::UINT64)
      return mismatched(
          text, where.path("answer_start"),
          "expected an integer code-point offset into the context, found " + found(start_value));
    int64_t start = 0;
    if (type == simdjson::dom::element_type::UINT64)  // above INT64_MAX: past any context
      return mismatched(text, where.path("answer_start"),
                        "answer_start " + simdjson::minify(start_value) +
                            " exceeds the context's " + std::to_string(context_code_points_) +
                            " code points");
    if (start_value.get_int64().get(start) != simdjson::SUCCESS || start < 0)
      return mismatched(text, where.path("answer_start"),
                        "expected a non-negative integer, found " + simdjson::minify(start_value));
    return check_answer_at(text, start, context, where);
  }

  SquadAnswer check_answer_at(std::string_view text, int64_t start, std::string_view context,
                              const Where& where) const {
    const int64_t context_length = context_code_points_;
    const int64_t text_length = code_point_count(text);
    // Compared without forming start + text_length, which overflows for a start near INT64_MAX.
    if (text_length > context_length || start > context_length - text_length)
      return mismatched(text, where.path("answer_start"),
                        "answer_start " + std::to_string(start) + " + answer length " +
                            std::to_string(text_length) + " exceeds the context's " +
                            std::to_string(context_length) + " code points");
    const size_t begin = byte_of_code_point(start);
    const size_t end = byte_of_code_point(start + text_length);
    const std::string_view slice = context.substr(begin, end - begin);
    if (slice != text)
      return mismatched(text, where.path("text"),
                        "expected the answer text to equal the context at answer_start " +
                            std::to_string(start) + ": text is \"" + std::string(text) +
                            "\", context has \"" + std::string(slice) + "\"");
    return SquadAnswer{std::string(text), static_cast<int32_t>(start)};
  }

  // An answer that is not the context at its start: an error, or (kMayMismatch) counted and
  // kept with start -1.
  SquadAnswer mismatched(std::string_view text, const std::string& where,
                         const std::string& what) const {
    if (starts_ == AnswerStarts::kMustMatch) fail(where, what);
    if (out_.mismatched_answers++ == 0)
      out_.first_mismatched_answer = path_ + ": " + where + ": " + what;
    return SquadAnswer{std::string(text), -1};
  }

  // simdjson has validated the UTF-8, so every byte that is not 10xxxxxx starts a code point.
  static int64_t code_point_count(std::string_view text) {
    int64_t count = 0;
    for (char c : text) count += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    return count;
  }
  // Most contexts are ASCII, where code points are bytes; only the others get an index.
  void index_code_points(std::string_view context) {
    unsigned char any_high = 0;  // OR of all bytes: a loop the compiler vectorises
    for (char c : context) any_high |= static_cast<unsigned char>(c);
    context_ascii_ = any_high < 0x80;
    context_code_points_ = static_cast<int64_t>(context.size());
    if (context_ascii_) return;
    byte_of_code_point_.clear();
    for (size_t i = 0; i < context.size(); ++i)
      if ((static_cast<unsigned char>(context[i]) & 0xC0) != 0x80) byte_of_code_point_.push_back(i);
    context_code_points_ = static_cast<int64_t>(byte_of_code_point_.size());
    byte_of_code_point_.push_back(context.size());
  }
  size_t byte_of_code_point(int64_t index) const {
    return context_ascii_ ? static_cast<size_t>(index) : byte_of_code_point_[index];
  }

  const std::string& path_;
  SquadDataset& out_;
  AnswerStarts starts_;
  IdTable ids_;
  std::vector<Where> id_places_;  // where each id in ids_ was first seen
  std::deque<std::string> owned_ids_;  // JSON Lines: the ids ids_ views (a deque never moves them)
  // Rows: the article (title) and paragraph (context) of the last row.
  std::string rows_title_;
  int32_t rows_article_ = 0, rows_paragraph_ = 0;
  // The current context: its length in code points, and (when not ASCII) the byte offset of
  // every code point plus its end.
  bool context_ascii_ = true;
  int64_t context_code_points_ = 0;
  std::vector<size_t> byte_of_code_point_;
};

// A JSON Lines file (Dataset.to_json's output): the whole text is not one JSON document, but
// its first non-blank line is an object on its own, and not a whole SQuAD file (one with
// "data": a one-line file followed by something else is that file with trailing garbage).
bool looks_like_json_lines(std::string_view text, size_t start = 0) {
  const size_t begin = text.find_first_not_of(" \t\r\n", start);
  if (begin == std::string_view::npos) return false;
  const size_t end = std::min(text.find('\n', begin), text.size());
  simdjson::dom::parser parser;
  element line, data;
  return parser.parse(text.data() + begin, end - begin, true).get(line) == simdjson::SUCCESS &&
         line.is_object() && as_object(line)["data"].get(data) != simdjson::SUCCESS;
}

// A line that is not a JSON object: the position in the whole file.
[[noreturn]] void throw_line_parse_error(const std::string& path, std::string_view text, size_t line_begin,
                                         std::string_view line, simdjson::error_code code) {
  if (auto at = find_invalid_utf8(line))
    throw_input_error(path, describe_json_position(text, line_begin + *at),
                      "invalid UTF-8 (expected a UTF-8 encoded JSON Lines file)");
  if (auto problem = find_json_syntax_error(line))
    throw_input_error(path, describe_json_position(text, line_begin + problem->offset),
                      "malformed JSON: " + problem->expected + " (a JSON Lines file holds one JSON object per line)");
  throw_input_error(path, describe_json_position(text, line_begin),
                    std::string("malformed JSON: ") + simdjson::error_message(code));
}

// `start`: where the first line begins (after a byte-order mark, which datasets' JSON Lines reader
// drops too); positions in messages still count from the file's first byte.
void read_json_lines(const std::string& path, std::string_view text, SquadDataset& dataset,
                     AnswerStarts starts, size_t start = 0) {
  SquadWalker walker(path, text.size(), dataset, starts);
  simdjson::dom::parser parser;
  int line_index = 0;
  for (size_t begin = start; begin < text.size(); ++line_index) {
    const size_t newline = text.find('\n', begin);
    const size_t end = newline == std::string_view::npos ? text.size() : newline;
    const std::string_view line = text.substr(begin, end - begin);
    const size_t line_begin = begin;
    begin = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;  // blank
    if (line_index == std::numeric_limits<int>::max()) throw_input_error(path, "", "more lines than 2^31 - 1");
    element row;
    const simdjson::error_code code = parser.parse(line.data(), line.size(), true).get(row);
    if (code != simdjson::SUCCESS) throw_line_parse_error(path, text, line_begin, line, code);
    walker.walk_line(row, line_index);
  }
  walker.finish_lines();
}

}  // namespace

std::string row_location(int32_t row, bool json_line, const std::vector<RowSource>& sources) {
  if (!sources.empty()) {
    auto source = std::upper_bound(sources.begin(), sources.end(), row,
                                   [](int32_t r, const RowSource& s) { return r < s.first_row; });
    if (source != sources.begin()) --source;
    const std::string local = "row " + std::to_string(row - source->first_row);
    if (sources.size() == 1) return local;  // the file the message names
    return source->path.substr(source->path.find_last_of('/') + 1) + " " + local;
  }
  return json_line ? "line " + std::to_string(row + 1) : "data[" + std::to_string(row) + "]";
}

SquadDataset read_squad(const std::string& path, AnswerStarts starts) {
  std::vector<RowSource> row_sources;
  const simdjson::padded_string text = load_squad_text(path, &row_sources);
  const std::string_view all(text.data(), text.size());
  simdjson::dom::parser parser;
  element root;
  const simdjson::error_code code = parser.parse(text).get(root);
  SquadDataset dataset;
  dataset.path = path;
  dataset.row_sources = std::move(row_sources);
  if (code != simdjson::SUCCESS) {
    // A byte-order mark before JSON Lines is dropped, as datasets' json reader drops it there;
    // before a whole JSON document (which datasets refuses as well) it is an error.
    const size_t start = starts_with_utf8_bom(all) ? 3 : 0;
    if (!looks_like_json_lines(all, start)) throw_parse_error(path, all, code);
    read_json_lines(path, all, dataset, starts, start);
    return dataset;
  }
  SquadWalker walker(path, text.size(), dataset, starts);
  if (SquadWalker::is_lone_row(root)) {  // a JSON Lines file of one line (after blank ones, perhaps)
    const size_t begin = all.find_first_not_of(" \t\r\n");
    walker.walk_line(root, int(std::count(all.begin(), all.begin() + begin, '\n')));
    walker.finish_lines();
    return dataset;
  }
  walker.walk_root(root);
  return dataset;
}

}  // namespace bert
