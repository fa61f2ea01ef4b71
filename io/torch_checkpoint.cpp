// torch.save's checkpoints as tensor files, in its zip and legacy layouts. See torch_checkpoint.h.
//
// Of the zip format (APPNOTE 6.3) only what a reader of stored entries needs: the end of central
// directory record (and its zip64 form, which torch writes for archives past 4 GiB), the central
// directory's entries (name, method, sizes, local header offset, the zip64 extra field), and
// each local header's name and extra lengths, which place the entry's data. The pickles of
// both layouts are io/torch_pickle.h's.
#include "io/torch_checkpoint.h"

#include <cstring>
#include <map>
#include <utility>
#include <vector>

#include "core/bytes.h"
#include "core/error.h"
#include "core/strings.h"
#include "io/torch_pickle.h"

namespace bert {
namespace {

constexpr uint32_t kLocalHeader = 0x04034b50, kCentralEntry = 0x02014b50, kEndOfDirectory = 0x06054b50;
constexpr uint32_t kZip64End = 0x06064b50, kZip64Locator = 0x07064b50;
constexpr size_t kEndOfDirectorySize = 22, kZip64LocatorSize = 20;

// Bytes of the file: a zip entry's data, or a storage's.
struct ByteRange {
  uint64_t data_offset = 0;
  uint64_t size = 0;
};

class ZipReader {
 public:
  ZipReader(const std::string& path, const uint8_t* bytes, size_t size) : path_(path), bytes_(bytes), size_(size) {}

  std::map<std::string, ByteRange> entries() {
    const size_t end = find_end_of_directory();
    uint64_t count = read(end + 10, 2), directory = read(end + 16, 4);
    if (count == 0xffff || directory == 0xffffffff) locate_zip64(end, &count, &directory);
    std::map<std::string, ByteRange> out;
    uint64_t at = directory;
    for (uint64_t i = 0; i < count; ++i) {
      if (read(at, 4) != kCentralEntry) fail("zip central directory entry " + std::to_string(i), "bad signature");
      const uint64_t flags = read(at + 8, 2), method = read(at + 10, 2);
      uint64_t compressed = read(at + 20, 4), size = read(at + 24, 4), local = read(at + 42, 4);
      const uint64_t name_length = read(at + 28, 2), extra_length = read(at + 30, 2), comment = read(at + 32, 2);
      const std::string name = text(at + 46, name_length);
      read_zip64_extra(at + 46 + name_length, extra_length, name, &size, &compressed, &local);
      if (method != 0)
        fail("zip entry " + name, "compressed (method " + std::to_string(method) +
                                      "); torch.save stores its entries uncompressed: re-save the checkpoint");
      if (flags & 1) fail("zip entry " + name, "encrypted");
      if (compressed != size) fail("zip entry " + name, "stored sizes disagree");
      if (read(local, 4) != kLocalHeader) fail("zip entry " + name, "no local header at its offset");
      const uint64_t data = local + 30 + read(local + 26, 2) + read(local + 28, 2);
      if (data > size_ || size > size_ - data) fail("zip entry " + name, "runs past the end of the file");
      if (!out.emplace(name, ByteRange{data, size}).second) fail("zip entry " + name, "appears twice");
      at += 46 + name_length + extra_length + comment;
    }
    return out;
  }

 private:
  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    throw_input_error(path_, where, what);
  }
  uint64_t read(uint64_t at, size_t count) const {
    if (at > size_ || count > size_ - at) fail("", "a zip record runs past the end of the file (truncated download?)");
    return load_little_endian(bytes_ + at, count);
  }
  std::string text(uint64_t at, uint64_t count) const {
    if (at > size_ || count > size_ - at) fail("", "a zip entry's name runs past the end of the file");
    return std::string(reinterpret_cast<const char*>(bytes_ + at), size_t(count));
  }
  // The end of central directory record: the last signature within its 64 KiB comment's reach.
  size_t find_end_of_directory() const {
    if (size_ < kEndOfDirectorySize) fail("", "too short to be a zip archive");
    const size_t lowest = size_ > kEndOfDirectorySize + 0xffff ? size_ - kEndOfDirectorySize - 0xffff : 0;
    for (size_t at = size_ - kEndOfDirectorySize + 1; at-- > lowest;)
      if (read(at, 4) == kEndOfDirectory) return at;
    fail("", "no zip end of central directory record (truncated download?)");
  }
  void locate_zip64(size_t end, uint64_t* count, uint64_t* directory) const {
    if (end < kZip64LocatorSize || read(end - kZip64LocatorSize, 4) != kZip64Locator)
      fail("", "a zip64 archive without its zip64 locator");
    const uint64_t record = read(end - kZip64LocatorSize + 8, 8);
    if (read(record, 4) != kZip64End) fail("", "no zip64 end of central directory record where its locator points");
    *count = read(record + 32, 8);
    *directory = read(record + 48, 8);
  }
  // Sizes and offsets of 0xffffffff are in the zip64 extra field (id 1), in this order.
  void read_zip64_extra(uint64_t at, uint64_t length, const std::string& name, uint64_t* size, uint64_t* compressed,
                        uint64_t* local) const {
    for (uint64_t offset = 0; offset + 4 <= length;) {
      const uint64_t id = read(at + offset, 2), field_length = read(at + offset + 2, 2);
      if (id == 1) {
        uint64_t field = at + offset + 4;
        for (uint64_t* value : {size, compressed, local})
          if (*value == 0xffffffff) {
            if (field + 8 > at + offset + 4 + field_length) fail("zip entry " + name, "short zip64 extra field");
            *value = read(field, 8);
            field += 8;
          }
        return;
      }
      offset += 4 + field_length;
    }
  }

  const std::string& path_;
  const uint8_t* bytes_;
  size_t size_;
};

// The entries' common top-level directory, from the one "<dir>/data.pkl".
std::string archive_prefix(const std::string& path, const std::map<std::string, ByteRange>& entries) {
  std::string prefix;
  for (const auto& entry : entries) {
    const std::string& name = entry.first;
    const size_t slash = name.find('/');
    if (slash == std::string::npos || name.substr(slash) != "/data.pkl") continue;
    if (!prefix.empty()) throw_input_error(path, "", "holds two pickles (" + prefix + "data.pkl and " + name + ")");
    prefix = name.substr(0, slash + 1);
  }
  if (prefix.empty())
    throw_input_error(path, "", "a zip archive without <dir>/data.pkl: not a torch.save checkpoint");
  return prefix;
}

constexpr int64_t kMaxElements = int64_t(1) << 50;

// The tensor's elements; InputError for a negative or absurd size.
int64_t checked_numel(const std::string& path, const TorchTensorRef& tensor) {
  int64_t numel = 1;
  for (int64_t dim : tensor.shape) {
    if (dim < 0 || dim > kMaxElements || (dim > 0 && numel > kMaxElements / dim))
      throw_input_error(path, "tensor \"" + tensor.name + "\"", "size " + shape_to_string(tensor.shape) + " is invalid");
    numel *= dim;
  }
  return numel;
}

// Row-major: each stride the product of the sizes after it (dimensions of size 1 may say anything).
bool is_row_major(const TorchTensorRef& tensor) {
  int64_t expected = 1;
  for (size_t i = tensor.shape.size(); i-- > 0;) {
    if (tensor.shape[i] != 1 && tensor.stride[i] != expected) return false;
    expected *= tensor.shape[i];
  }
  return true;
}

TensorInfo place_tensor(const std::string& path, const TorchTensorRef& tensor, const ByteRange& storage) {
  const std::string where = "tensor \"" + tensor.name + "\"";
  const int64_t numel = checked_numel(path, tensor);
  if (numel > 0 && !is_row_major(tensor))
    throw_input_error(path, where, "stored with strides " + shape_to_string(tensor.stride) + " for size " +
                                       shape_to_string(tensor.shape) +
                                       " (not row-major, e.g. a transposed view): re-save it with .contiguous()");
  const uint64_t element = dtype_size(tensor.dtype);
  if (tensor.storage_offset < 0 || tensor.storage_numel > kMaxElements || tensor.storage_offset > kMaxElements ||
      tensor.storage_offset + numel > tensor.storage_numel)
    throw_input_error(path, where, "elements " + std::to_string(tensor.storage_offset) + " to " +
                                       std::to_string(tensor.storage_offset + numel) + " of a storage of " +
                                       std::to_string(tensor.storage_numel));
  if (storage.size < uint64_t(tensor.storage_numel) * element)
    throw_input_error(path, where, "its storage " + tensor.storage_key + " holds " + std::to_string(storage.size) +
                                       " bytes, fewer than its " + std::to_string(tensor.storage_numel) + " " +
                                       dtype_name(tensor.dtype) + " elements (truncated file?)");
  TensorInfo info;
  info.dtype = tensor.dtype;
  info.shape = tensor.shape;
  info.begin = storage.data_offset + uint64_t(tensor.storage_offset) * element;
  info.end = info.begin + uint64_t(numel) * element;
  return info;
}

bool looks_like_zip(const uint8_t* bytes, size_t size) {
  return size >= 4 && bytes[0] == 'P' && bytes[1] == 'K' && bytes[2] == 3 && bytes[3] == 4;
}

// The zip layout: <dir>/data.pkl's state dict, and its storages <dir>/data/<key>.
std::vector<TorchTensorRef> read_zip_layout(const std::string& path, const MappedFile& file,
                                            std::map<std::string, ByteRange>* storages) {
  const std::map<std::string, ByteRange> entries = ZipReader(path, file.bytes, file.size).entries();
  const std::string prefix = archive_prefix(path, entries);
  auto byteorder = entries.find(prefix + "byteorder");
  if (byteorder != entries.end() &&
      std::string(reinterpret_cast<const char*>(file.bytes + byteorder->second.data_offset),
                  size_t(byteorder->second.size)) != "little")
    throw_input_error(path, prefix + "byteorder", "not \"little\": big-endian storages are not read");
  for (const auto& [name, entry] : entries)
    if (starts_with(name, prefix + "data/")) (*storages)[name.substr(prefix.size() + 5)] = entry;
  const ByteRange& pickle = entries.at(prefix + "data.pkl");
  return read_torch_state_dict_pickle(path, file.bytes + pickle.data_offset, size_t(pickle.size));
}

// The legacy layout's first two pickles: the magic number 0x1950a86a20f9469cfc6c (LONG1 of 10
// bytes, more than the unpickler's integers hold, so compared as bytes) and the version 1001
// (BININT2), each after PROTO 2-5 and, from protocol 4 on, a FRAME.
constexpr uint8_t kLegacyMagic[] = {0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};
constexpr uint8_t kLegacyVersion[] = {0x4d, 0xe9, 0x03, 0x2e};

// The end of the pickle at `at` when it is PROTO, perhaps FRAME, then exactly `body`; 0 otherwise.
size_t match_small_pickle(const uint8_t* bytes, size_t size, size_t at, const uint8_t* body, size_t body_size) {
  if (size - at < 2 || bytes[at] != 0x80 || bytes[at + 1] < 2 || bytes[at + 1] > 5) return 0;
  at += 2;
  if (size - at >= 9 && bytes[at] == 0x95) at += 9;  // FRAME and its 8-byte length
  if (size - at < body_size || std::memcmp(bytes + at, body, body_size) != 0) return 0;
  return at + body_size;
}

bool looks_like_legacy(const uint8_t* bytes, size_t size) {
  return match_small_pickle(bytes, size, 0, kLegacyMagic, sizeof kLegacyMagic) != 0;
}

// The legacy layout (torch.save before 1.6, or with _use_new_zipfile_serialization=False):
// pickles in sequence (the magic number, the version, sys_info, the state dict, the list of
// storage keys), then each listed storage as an int64 element count and its raw bytes.
std::vector<TorchTensorRef> read_legacy_layout(const std::string& path, const MappedFile& file,
                                               std::map<std::string, ByteRange>* storages) {
  const uint8_t* bytes = file.bytes;
  const size_t size = file.size;
  const size_t magic_end = match_small_pickle(bytes, size, 0, kLegacyMagic, sizeof kLegacyMagic);
  size_t at = match_small_pickle(bytes, size, magic_end, kLegacyVersion, sizeof kLegacyVersion);
  if (at == 0) throw_input_error(path, "byte " + std::to_string(magic_end), "not the legacy format's version 1001");
  if (!read_little_endian_pickle(path, bytes, size, at, &at))
    throw_input_error(path, "sys_info", "little_endian is false: big-endian storages are not read");
  std::vector<TorchTensorRef> tensors = read_torch_state_dict_pickle(path, bytes, size, at, &at);
  const std::vector<std::string> storage_keys = read_string_list_pickle(path, bytes, size, at, &at);
  std::map<std::string, uint64_t> element_sizes;
  for (const TorchTensorRef& tensor : tensors) element_sizes[tensor.storage_key] = dtype_size(tensor.dtype);
  uint64_t offset = at;
  for (const std::string& key : storage_keys) {
    const std::string where = "storage " + key;
    if (size - offset < 8) throw_input_error(path, where, "the file ends before it (truncated download?)");
    const uint64_t count = load_little_endian(bytes + offset, 8);
    offset += 8;
    auto element = element_sizes.find(key);
    if (element == element_sizes.end()) throw_input_error(path, where, "listed, but no tensor uses it");
    if (count > (uint64_t(1) << 50) || count * element->second > size - offset)
      throw_input_error(path, where, "its " + std::to_string(count) + " elements run past the end of the file");
    const uint64_t storage_bytes = count * element->second;
    if (!storages->emplace(key, ByteRange{offset, storage_bytes}).second)
      throw_input_error(path, where, "listed twice");
    offset += storage_bytes;
  }
  return tensors;
}

}  // namespace

SafetensorsFile torch_checkpoint_from_bytes(const std::string& path, MappedFile file) {
  refuse_git_lfs_pointer(path, file.bytes, file.size);
  std::map<std::string, ByteRange> storages;  // by storage key
  const bool legacy = looks_like_legacy(file.bytes, file.size);
  if (!legacy && !looks_like_zip(file.bytes, file.size))
    throw_input_error(path, "", "not a torch.save checkpoint (neither its zip format nor its legacy one)");
  const std::vector<TorchTensorRef> tensors =
      legacy ? read_legacy_layout(path, file, &storages) : read_zip_layout(path, file, &storages);
  std::map<std::string, TensorInfo> placed;
  for (const TorchTensorRef& tensor : tensors) {
    auto storage = storages.find(tensor.storage_key);
    if (storage == storages.end())
      throw_input_error(path, "tensor \"" + tensor.name + "\"", "its storage " + tensor.storage_key + " is not in the file");
    if (!placed.emplace(tensor.name, place_tensor(path, tensor, storage->second)).second)
      throw_input_error(path, "tensor \"" + tensor.name + "\"", "appears twice in the state dict");
  }
  return SafetensorsFile::from_tensor_ranges(path, std::move(file), std::move(placed), {{"format", "pt"}});
}

SafetensorsFile open_torch_checkpoint(const std::string& path) {
  return torch_checkpoint_from_bytes(path, map_input_file(path));
}

}  // namespace bert
