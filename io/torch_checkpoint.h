// PyTorch checkpoints as transformers' save_pretrained wrote them before safetensors became its
// default (pytorch_model.bin, and its shards with pytorch_model.bin.index.json), read without
// Python and without running the pickle, in both of torch.save's formats:
// - the zip format (torch >= 1.6): an uncompressed ("stored") zip archive whose entries sit under
//   one top-level directory: <dir>/data.pkl, the pickled state dict, and <dir>/data/<key>, each
//   storage's raw little-endian bytes (<dir>/byteorder, when present, must say "little");
// - the legacy format (before 1.6; the Hub's older checkpoints): pickles in sequence, then the
//   storages' bytes.
// The pickles go through io/torch_pickle.h's restricted unpickler, which honours only tensors.
// The file is memory-mapped and every tensor is a byte range of it, so nothing is copied until
// a tensor is converted.
//
// Refused, each with an InputError naming the file (and the tensor or entry) and what to do:
// compressed or encrypted entries, big-endian storages, a tensor that is not row-major (strides
// of a transpose: re-save it .contiguous()) or that runs past its storage, a Git LFS pointer,
// and whatever the unpickler refuses.
#pragma once

#include <string>

#include "io/safetensors.h"

namespace bert {

// Opens a torch.save checkpoint (either format) as a tensor file (metadata {"format": "pt"}).
SafetensorsFile open_torch_checkpoint(const std::string& path);

// The same over bytes in memory (`owner` keeps them alive; for tests and the fuzzer).
SafetensorsFile torch_checkpoint_from_bytes(const std::string& path, MappedFile file);

}  // namespace bert
