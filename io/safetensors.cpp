// safetensors reader: maps the file, parses the JSON header with simdjson and validates
// every entry and the byte layout before any tensor is handed out. See safetensors.h.
#include "io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <set>
#include <simdjson.h>

#include "core/error.h"
#include "core/file_io.h"

namespace bert {
namespace {

// The official library refuses headers above 100 MB; a larger length means a wrong file.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

std::string quoted(const std::string& name) { return "tensor \"" + name + "\""; }

// Reads a JSON integer that must be >= 0 (and <= int64 max, so shapes fit int64_t).
uint64_t non_negative_integer(const std::string& file, const std::string& where,
                              simdjson::dom::element value) {
  switch (value.type()) {
    case simdjson::dom::element_type::INT64: {
      const int64_t v = int64_t(value);
      if (v < 0) throw_input_error(file, where, "must be >= 0, found " + std::to_string(v));
      return static_cast<uint64_t>(v);
    }
    case simdjson::dom::element_type::UINT64: {
      const uint64_t v = uint64_t(value);
      throw_input_error(file, where, "value " + std::to_string(v) + " is too large");
    }
    default:
      throw_input_error(file, where, "expected a non-negative integer");
  }
}

// Parses one {dtype, shape, data_offsets} entry; checks the byte count and the range
// against the buffer size. Extra fields are ignored, as the official library does.
TensorInfo parse_entry(const std::string& file, const std::string& name,
                       simdjson::dom::element value, uint64_t buffer_size) {
  const std::string where = quoted(name);
  simdjson::dom::object object;
  if (value.get_object().get(object))
    throw_input_error(file, where, "expected an object {dtype, shape, data_offsets}");
  TensorInfo info;

  simdjson::dom::element field;
  if (object["dtype"].get(field)) throw_input_error(file, where, "missing field \"dtype\"");
  std::string_view dtype_text;
  if (field.get_string().get(dtype_text))
    throw_input_error(file, where + ".dtype", "expected a string");
  if (!parse_dtype(std::string(dtype_text), &info.dtype))
    throw_input_error(file, where + ".dtype",
                      "unknown dtype \"" + std::string(dtype_text) +
                          "\" (expected F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, "
                          "BOOL, F8_E4M3, F8_E5M2 or F8_E8M0)");

  if (object["shape"].get(field)) throw_input_error(file, where, "missing field \"shape\"");
  simdjson::dom::array shape;
  if (field.get_array().get(shape))
    throw_input_error(file, where + ".shape", "expected an array of integers");
  uint64_t numel = 1;
  bool overflow = false;
  size_t index = 0;
  for (simdjson::dom::element dim : shape) {
    const std::string dim_where = where + ".shape[" + std::to_string(index++) + "]";
    const uint64_t d = non_negative_integer(file, dim_where, dim);
    info.shape.push_back(static_cast<int64_t>(d));
    if (d != 0 && numel > std::numeric_limits<uint64_t>::max() / d) overflow = true;
    numel *= d;
  }
  const uint64_t size = dtype_size(info.dtype);
  if (overflow || numel > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
      numel > std::numeric_limits<uint64_t>::max() / size)
    throw_input_error(file, where + ".shape",
                      "shape " + shape_to_string(info.shape) + " overflows the element count");

  if (object["data_offsets"].get(field))
    throw_input_error(file, where, "missing field \"data_offsets\"");
  simdjson::dom::array offsets;
  if (field.get_array().get(offsets) || offsets.size() != 2)
    throw_input_error(file, where + ".data_offsets", "expected an array [begin, end]");
  info.begin = non_negative_integer(file, where + ".data_offsets[0]", offsets.at(0).value());
  info.end = non_negative_integer(file, where + ".data_offsets[1]", offsets.at(1).value());

  const std::string range =
      "data_offsets [" + std::to_string(info.begin) + ", " + std::to_string(info.end) + "]";
  if (info.end < info.begin)
    throw_input_error(file, where + ".data_offsets", range + " ends before it begins");
  if (info.end - info.begin != numel * size)
    throw_input_error(file, where + ".data_offsets",
                      range + " holds " + std::to_string(info.end - info.begin) +
                          " bytes but shape " + shape_to_string(info.shape) + " of " +
                          dtype_name(info.dtype) + " needs " + std::to_string(numel * size));
  if (info.end > buffer_size)
    throw_input_error(file, where + ".data_offsets",
                      range + " runs past the end of the data buffer (" +
                          std::to_string(buffer_size) + " bytes): the file is shorter than its header "
                          "says (an incomplete download or copy?)");
  return info;
}

void parse_metadata(const std::string& file, simdjson::dom::element value,
                    std::map<std::string, std::string>* out) {
  if (value.is_null()) return;  // the official writer may emit "__metadata__": null
  simdjson::dom::object object;
  if (value.get_object().get(object))
    throw_input_error(file, "header.__metadata__", "expected an object of strings");
  for (auto field : object) {
    const std::string key(field.key);
    std::string_view text;
    if (field.value.get_string().get(text))
      throw_input_error(file, "header.__metadata__.\"" + key + "\"", "expected a string value");
    if (!out->emplace(key, std::string(text)).second)
      throw_input_error(file, "header.__metadata__.\"" + key + "\"", "duplicate key");
  }
}

// The buffer must be covered exactly: sorted by offset, no gaps, no overlaps, nothing left.
void check_coverage(const std::string& file, const std::map<std::string, TensorInfo>& tensors,
                    uint64_t buffer_size) {
  std::vector<std::pair<const std::string*, const TensorInfo*>> order;
  for (const auto& [name, info] : tensors) order.emplace_back(&name, &info);
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    if (a.second->begin != b.second->begin) return a.second->begin < b.second->begin;
    return a.second->end < b.second->end;
  });
  uint64_t covered = 0;
  const std::string* previous = nullptr;
  for (const auto& [name, info] : order) {
    if (info->begin > covered)
      throw_input_error(file, quoted(*name) + ".data_offsets",
                        "gap: begins at byte " + std::to_string(info->begin) + " but " +
                            (previous ? quoted(*previous) + " ends" : std::string("data starts")) +
                            " at byte " + std::to_string(covered) +
                            " (tensors must cover the buffer contiguously)");
    if (info->begin < covered)
      throw_input_error(file, quoted(*name) + ".data_offsets",
                        "overlap: begins at byte " + std::to_string(info->begin) +
                            " inside " + quoted(*previous) + ", which ends at byte " +
                            std::to_string(covered));
    covered = info->end;
    previous = name;
  }
  if (covered != buffer_size)
    throw_input_error(file, "data buffer",
                      std::to_string(buffer_size - covered) + " trailing bytes after " +
                          (previous ? quoted(*previous) : std::string("the header")) +
                          " (ends at byte " + std::to_string(covered) + " of " +
                          std::to_string(buffer_size) + "); tensors must cover the buffer exactly");
}

}  // namespace

SafetensorsFile SafetensorsFile::from_bytes(const std::string& path,
                                            std::shared_ptr<const void> owner,
                                            const uint8_t* bytes, size_t size) {
  if (size < 8)
    throw_input_error(path, "", "file is " + std::to_string(size) +
                                    " bytes, shorter than the 8-byte header length");
  refuse_git_lfs_pointer(path, bytes, size);
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes, 8);  // little-endian host (checked in safetensors_dtype.cpp)
  if (header_len > kMaxHeaderBytes)
    throw_input_error(path, "bytes 0..8",
                      "header length " + std::to_string(header_len) + " exceeds the limit of " +
                          std::to_string(kMaxHeaderBytes) + " bytes (not a safetensors file?)");
  if (header_len > size - 8)
    throw_input_error(path, "bytes 0..8",
                      "header length " + std::to_string(header_len) +
                          " runs past the end of the file (" + std::to_string(size) +
                          " bytes): an incomplete download or copy?");
  if (header_len == 0 || bytes[8] != '{')
    throw_input_error(path, "header (byte 8)", "expected a JSON object starting with '{'");

  simdjson::dom::parser parser;
  simdjson::padded_string json(reinterpret_cast<const char*>(bytes + 8), header_len);
  simdjson::dom::element root;
  if (auto error = parser.parse(json).get(root))
    throw_input_error(path, "header (bytes 8.." + std::to_string(8 + header_len) + ")",
                      std::string("not valid JSON: ") + simdjson::error_message(error));
  simdjson::dom::object object;
  if (root.get_object().get(object)) throw_input_error(path, "header", "expected a JSON object");

  SafetensorsFile file;
  file.path_ = path;
  file.owner_ = std::move(owner);
  file.buffer_ = bytes + 8 + header_len;
  const uint64_t buffer_size = size - 8 - header_len;
  bool seen_metadata = false;
  for (auto field : object) {
    const std::string name(field.key);
    if (name == "__metadata__") {
      if (seen_metadata) throw_input_error(path, "header", "duplicate \"__metadata__\"");
      seen_metadata = true;
      parse_metadata(path, field.value, &file.metadata_);
      continue;
    }
    if (file.tensors_.count(name)) throw_input_error(path, quoted(name), "duplicate tensor name");
    file.tensors_.emplace(name, parse_entry(path, name, field.value, buffer_size));
  }
  check_coverage(path, file.tensors_, buffer_size);
  return file;
}

void refuse_git_lfs_pointer(const std::string& path, const uint8_t* bytes, size_t size) {
  // A clone without `git lfs` leaves this small text in place of the weights.
  const std::string_view lfs_pointer = "version https://git-lfs";
  if (size >= lfs_pointer.size() && std::memcmp(bytes, lfs_pointer.data(), lfs_pointer.size()) == 0)
    throw_input_error(path, "",
                      "is a Git LFS pointer (" + std::to_string(size) +
                          " bytes of text), not the weights: fetch them with `git lfs pull` in the "
                          "clone, or download the file itself (`hf download`)");
}

MappedFile map_input_file(const std::string& path) {
  // A regular file (not a directory, FIFO or device), opened without blocking.
  const InputFile input = InputFile::open(path, std::numeric_limits<uint64_t>::max());
  MappedFile mapped;
  mapped.size = static_cast<size_t>(input.size());
  if (mapped.size > 0) {
    // Mapped, not read: a file larger than memory is paged in as tensors are converted.
    void* start = ::mmap(nullptr, mapped.size, PROT_READ, MAP_PRIVATE, input.descriptor(), 0);
    if (start == MAP_FAILED) throw_input_error(path, "", std::string("cannot map: ") + std::strerror(errno));
    const size_t size = mapped.size;
    mapped.owner = std::shared_ptr<const void>(start, [size](const void* p) { ::munmap(const_cast<void*>(p), size); });
    mapped.bytes = static_cast<const uint8_t*>(start);
  }
  return mapped;
}

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  MappedFile mapped = map_input_file(path);
  return from_bytes(path, std::move(mapped.owner), mapped.bytes, mapped.size);
}

SafetensorsFile SafetensorsFile::from_tensor_ranges(const std::string& path, MappedFile file,
                                                    std::map<std::string, TensorInfo> tensors,
                                                    std::map<std::string, std::string> metadata) {
  SafetensorsFile out;
  out.path_ = path;
  for (const auto& [name, info] : tensors)
    BERT_CHECK(info.begin <= info.end && info.end <= file.size, path + ": tensor " + name + " lies outside the file");
  out.owner_ = std::move(file.owner);
  out.buffer_ = file.bytes;
  out.tensors_ = std::move(tensors);
  out.metadata_ = std::move(metadata);
  return out;
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  out.reserve(tensors_.size());
  for (const auto& entry : tensors_) out.push_back(entry.first);
  return out;
}

const TensorInfo& SafetensorsFile::info(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) throw_input_error(path_, quoted(name), "no such tensor in the file");
  return it->second;
}

TensorView SafetensorsFile::view(const std::string& name) const {
  const TensorInfo& entry = info(name);
  TensorView view;
  view.file = path_;
  view.name = name;
  view.dtype = entry.dtype;
  view.shape = entry.shape;
  view.data = buffer_ + entry.begin;
  view.bytes = static_cast<size_t>(entry.end - entry.begin);
  return view;
}

}  // namespace bert
