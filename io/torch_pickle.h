// The pickle inside a PyTorch checkpoint (`torch.save(state_dict)`: the data.pkl of its zip
// archive), read without running anything: a restricted unpickler in the spirit of
// torch.load(weights_only=True). It knows the opcodes pickle protocols 2-5 use for dicts,
// tuples, lists, strings, numbers and booleans, and exactly these globals:
//   collections.OrderedDict                       -> an empty dict
//   torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
//                                   backward_hooks[, metadata])           -> a tensor
//   torch._utils._rebuild_parameter(tensor, requires_grad, backward_hooks) -> the tensor
//   torch.<Type>Storage (Float, Half, BFloat16, Double, Long, Int, Short, Char, Byte, Bool),
//   named by the persistent ids ('storage', <type>, <key>, <location>, <numel>) that refer to
//   the archive's data/<key> entries.
// Any other global, opcode or shape is refused (InputError naming the file, the byte offset and
// what was found): a pickle from elsewhere can call any Python function, so nothing else is
// honoured. BUILD on a dict (an OrderedDict's _metadata, which state_dict() attaches) is
// accepted and its state dropped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "io/safetensors.h"  // Dtype

namespace bert {

// One tensor of the state dict: a view into a storage of the archive.
struct TorchTensorRef {
  std::string name;         // the state dict's key
  std::string storage_key;  // the archive entry data/<storage_key>
  Dtype dtype = Dtype::kF32;
  int64_t storage_numel = 0;  // elements the storage holds (as pickled)
  int64_t storage_offset = 0;
  std::vector<int64_t> shape, stride;
};

// The tensors of a pickled state dict ({name: tensor}, an OrderedDict or a dict), in the
// pickle's order. `path` names the file in messages.
std::vector<TorchTensorRef> read_torch_state_dict_pickle(const std::string& path, const uint8_t* bytes, size_t size);

// torch's legacy format (torch.save before torch 1.6, or with _use_new_zipfile_serialization=False):
// pickles in sequence (the magic number, the version 1001, sys_info, the state dict, the list of
// storage keys), then each listed storage as an int64 element count and its raw bytes.
struct LegacyTorchFile {
  struct Storage {
    uint64_t data_offset = 0;  // of its bytes in the file
    uint64_t size = 0;         // bytes
  };
  std::vector<TorchTensorRef> tensors;
  std::map<std::string, Storage> storages;  // by key
};
bool looks_like_legacy_torch_file(const uint8_t* bytes, size_t size);  // its magic number
LegacyTorchFile read_legacy_torch_file(const std::string& path, const uint8_t* bytes, size_t size);

}  // namespace bert
