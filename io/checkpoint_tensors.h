// The tensors of a Hugging Face checkpoint, from one model.safetensors or from the shards that a
// model.safetensors.index.json maps (save_pretrained shards any checkpoint above
// max_shard_size), seen as one set of names; the same for the PyTorch form save_pretrained
// wrote before safetensors (pytorch_model.bin, pytorch_model.bin.index.json: io/torch_checkpoint.h). Also: which files in a model directory look like
// weights this engine does not read, so that a directory holding only those is refused by name
// instead of being taken for a config-only directory and initialised randomly.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "io/safetensors.h"

namespace bert {

class CheckpointTensors {
 public:
  // One safetensors file (*.safetensors), or else a torch.save checkpoint (pytorch_model.bin).
  static CheckpointTensors from_file(const std::string& path);
  // An index {"metadata": {...}, "weight_map": {"<tensor>": "<shard file>", ...}}: each shard
  // is a plain file name in the index's directory and must hold every tensor mapped to it;
  // shard tensors the map does not name are not seen (as from_pretrained reads only the map).
  // InputError naming the index or the shard and the tensor.
  static CheckpointTensors from_index(const std::string& index_path);

  // What the tensors came from, for messages: the file, or the index.
  const std::string& path() const { return path_; }
  std::vector<std::string> names() const;  // sorted
  const TensorInfo& info(const std::string& name) const;
  std::vector<float> read_f32(const std::string& name) const;
  // Where one tensor lives (the shard's path for an index).
  const std::string& file_of(const std::string& name) const;
  // The "format" metadata of the (first) file: "pt" from torch; "tf", "flax" name other layouts.
  std::string format() const;
  size_t file_count() const { return files_.size(); }

 private:
  const SafetensorsFile& file_holding(const std::string& name) const;  // InputError when absent

  std::string path_;
  std::vector<SafetensorsFile> files_;
  std::map<std::string, size_t> owner_;  // tensor name -> index into files_
};

// The checkpoint in `dir` that load_model_dir reads, in from_pretrained's order of preference:
// "model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
// "pytorch_model.bin.index.json"; "" when there is none.
std::string find_checkpoint(const std::string& dir);

// Files in `dir` (not recursive, sorted) that hold weights in a form this engine does not read
// when find_checkpoint finds nothing: shards without their index (*.safetensors, *.bin),
// TensorFlow/Flax/Keras files, TF checkpoints, adapters, *.pt/*.pth/*.ckpt.
std::vector<std::string> unreadable_weight_files(const std::string& dir);

}  // namespace bert
