#include "data/arrow_ipc.h"

#include <algorithm>
#include <iterator>
#include <limits>

#include "core/bytes.h"
#include "core/error.h"
#include "core/file_io.h"

namespace bert {
namespace {

// Message.fbs: MessageHeader union; Schema.fbs: Type union.
enum MessageHeader : uint8_t { kSchema = 1, kDictionaryBatch = 2, kRecordBatch = 3 };
enum TypeId : uint8_t {
  kNullType = 1, kIntType = 2, kFloatingPoint = 3, kBinary = 4, kUtf8Type = 5, kBool = 6, kDecimal = 7,
  kDate = 8, kTime = 9, kTimestamp = 10, kInterval = 11, kListType = 12, kStructType = 13, kUnion = 14,
  kFixedSizeBinary = 15, kFixedSizeList = 16, kMap = 17, kDuration = 18, kLargeBinary = 19,
  kLargeUtf8Type = 20, kLargeListType = 21,
};
constexpr const char* kTypeNames[] = {"NONE", "Null", "Int", "FloatingPoint", "Binary", "Utf8", "Bool",
                                      "Decimal", "Date", "Time", "Timestamp", "Interval", "List", "Struct",
                                      "Union", "FixedSizeBinary", "FixedSizeList", "Map", "Duration",
                                      "LargeBinary", "LargeUtf8", "LargeList", "RunEndEncoded", "BinaryView",
                                      "Utf8View", "ListView", "LargeListView"};
constexpr int kMaxNesting = 32;

size_t offset_bytes(const ArrowField& f) { return f.large_offsets() ? 8 : 4; }
// Entry i of an array's offsets buffer (its length checked when the batch was read).
int64_t offset_at(const ArrowArray& a, int64_t i) {
  const size_t bytes = offset_bytes(*a.field);
  const uint64_t raw = load_little_endian(a.offsets.data() + bytes * size_t(i), bytes);
  return bytes == 4 ? int64_t(int32_t(raw)) : int64_t(raw);
}

// A flatbuffer table inside `data` (the metadata of one message): every read is bounds-checked.
class FlatTable {
 public:
  FlatTable(std::string_view data, size_t pos, const std::string* path) : data_(data), pos_(pos), path_(path) {
    const int64_t vtable = int64_t(pos) - int64_t(int32_t(u32(pos)));
    if (vtable < 0 || size_t(vtable) + 4 > data_.size()) bad("a table's vtable lies outside the metadata");
    vtable_ = size_t(vtable);
    vtable_size_ = u16(vtable_);
    if (vtable_size_ < 4 || vtable_ + vtable_size_ > data_.size()) bad("a vtable runs past the metadata");
  }
  bool has(int slot) const { return field_offset(slot) != 0; }
  uint64_t scalar(int slot, size_t bytes, uint64_t fallback) const {
    const size_t offset = field_offset(slot);
    return offset == 0 ? fallback : read(pos_ + offset, bytes);
  }
  FlatTable table(int slot) const { return FlatTable(data_, target(slot), path_); }
  std::string_view string(int slot) const {
    if (!has(slot)) return {};
    const size_t at = target(slot);
    const size_t length = u32(at);
    if (at + 4 + length > data_.size()) bad("a string runs past the metadata");
    return data_.substr(at + 4, length);
  }
  // A vector of tables, or of structs of `struct_bytes` each: (start, count).
  std::pair<size_t, size_t> vector(int slot, size_t element_bytes) const {
    if (!has(slot)) return {0, 0};
    const size_t at = target(slot);
    const size_t count = u32(at);
    if (count > (data_.size() - at - 4) / std::max<size_t>(1, element_bytes)) bad("a vector runs past the metadata");
    return {at + 4, count};
  }
  FlatTable table_at(size_t element) const { return FlatTable(data_, element + u32(element), path_); }
  uint64_t read(size_t at, size_t bytes) const {
    if (at + bytes > data_.size() || at + bytes < at) bad("a field lies outside the metadata");
    return load_little_endian(data_.data() + at, bytes);
  }

 private:
  size_t field_offset(int slot) const {
    const size_t entry = 4 + 2 * size_t(slot);
    return entry + 2 > vtable_size_ ? 0 : u16(vtable_ + entry);
  }
  size_t target(int slot) const {
    const size_t at = pos_ + field_offset(slot);
    const size_t to = at + u32(at);
    if (to >= data_.size()) bad("an offset points outside the metadata");
    return to;
  }
  uint32_t u32(size_t at) const { return uint32_t(read(at, 4)); }
  uint16_t u16(size_t at) const { return uint16_t(read(at, 2)); }
  [[noreturn]] void bad(const std::string& what) const { throw_input_error(*path_, "", "damaged Arrow metadata: " + what); }

  std::string_view data_;
  size_t pos_ = 0, vtable_ = 0, vtable_size_ = 0;
  const std::string* path_;
};

ArrowField read_field(const FlatTable& table, int depth, const std::string& path) {
  if (depth > kMaxNesting) throw_input_error(path, "", "Arrow schema nested deeper than " + std::to_string(kMaxNesting));
  ArrowField field;
  field.name = std::string(table.string(0));
  const uint8_t type = uint8_t(table.scalar(2, 1, 0));
  field.type_name = type < std::size(kTypeNames) ? kTypeNames[type] : "type " + std::to_string(type);
  if (table.has(4))
    throw_input_error(path, field.name, "dictionary-encoded columns are not supported (datasets does not write them)");
  switch (type) {
    case kUtf8Type: field.type = ArrowType::kUtf8; break;
    case kLargeUtf8Type: field.type = ArrowType::kLargeUtf8; break;
    case kListType: field.type = ArrowType::kList; break;
    case kLargeListType: field.type = ArrowType::kLargeList; break;
    case kStructType: field.type = ArrowType::kStruct; break;
    case kIntType: {
      field.type = ArrowType::kInt;
      const FlatTable int_type = table.table(3);
      field.int_bits = int32_t(int_type.scalar(0, 4, 0));
      field.int_signed = int_type.scalar(1, 1, 0) != 0;
      if (field.int_bits != 8 && field.int_bits != 16 && field.int_bits != 32 && field.int_bits != 64)
        throw_input_error(path, field.name, "Int of " + std::to_string(field.int_bits) + " bits");
      break;
    }
    default: break;
  }
  const auto [children, count] = table.vector(5, 4);
  for (size_t i = 0; i < count; ++i) field.children.push_back(read_field(table.table_at(children + 4 * i), depth + 1, path));
  if (field.is_list() && field.children.size() != 1)
    throw_input_error(path, field.name, "a list column needs one child field, found " + std::to_string(field.children.size()));
  return field;
}

// How many buffers a column of this type has in a record batch (Arrow's columnar format), or
// -1 for layouts this reader cannot walk past.
int buffer_count(const std::string& type_name) {
  if (type_name == "Null") return 0;
  if (type_name == "Struct" || type_name == "FixedSizeList") return 1;
  if (type_name == "List" || type_name == "LargeList" || type_name == "Map") return 2;
  if (type_name == "Binary" || type_name == "Utf8" || type_name == "LargeBinary" || type_name == "LargeUtf8") return 3;
  for (const char* fixed : {"Int", "FloatingPoint", "Bool", "Decimal", "Date", "Time", "Timestamp", "Interval",
                            "FixedSizeBinary", "Duration"})
    if (type_name == fixed) return 2;
  return -1;
}

// Walks one record batch's field nodes and buffers in the schema's depth-first order.
class BatchReader {
 public:
  BatchReader(const FlatTable& batch, std::string_view body, const std::string& path, int64_t index)
      : batch_(batch), body_(body), path_(path), index_(index) {
    std::tie(nodes_, node_count_) = batch.vector(1, 16);
    std::tie(buffers_, buffer_count_) = batch.vector(2, 16);
  }
  ArrowArray array(const ArrowField& field, int64_t parent_rows) {
    ArrowArray a;
    a.field = &field;
    if (next_node_ >= node_count_) fail(field, "fewer field nodes than columns");
    a.length = int64_t(batch_.read(nodes_ + 16 * next_node_, 8));
    a.null_count = int64_t(batch_.read(nodes_ + 16 * next_node_ + 8, 8));
    ++next_node_;
    if (a.length < 0 || a.null_count < 0 || a.null_count > a.length) fail(field, "a negative or impossible length");
    if (parent_rows >= 0 && a.length != parent_rows) fail(field, "a struct child of another length than its parent");
    const int buffers = buffer_count(field.type_name);
    if (buffers < 0)
      throw_input_error(
          path_, "record batch " + std::to_string(index_) + ", column " + field.name,
          "a column of Arrow type " + field.type_name +
              ", which this reader does not read (datasets writes its string, list and "
              "number columns as Utf8/LargeUtf8, Struct, List/LargeList, Int and FloatingPoint)");
    std::string_view views[3];
    for (int i = 0; i < buffers; ++i) views[i] = buffer(field);
    a.validity = views[0];
    if (buffers == 3) a.offsets = views[1], a.values = views[2];
    if (buffers == 2 && field.is_list()) a.offsets = views[1];
    else if (buffers == 2) a.values = views[1];
    // A Null column has no buffers: every row is null without a bitmap.
    if (buffers > 0 && a.null_count > 0 && a.validity.size() * 8 < size_t(a.length))
      fail(field, "a validity bitmap shorter than the column");
    if ((field.is_string() || field.is_list()) && a.length > 0 && a.offsets.size() / offset_bytes(field) < size_t(a.length) + 1)
      fail(field, "an offsets buffer shorter than the column");
    if (field.type == ArrowType::kInt && a.values.size() / size_t(field.int_bits / 8) < size_t(a.length))
      fail(field, "a values buffer shorter than the column");
    for (const ArrowField& child : field.children) {
      const bool same_rows = field.type == ArrowType::kStruct;
      a.children.push_back(array(child, same_rows ? a.length : -1));
    }
    if (field.is_list()) check_offsets(a, a.children[0].length);
    if (field.is_string()) check_offsets(a, int64_t(a.values.size()));
    return a;
  }

 private:
  std::string_view buffer(const ArrowField& field) {
    if (next_buffer_ >= buffer_count_) fail(field, "fewer buffers than its columns need");
    const uint64_t offset = batch_.read(buffers_ + 16 * next_buffer_, 8);
    const uint64_t length = batch_.read(buffers_ + 16 * next_buffer_ + 8, 8);
    ++next_buffer_;
    if (offset > body_.size() || length > body_.size() - offset) fail(field, "a buffer outside the message body");
    return body_.substr(offset, length);
  }
  // Offsets start at >= 0, never decrease, and end within `limit`.
  void check_offsets(const ArrowArray& a, int64_t limit) {
    int64_t previous = 0;
    for (int64_t i = 0; a.length > 0 && i <= a.length; ++i) {
      const int64_t value = offset_at(a, i);
      if (value < previous || value > limit) fail(*a.field, "offsets out of order or past the data");
      previous = value;
    }
  }
  [[noreturn]] void fail(const ArrowField& field, const std::string& what) const {
    throw_input_error(path_, "record batch " + std::to_string(index_) + ", column " + field.name,
                      "damaged Arrow data: " + what);
  }

  const FlatTable& batch_;
  std::string_view body_;
  const std::string& path_;
  int64_t index_;
  size_t nodes_ = 0, node_count_ = 0, buffers_ = 0, buffer_count_ = 0, next_node_ = 0, next_buffer_ = 0;
};

constexpr uint32_t kContinuation = 0xFFFFFFFFu;

}  // namespace

bool looks_like_arrow_ipc(std::string_view bytes) {
  return (bytes.size() >= 8 && load_little_endian(bytes.data(), 4) == kContinuation) ||
         bytes.substr(0, 6) == "ARROW1";
}

bool ArrowArray::is_null(int64_t row) const {
  if (field->is_null_type()) return true;
  if (null_count == 0 || validity.empty()) return false;
  return ((static_cast<unsigned char>(validity[size_t(row / 8)]) >> (row % 8)) & 1) == 0;
}

std::string_view ArrowArray::string_at(int64_t row) const {
  BERT_CHECK(field->is_string(), "not a string column");
  BERT_CHECK(row >= 0 && row < length, "row out of range");
  const int64_t begin = offset_at(*this, row), end = offset_at(*this, row + 1);  // checked when read
  return values.substr(size_t(begin), size_t(end - begin));
}

int64_t ArrowArray::int_at(int64_t row) const {
  BERT_CHECK(field->type == ArrowType::kInt && row >= 0 && row < length, "not an integer column, or row out of range");
  const size_t bytes = size_t(field->int_bits / 8);
  const uint64_t raw = load_little_endian(values.data() + bytes * size_t(row), bytes);
  if (!field->int_signed || bytes == 8) return int64_t(raw);
  const uint64_t sign = uint64_t(1) << (8 * bytes - 1);
  return int64_t(raw ^ sign) - int64_t(sign);
}

std::pair<int64_t, int64_t> ArrowArray::list_range(int64_t row) const {
  BERT_CHECK(field->is_list(), "not a list column");
  BERT_CHECK(row >= 0 && row < length, "row out of range");
  return {offset_at(*this, row), offset_at(*this, row + 1)};
}

const ArrowArray* ArrowArray::child(std::string_view name) const {
  for (const ArrowArray& c : children)
    if (c.field->name == name) return &c;
  return nullptr;
}

int64_t ArrowTable::rows() const {
  int64_t total = 0;
  for (const ArrowBatch& b : batches_) total += b.rows;
  return total;
}

int ArrowTable::column(std::string_view name) const {
  for (size_t i = 0; i < fields_->size(); ++i)
    if ((*fields_)[i].name == name) return int(i);
  return -1;
}

ArrowTable ArrowTable::read(const std::string& path) { return parse(read_file(path), path); }

ArrowTable ArrowTable::parse(std::string bytes, const std::string& path) {
  ArrowTable table;
  table.path_ = path;
  table.bytes_ = std::make_shared<const std::string>(std::move(bytes));
  table.fields_ = std::make_shared<std::vector<ArrowField>>();
  const std::string_view all(*table.bytes_);
  if (!looks_like_arrow_ipc(all))
    throw_input_error(path, "",
                      all.size() < 8
                          ? "an Arrow file cut short (" + std::to_string(all.size()) + " bytes)"
                          : "not an Arrow IPC stream or file");
  size_t pos = all.substr(0, 6) == "ARROW1" ? 8 : 0;  // the file format: magic, padding, then a stream
  bool have_schema = false;
  for (int64_t message = 0;; ++message) {
    const std::string where = "message " + std::to_string(message);
    // datasets' ArrowWriter always ends the stream with its marker: without it the file was cut
    // short, and training on part of a split must not pass unnoticed.
    if (pos + 4 > all.size())
      throw_input_error(path, where, have_schema ? "the stream ends without its end-of-stream marker (a file cut short?)"
                                                 : "the stream ends before its schema");
    uint64_t length = load_little_endian(all.data() + pos, 4);
    pos += 4;
    if (length == kContinuation) {
      if (pos + 4 > all.size()) throw_input_error(path, where, "the stream ends inside a message header");
      length = load_little_endian(all.data() + pos, 4);
      pos += 4;
    }
    if (length == 0) break;  // end of stream
    if (length > all.size() - pos) throw_input_error(path, where, "metadata runs past the end of the file");
    const std::string_view metadata = all.substr(pos, length);
    pos += length;
    if (metadata.size() < 4) throw_input_error(path, where, "metadata too short");
    const size_t root_at = size_t(load_little_endian(metadata.data(), 4));
    if (root_at >= metadata.size()) throw_input_error(path, where, "damaged Arrow metadata: the root lies outside it");
    const FlatTable root(metadata, root_at, &path);
    const uint8_t header = uint8_t(root.scalar(1, 1, 0));
    const uint64_t body_length = root.scalar(3, 8, 0);
    if (body_length > all.size() - pos) throw_input_error(path, where, "the message body runs past the end of the file");
    const std::string_view body = all.substr(pos, body_length);
    pos += body_length;
    if (header == kSchema) {
      if (have_schema) throw_input_error(path, where, "a second schema");
      const auto [fields, count] = root.table(2).vector(1, 4);
      for (size_t i = 0; i < count; ++i)
        table.fields_->push_back(read_field(root.table(2).table_at(fields + 4 * i), 0, path));
      have_schema = true;
    } else if (header == kRecordBatch) {
      if (!have_schema) throw_input_error(path, where, "a record batch before the schema");
      const FlatTable batch = root.table(2);
      if (batch.has(3)) throw_input_error(path, where, "compressed record batches are not supported");
      ArrowBatch out;
      out.rows = int64_t(batch.scalar(0, 8, 0));
      if (out.rows < 0) throw_input_error(path, where, "a negative row count");
      BatchReader reader(batch, body, path, int64_t(table.batches_.size()));
      for (const ArrowField& field : *table.fields_) out.columns.push_back(reader.array(field, out.rows));
      table.batches_.push_back(std::move(out));
    } else if (header == kDictionaryBatch) {
      throw_input_error(path, where, "dictionary batches are not supported");
    } else {
      throw_input_error(path, where, "unexpected message type " + std::to_string(header));
    }
  }
  if (!have_schema) throw_input_error(path, "", "no schema");
  return table;
}

}  // namespace bert
