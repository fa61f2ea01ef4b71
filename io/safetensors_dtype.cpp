// safetensors element types: names, sizes and the conversions to float / double / int64.
// Data in the file is little-endian and possibly unaligned, so every element is memcpy'd.
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "io/safetensors.h"

namespace bert {
namespace {

struct DtypeEntry {
  Dtype dtype;
  const char* name;
  size_t size;
};

constexpr DtypeEntry kDtypes[] = {
    {Dtype::kF64, "F64", 8},  {Dtype::kF32, "F32", 4},  {Dtype::kF16, "F16", 2},
    {Dtype::kBF16, "BF16", 2}, {Dtype::kI64, "I64", 8},  {Dtype::kI32, "I32", 4},
    {Dtype::kI16, "I16", 2},  {Dtype::kI8, "I8", 1},    {Dtype::kU64, "U64", 8},
    {Dtype::kU32, "U32", 4},  {Dtype::kU16, "U16", 2},  {Dtype::kU8, "U8", 1},
    {Dtype::kBool, "BOOL", 1},
    // 8-bit floats: known so that a checkpoint holding some (quantised heads, unused buffers)
    // still opens; reading one as float is refused like any other unconvertible dtype.
    {Dtype::kF8E4M3, "F8_E4M3", 1}, {Dtype::kF8E5M2, "F8_E5M2", 1}, {Dtype::kF8E8M0, "F8_E8M0", 1},
};

const DtypeEntry& entry(Dtype dtype) {
  for (const DtypeEntry& e : kDtypes)
    if (e.dtype == dtype) return e;
  throw BertError("unknown Dtype value");
}

template <typename T>
T load(const uint8_t* data, size_t index) {
  T value;
  std::memcpy(&value, data + index * sizeof(T), sizeof(T));
  return value;
}

[[noreturn]] void unsupported(const TensorView& view, const char* accepted) {
  throw_input_error(view.file, "tensor \"" + view.name + "\"",
                    std::string("dtype ") + dtype_name(view.dtype) + " cannot be read here; expected " +
                        accepted);
}

// The view's byte count must match its shape (guaranteed for views made by SafetensorsFile;
// checked again because TensorView is a plain struct anyone can fill).
size_t checked_count(const TensorView& view) {
  const int64_t n = view.numel();
  if (n < 0 || static_cast<uint64_t>(n) * dtype_size(view.dtype) != view.bytes)
    throw_input_error(view.file, "tensor \"" + view.name + "\"",
                      "byte count " + std::to_string(view.bytes) + " does not match shape " +
                          shape_to_string(view.shape) + " of " + dtype_name(view.dtype));
  return static_cast<size_t>(n);
}

}  // namespace

// The project assumes a little-endian host, as safetensors data is little-endian.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors IO assumes little-endian");

const char* dtype_name(Dtype dtype) { return entry(dtype).name; }
size_t dtype_size(Dtype dtype) { return entry(dtype).size; }

bool parse_dtype(const std::string& text, Dtype* out) {
  for (const DtypeEntry& e : kDtypes) {
    if (text == e.name) {
      *out = e.dtype;
      return true;
    }
  }
  return false;
}

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string shape_to_string(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

float half_to_float(uint16_t bits) {
  const uint32_t sign = (bits >> 15) & 1u;
  const uint32_t exponent = (bits >> 10) & 0x1fu;
  const uint32_t mantissa = bits & 0x3ffu;
  float magnitude;
  if (exponent == 0) {
    magnitude = std::ldexp(static_cast<float>(mantissa), -24);  // zero or subnormal
  } else if (exponent == 31) {
    magnitude = mantissa ? NAN : INFINITY;
  } else {
    magnitude = std::ldexp(static_cast<float>(mantissa | 0x400u), static_cast<int>(exponent) - 25);
  }
  return sign ? -magnitude : magnitude;
}

float bf16_to_float(uint16_t bits) {
  const uint32_t wide = static_cast<uint32_t>(bits) << 16;
  float value;
  std::memcpy(&value, &wide, sizeof value);
  return value;
}

uint16_t float_to_bf16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40u);  // NaN
  const uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);  // round to nearest, ties to even
  return static_cast<uint16_t>((bits + rounding) >> 16);
}

namespace {

// Floating tensors of any stored width, widened or narrowed to Out (float or double).
template <typename Out>
std::vector<Out> to_floating(const TensorView& view, const char* accepted) {
  const size_t n = checked_count(view);
  std::vector<Out> out(n);
  switch (view.dtype) {
    case Dtype::kF32:
      for (size_t i = 0; i < n; ++i) out[i] = static_cast<Out>(load<float>(view.data, i));
      break;
    case Dtype::kF64:
      for (size_t i = 0; i < n; ++i) out[i] = static_cast<Out>(load<double>(view.data, i));
      break;
    case Dtype::kF16:
      for (size_t i = 0; i < n; ++i) out[i] = half_to_float(load<uint16_t>(view.data, i));
      break;
    case Dtype::kBF16:
      for (size_t i = 0; i < n; ++i) out[i] = bf16_to_float(load<uint16_t>(view.data, i));
      break;
    default:
      unsupported(view, accepted);
  }
  return out;
}

}  // namespace

std::vector<float> to_float32(const TensorView& view) { return to_floating<float>(view, "F32, F16, BF16 or F64"); }

std::vector<double> to_float64(const TensorView& view) { return to_floating<double>(view, "F64, F32, F16 or BF16"); }

std::vector<int64_t> to_int64(const TensorView& view) {
  const size_t n = checked_count(view);
  std::vector<int64_t> out(n);
  switch (view.dtype) {
    case Dtype::kI64:
      if (n) std::memcpy(out.data(), view.data, n * sizeof(int64_t));
      break;
    case Dtype::kI32:
      for (size_t i = 0; i < n; ++i) out[i] = load<int32_t>(view.data, i);
      break;
    case Dtype::kI16:
      for (size_t i = 0; i < n; ++i) out[i] = load<int16_t>(view.data, i);
      break;
    case Dtype::kI8:
      for (size_t i = 0; i < n; ++i) out[i] = load<int8_t>(view.data, i);
      break;
    case Dtype::kU8:
    case Dtype::kBool:
      for (size_t i = 0; i < n; ++i) out[i] = load<uint8_t>(view.data, i);
      break;
    default:
      unsupported(view, "I64, I32, I16, I8, U8 or BOOL");
  }
  return out;
}

}  // namespace bert
