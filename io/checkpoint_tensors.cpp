// One view over a single safetensors file or an index of shards. See checkpoint_tensors.h.
#include "io/checkpoint_tensors.h"

#include <algorithm>
#include <filesystem>

#include <simdjson.h>

#include "core/error.h"
#include "core/file_io.h"
#include "core/strings.h"
#include "io/torch_checkpoint.h"

namespace bert {
namespace {

// A shard named by an index must sit beside it: a plain file name, no directories.
bool is_plain_file_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\\') == std::string::npos;
}

// A *.safetensors file, or else a torch.save checkpoint (pytorch_model.bin and its shards).
SafetensorsFile open_tensor_file(const std::string& path) {
  return ends_with(path, ".safetensors") ? SafetensorsFile::open(path) : open_torch_checkpoint(path);
}

}  // namespace

CheckpointTensors CheckpointTensors::from_file(const std::string& path) {
  CheckpointTensors out;
  out.path_ = path;
  out.files_.push_back(open_tensor_file(path));
  for (const std::string& name : out.files_[0].names()) out.owner_.emplace(name, 0);
  return out;
}

CheckpointTensors CheckpointTensors::from_index(const std::string& index_path) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  const simdjson::padded_string text(read_file(index_path));
  if (auto error = parser.parse(text).get(root))
    throw_input_error(index_path, "", std::string("not valid JSON: ") + simdjson::error_message(error));
  simdjson::dom::object weight_map;
  if (root["weight_map"].get_object().get(weight_map))
    throw_input_error(index_path, "weight_map", "missing, or not an object {\"<tensor>\": \"<shard file>\"}");

  const std::string dir = std::filesystem::path(index_path).parent_path().string();
  CheckpointTensors out;
  out.path_ = index_path;
  std::map<std::string, size_t> shard_index;  // shard file name -> index into files_
  for (auto field : weight_map) {
    const std::string tensor(field.key);
    std::string_view shard_view;
    if (field.value.get_string().get(shard_view))
      throw_input_error(index_path, "weight_map.\"" + tensor + "\"", "expected a shard file name (a string)");
    const std::string shard(shard_view);
    if (!is_plain_file_name(shard))
      throw_input_error(index_path, "weight_map.\"" + tensor + "\"",
                        "\"" + shard + "\" is not a file name in the index's directory");
    auto [it, added] = shard_index.emplace(shard, out.files_.size());
    if (added) {
      const std::string shard_path = join_path(dir, shard);
      if (!path_exists(shard_path))
        throw_input_error(index_path, "weight_map.\"" + tensor + "\"",
                          "shard " + shard_path + " does not exist (an incomplete download?)");
      out.files_.push_back(open_tensor_file(shard_path));
    }
    const SafetensorsFile& file = out.files_[it->second];
    if (!file.contains(tensor))
      throw_input_error(index_path, "weight_map.\"" + tensor + "\"",
                        "the shard " + file.path() + " has no tensor \"" + tensor + "\"");
    if (!out.owner_.emplace(tensor, it->second).second)
      throw_input_error(index_path, "weight_map.\"" + tensor + "\"", "duplicate key");
  }
  if (out.files_.empty()) throw_input_error(index_path, "weight_map", "maps no tensors");
  return out;
}

std::vector<std::string> CheckpointTensors::names() const {
  std::vector<std::string> out;
  out.reserve(owner_.size());
  for (const auto& entry : owner_) out.push_back(entry.first);
  return out;
}

const SafetensorsFile& CheckpointTensors::file_holding(const std::string& name) const {
  auto it = owner_.find(name);
  if (it == owner_.end()) throw_input_error(path_, "tensor \"" + name + "\"", "no such tensor in the checkpoint");
  return files_[it->second];
}

const std::string& CheckpointTensors::file_of(const std::string& name) const { return file_holding(name).path(); }

const TensorInfo& CheckpointTensors::info(const std::string& name) const { return file_holding(name).info(name); }

std::vector<float> CheckpointTensors::read_f32(const std::string& name) const {
  return file_holding(name).read_f32(name);
}

std::string CheckpointTensors::format() const {
  if (files_.empty()) return "";
  auto it = files_[0].metadata().find("format");
  return it == files_[0].metadata().end() ? "" : it->second;
}

std::string find_checkpoint(const std::string& dir) {
  for (const char* name : {"model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                           "pytorch_model.bin.index.json"})
    if (path_exists(join_path(dir, name))) return join_path(dir, name);
  return "";
}

std::vector<std::string> unreadable_weight_files(const std::string& dir) {
  std::vector<std::string> found;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    if (!entry.is_regular_file(error)) continue;
    const std::string name = entry.path().filename().string();
    if (name == "training_args.bin") continue;  // Trainer's pickled arguments, not weights
    const bool weights =
        ends_with(name, ".safetensors") || ends_with(name, ".bin") || ends_with(name, ".bin.index.json") ||
        ends_with(name, ".h5") || ends_with(name, ".keras") || ends_with(name, ".msgpack") ||
        ends_with(name, ".pt") || ends_with(name, ".pth") || ends_with(name, ".ckpt") ||
        ends_with(name, ".onnx") || ends_with(name, ".gguf") || starts_with(name, "model.ckpt") ||
        starts_with(name, "tf_model") || starts_with(name, "flax_model");
    if (weights) found.push_back(name);
  }
  std::sort(found.begin(), found.end());
  return found;
}

}  // namespace bert
