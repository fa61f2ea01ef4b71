// checksums.json of a checkpoint: written last, verified on resume.
#include "engine/checkpoint_checksums.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <map>
#include <simdjson.h>

#include "core/error.h"
#include "core/file_io.h"
#include "core/json_text.h"
#include "logging/crc32c.h"
#include "engine/training_state.h"  // kChecksumsFile

namespace bert {
namespace {

namespace fs = std::filesystem;

constexpr const char* kFormat = "bert-squad checkpoint checksums";
constexpr int kVersion = 1;

struct FileSum {
  uint64_t bytes = 0;
  uint32_t crc = 0;
};

FileSum checksum_file(const std::string& path) {
  const InputFile file = InputFile::open(path, UINT64_MAX);  // read in pieces: any size
  std::vector<char> chunk(size_t(4) << 20);
  FileSum sum;
  sum.bytes = file.size();
  for (uint64_t offset = 0; offset < sum.bytes; offset += chunk.size()) {
    const size_t bytes = static_cast<size_t>(std::min<uint64_t>(chunk.size(), sum.bytes - offset));
    file.read_range(offset, chunk.data(), bytes);
    sum.crc = crc32c_extend(sum.crc, chunk.data(), bytes);
  }
  return sum;
}

std::string hex32(uint32_t value) {
  char text[12];
  std::snprintf(text, sizeof text, "%08" PRIx32, value);
  return text;
}

// The checkpoint files of dir that checksums.json must cover, sorted.
std::vector<std::string> files_to_cover(const std::string& dir) {
  std::vector<std::string> names;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name == kChecksumsFile || name.find(".tmp.") != std::string::npos) continue;
    if (entry.is_regular_file()) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::map<std::string, FileSum> read_manifest(const std::string& dir) {
  const std::string path = join_path(dir, kChecksumsFile);
  if (!path_exists(path))
    throw_input_error(path, "", "missing: every checkpoint carries one, written last; this checkpoint is incomplete "
                                "(or from a version without checksums) and cannot be verified");
  const std::string text = read_file(path);
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (const auto error = parser.parse(simdjson::padded_string(text)).get(root))
    throw_input_error(path, "", std::string("not valid JSON: ") + simdjson::error_message(error));
  std::string_view format;
  int64_t version = 0;
  simdjson::dom::object files;
  if (root["format"].get_string().get(format) || format != kFormat)
    throw_input_error(path, "format", std::string("expected \"") + kFormat + "\"");
  if (root["version"].get_int64().get(version) || version != kVersion)
    throw_input_error(path, "version", "expected " + std::to_string(kVersion));
  if (root["files"].get_object().get(files)) throw_input_error(path, "files", "expected an object");
  std::map<std::string, FileSum> out;
  for (auto field : files) {
    const std::string name(field.key);
    const std::string where = "files.\"" + name + "\"";
    int64_t bytes = -1;
    std::string_view crc;
    if (field.value["bytes"].get_int64().get(bytes) || bytes < 0)
      throw_input_error(path, where + ".bytes", "expected a non-negative integer");
    if (field.value["crc32c"].get_string().get(crc) || crc.size() != 8 ||
        crc.find_first_not_of("0123456789abcdef") != std::string_view::npos)
      throw_input_error(path, where + ".crc32c", "expected 8 lower-case hex digits");
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
      throw_input_error(path, where, "expected a file name inside the checkpoint");
    out[name] = FileSum{static_cast<uint64_t>(bytes), static_cast<uint32_t>(std::stoul(std::string(crc), nullptr, 16))};
  }
  return out;
}

void verify_file(const std::string& dir, const std::string& name, const FileSum& expected) {
  const std::string path = join_path(dir, name);
  if (!path_exists(path))
    throw_input_error(path, "", std::string("missing, but ") + kChecksumsFile + " lists it: the checkpoint is incomplete");
  const FileSum actual = checksum_file(path);
  if (actual.bytes != expected.bytes)
    throw_input_error(path, "", "is " + std::to_string(actual.bytes) + " bytes, but " + kChecksumsFile + " records " +
                                    std::to_string(expected.bytes) + ": the file changed after the checkpoint was "
                                    "saved (damaged or edited); resume from another checkpoint");
  if (actual.crc != expected.crc)
    throw_input_error(path, "", "checksum mismatch: crc32c " + hex32(actual.crc) + ", but " + kChecksumsFile +
                                    " records " + hex32(expected.crc) + ": the file changed after the checkpoint "
                                    "was saved (damaged or edited); resume from another checkpoint");
}

}  // namespace

void write_checkpoint_checksums(const std::string& dir) {
  std::string json = std::string("{\n  \"format\": \"") + kFormat + "\",\n  \"version\": " + std::to_string(kVersion) +
                     ",\n  \"files\": {";
  bool first = true;
  for (const std::string& name : files_to_cover(dir)) {
    const FileSum sum = checksum_file(join_path(dir, name));
    json += std::string(first ? "\n" : ",\n") + "    " + json_quote(name) + ": {\"bytes\": " + std::to_string(sum.bytes) +
            ", \"crc32c\": \"" + hex32(sum.crc) + "\"}";
    first = false;
  }
  json += "\n  }\n}\n";
  write_file_atomic(join_path(dir, kChecksumsFile), json);
}

void verify_checkpoint_checksums(const std::string& dir, const std::vector<std::string>& names) {
  const std::map<std::string, FileSum> manifest = read_manifest(dir);
  const std::string manifest_path = join_path(dir, kChecksumsFile);
  if (!names.empty()) {
    for (const std::string& name : names) {
      const auto it = manifest.find(name);
      if (it == manifest.end())
        throw_input_error(manifest_path, "files", "does not list " + name + ": the checkpoint cannot be verified");
      verify_file(dir, name, it->second);
    }
    return;
  }
  for (const std::string& name : files_to_cover(dir))
    if (!manifest.count(name))
      throw_input_error(join_path(dir, name), "",
                        std::string("not listed in ") + kChecksumsFile + ": added after the checkpoint was saved");
  for (const auto& [name, sum] : manifest) verify_file(dir, name, sum);
}

}  // namespace bert
