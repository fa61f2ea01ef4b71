// libFuzzer target: the safetensors parser on arbitrary bytes (SafetensorsFile::from_bytes,
// the same validation open() runs on a mapped file), then every tensor's view and conversion.
// A bad file must throw InputError; a file that validates must let every tensor be read
// within the input (ASan sees any read outside it). Anything else is a finding.
#include <cstdint>
#include <memory>

#include "core/error.h"
#include "io/safetensors.h"

namespace {

bool is_float(bert::Dtype dtype) {
  return dtype == bert::Dtype::kF64 || dtype == bert::Dtype::kF32 || dtype == bert::Dtype::kF16 ||
         dtype == bert::Dtype::kBF16;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const bert::SafetensorsFile file = bert::SafetensorsFile::from_bytes("fuzz.safetensors", nullptr, data, size);
    for (const std::string& name : file.names()) {
      const bert::TensorView view = file.view(name);
      if (view.bytes != static_cast<size_t>(view.numel()) * bert::dtype_size(view.dtype)) __builtin_trap();
      if (view.bytes && (view.data < data || view.data + view.bytes > data + size)) __builtin_trap();
      try {
        if (is_float(view.dtype)) {
          if (bert::to_float32(view).size() != static_cast<size_t>(view.numel())) __builtin_trap();
          bert::to_float64(view);
        } else {
          bert::to_int64(view);  // InputError for U64/U32/U16 (no lossless int64 for all values)
        }
      } catch (const bert::InputError&) {
      }
    }
  } catch (const bert::InputError&) {
  }
  return 0;
}
