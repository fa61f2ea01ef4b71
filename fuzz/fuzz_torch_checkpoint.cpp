// libFuzzer target: torch.save zip checkpoints (io/torch_checkpoint.h) on arbitrary bytes: the
// zip directory, the restricted unpickler and the placement of every tensor in its storage,
// then every tensor's view and conversion. A bad file must throw InputError; a file that is
// accepted must let every tensor be read within the input (ASan sees any read outside it).
// Anything else is a finding. Seeds: tests/fixtures/torch-checkpoint's files (fuzz/corpus).
#include <cstdint>

#include "core/error.h"
#include "io/safetensors.h"
#include "io/torch_checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const bert::SafetensorsFile file =
        bert::torch_checkpoint_from_bytes("fuzz.bin", bert::MappedFile{nullptr, data, size});
    for (const std::string& name : file.names()) {
      const bert::TensorView view = file.view(name);
      if (view.bytes != static_cast<size_t>(view.numel()) * bert::dtype_size(view.dtype)) __builtin_trap();
      if (view.bytes && (view.data < data || view.data + view.bytes > data + size)) __builtin_trap();
      try {
        bert::to_float32(view);
      } catch (const bert::InputError&) {  // integer and bool tensors
      }
    }
  } catch (const bert::InputError&) {
  }
  return 0;
}
