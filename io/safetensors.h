// safetensors: the Hugging Face tensor file format, read (memory-mapped) and written.
//
// Layout: an 8-byte little-endian header length N, then N bytes of UTF-8 JSON
//   {"<name>": {"dtype": "F32", "shape": [d0, d1, ...], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {"<key>": "<string>", ...}}   (metadata optional)
// then the data buffer; offsets are relative to the buffer start (byte 8 + N), data is
// little-endian and row-major. Like the official library, the reader insists that the
// tensors cover the buffer exactly: sorted by offset, each begins where the previous
// ended, the first at 0 and the last at the end of the file, and each range holds exactly
// numel x dtype-size bytes. Every problem is reported as InputError naming the file and
// the tensor (or the header position) and what was expected.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace bert {

// Element types. Every type has a fixed size; conversions exist for the types below that
// training uses (floats to float/double, integers to int64).
enum class Dtype { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU64, kU32, kU16, kU8, kBool,
                   kF8E4M3, kF8E5M2, kF8E8M0 };

const char* dtype_name(Dtype dtype);  // "F32", ...
size_t dtype_size(Dtype dtype);       // bytes per element
// Parses a safetensors dtype string; false when unknown.
bool parse_dtype(const std::string& text, Dtype* out);

// One tensor's header entry.
struct TensorInfo {
  Dtype dtype = Dtype::kF32;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // byte range inside the data buffer
  int64_t numel() const;        // product of shape (1 for a scalar)
};

// Formats a shape as "[2, 128]".
std::string shape_to_string(const std::vector<int64_t>& shape);

// A tensor's bytes inside an open file; valid while the SafetensorsFile (or a copy) lives.
struct TensorView {
  std::string file;  // for error messages
  std::string name;
  Dtype dtype = Dtype::kF32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;  // possibly unaligned
  size_t bytes = 0;
  int64_t numel() const;
};

// Element conversions; an unsupported source dtype is an InputError naming file, tensor,
// the dtype found and the dtypes accepted.
std::vector<float> to_float32(const TensorView& view);   // from F32, F16, BF16, F64
std::vector<double> to_float64(const TensorView& view);  // from F64, F32, F16, BF16
std::vector<int64_t> to_int64(const TensorView& view);   // from I64, I32, I16, I8, U8, BOOL

// IEEE half / bfloat16 bit patterns to float, and float to bfloat16 (round to nearest even).
float half_to_float(uint16_t bits);
float bf16_to_float(uint16_t bits);
uint16_t float_to_bf16(float value);

// A whole file mapped read-only (empty files map to nothing); the mapping lives while `owner` does.
struct MappedFile {
  std::shared_ptr<const void> owner;
  const uint8_t* bytes = nullptr;
  size_t size = 0;
};
// Maps a regular file (InputFile's checks: InputError naming it otherwise).
MappedFile map_input_file(const std::string& path);
// InputError naming `path` when the bytes are a Git LFS pointer (a clone without `git lfs`)
// instead of the weights.
void refuse_git_lfs_pointer(const std::string& path, const uint8_t* bytes, size_t size);

// A validated, memory-mapped safetensors file. Copies share the mapping. Also the view that
// other checkpoint formats are read into (io/torch_checkpoint.h: from_tensor_ranges).
class SafetensorsFile {
 public:
  // Maps and validates the whole header; throws InputError on any problem.
  static SafetensorsFile open(const std::string& path);

  const std::string& path() const { return path_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  std::vector<std::string> names() const;  // sorted by name
  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
  // Throws InputError naming the file and the tensor when absent.
  const TensorInfo& info(const std::string& name) const;
  TensorView view(const std::string& name) const;

  std::vector<float> read_f32(const std::string& name) const { return to_float32(view(name)); }
  std::vector<double> read_f64(const std::string& name) const { return to_float64(view(name)); }
  std::vector<int64_t> read_i64(const std::string& name) const { return to_int64(view(name)); }

  // Tensors that another reader found and checked in a mapped file: each TensorInfo's
  // begin/end is a byte range of the whole file holding the tensor row-major and little-endian.
  static SafetensorsFile from_tensor_ranges(const std::string& path, MappedFile file,
                                            std::map<std::string, TensorInfo> tensors,
                                            std::map<std::string, std::string> metadata);
  // Validates a safetensors image held in memory (used by open; exposed for tests).
  static SafetensorsFile from_bytes(const std::string& path, std::shared_ptr<const void> owner,
                                    const uint8_t* bytes, size_t size);

 private:
  std::string path_;
  std::shared_ptr<const void> owner_;  // keeps the mapping alive
  const uint8_t* buffer_ = nullptr;    // start of the data buffer
  std::map<std::string, std::string> metadata_;
  std::map<std::string, TensorInfo> tensors_;
};

// A tensor to write: the caller keeps `data` alive during the call. Stored as F32, or as
// BF16 (rounded to nearest even) when dtype is kBF16.
struct TensorToWrite {
  std::string name;
  std::vector<int64_t> shape;
  const float* data = nullptr;  // numel(shape) values
  Dtype dtype = Dtype::kF32;
};

// Writes a safetensors file atomically (temp file + rename). Tensors are laid out as the
// official library does: larger element types first, then by name (so all-F32 files are
// sorted by name); the header is padded with spaces to a multiple of 8 bytes.
// Throws BertError on an invalid request (duplicate or reserved name, bad shape, null data,
// unsupported dtype) or a write failure, naming the path.
void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace bert
