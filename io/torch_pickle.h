// The pickle inside a PyTorch checkpoint (`torch.save(state_dict)`: the data.pkl of its zip
// archive), read without running anything: a restricted unpickler in the spirit of
// torch.load(weights_only=True). It knows the opcodes pickle protocols 2-5 use for dicts,
// tuples, lists, strings, numbers and booleans, and exactly these globals:
//   collections.OrderedDict                       -> an empty dict
//   torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
//                                   backward_hooks[, metadata])           -> a tensor
//   torch._utils._rebuild_parameter(tensor, requires_grad, backward_hooks) -> the tensor
//   torch.<Type>Storage (Float, Half, BFloat16, Double, Long, Int, Short, Char, Byte, Bool),
//   named by the persistent ids ('storage', <type>, <key>, <location>, <numel>[, view_metadata])
//   that refer to the file's storages (io/torch_checkpoint.h places them).
// Any other global, opcode or shape is refused (InputError naming the file, the byte offset and
// what was found): a pickle from elsewhere can call any Python function, so nothing else is
// honoured. BUILD on a dict (an OrderedDict's _metadata, which state_dict() attaches) is
// accepted and its state dropped.
#pragma once

#include <cstddef>
#include <cstdint>
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
// pickle's order, from the pickle that starts at byte `start` of bytes[0, size) (a legacy file
// holds several in a row); *end, when given, receives the byte after its STOP. `path` names the
// file in messages.
std::vector<TorchTensorRef> read_torch_state_dict_pickle(const std::string& path, const uint8_t* bytes, size_t size,
                                                         size_t start = 0, size_t* end = nullptr);
// The legacy format's other pickles: a list of strings (the storage keys), and sys_info's
// little_endian (true unless it says false).
std::vector<std::string> read_string_list_pickle(const std::string& path, const uint8_t* bytes, size_t size,
                                                 size_t start, size_t* end);
bool read_little_endian_pickle(const std::string& path, const uint8_t* bytes, size_t size, size_t start, size_t* end);

}  // namespace bert
