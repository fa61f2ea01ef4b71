// Apache Arrow IPC, as far as Hugging Face datasets' cache files need it: the streaming format
// (what datasets' ArrowWriter writes: a Schema message, RecordBatch messages, end-of-stream;
// also the file format, whose magic and footer frame the same stream), uncompressed, without
// dictionaries, with columns of strings (Utf8, LargeUtf8), integers, lists and structs. Other
// column types are walked past (their buffers counted) so that the columns asked for can be
// read; asking for one of them is refused. Every offset, length and buffer is bounds-checked:
// a damaged file is an InputError naming the file, the message and the column, never a read
// outside it. The flatbuffer metadata is read by hand (Arrow's format/Message.fbs and
// Schema.fbs), so nothing beyond the standard library is needed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace bert {

enum class ArrowType { kUtf8, kLargeUtf8, kInt, kList, kLargeList, kStruct, kOther };

struct ArrowField {
  std::string name;
  ArrowType type = ArrowType::kOther;
  std::string type_name;  // Arrow's name of the type, for messages ("Utf8", "FloatingPoint", ...)
  int32_t int_bits = 0;   // kInt: 8, 16, 32 or 64
  bool int_signed = true;
  std::vector<ArrowField> children;  // kList / kLargeList: one; kStruct: its fields

  bool is_string() const { return type == ArrowType::kUtf8 || type == ArrowType::kLargeUtf8; }
  bool is_list() const { return type == ArrowType::kList || type == ArrowType::kLargeList; }
  bool is_null_type() const { return type_name == "Null"; }  // no buffers: every value null
  // Offsets of 64 bits (LargeUtf8, LargeList) rather than 32.
  bool large_offsets() const { return type == ArrowType::kLargeUtf8 || type == ArrowType::kLargeList; }
};

// One column of one record batch: its field, rows and buffers (views into the file's bytes).
struct ArrowArray {
  const ArrowField* field = nullptr;
  int64_t length = 0, null_count = 0;
  std::string_view validity, offsets, values;  // as the type has them (absent: empty)
  std::vector<ArrowArray> children;

  bool is_null(int64_t row) const;
  // kUtf8 / kLargeUtf8: the row's bytes (not checked to be UTF-8).
  std::string_view string_at(int64_t row) const;
  // kInt.
  int64_t int_at(int64_t row) const;
  // kList / kLargeList: the row's elements, as [begin, end) of children[0].
  std::pair<int64_t, int64_t> list_range(int64_t row) const;
  // kStruct: the child named `name`, or nullptr.
  const ArrowArray* child(std::string_view name) const;
};

struct ArrowBatch {
  int64_t rows = 0;
  std::vector<ArrowArray> columns;  // one per schema field
};

// The whole stream: its schema and record batches, with the file's bytes they view.
class ArrowTable {
 public:
  // Reads `path` (InputError naming it for anything it cannot read).
  static ArrowTable read(const std::string& path);
  // The same from bytes in memory (tests, fuzzing); `path` only names them in messages.
  static ArrowTable parse(std::string bytes, const std::string& path);

  const std::string& path() const { return path_; }
  const std::vector<ArrowField>& fields() const { return *fields_; }
  const std::vector<ArrowBatch>& batches() const { return batches_; }
  int64_t rows() const;
  // The index of the top-level column `name`, or -1.
  int column(std::string_view name) const;

 private:
  std::string path_;
  std::shared_ptr<const std::string> bytes_;  // the arrays view these
  std::shared_ptr<std::vector<ArrowField>> fields_;  // stable addresses for ArrowArray::field
  std::vector<ArrowBatch> batches_;
};

// Whether the bytes start like an Arrow IPC stream (0xFFFFFFFF continuation) or file ("ARROW1").
bool looks_like_arrow_ipc(std::string_view bytes);

}  // namespace bert
