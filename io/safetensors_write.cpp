// safetensors writer: builds the JSON header, then streams the tensors into a temp file
// that is renamed over the target, so a crash never leaves a half-written checkpoint and
// a 440 MB model is never copied into one big string.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <set>
#include <unistd.h>

#include "core/error.h"
#include "core/file_io.h"
#include "core/json_text.h"
#include "io/safetensors.h"

namespace bert {
namespace {


// Bounds numel x 8 bytes well inside int64, so offsets never overflow.
constexpr uint64_t kMaxNumel = static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / 16;

struct Planned {
  const TensorToWrite* tensor;
  uint64_t numel, begin, end;
};

std::vector<Planned> plan_layout(const std::string& path, const std::vector<TensorToWrite>& tensors) {
  std::vector<Planned> plan;
  std::set<std::string> names;
  for (const TensorToWrite& t : tensors) {
    const std::string where = path + ": tensor \"" + t.name + "\": ";
    if (t.name == "__metadata__") throw BertError(where + "reserved name");
    if (!names.insert(t.name).second) throw BertError(where + "duplicate name");
    if (t.dtype != Dtype::kF32 && t.dtype != Dtype::kBF16)
      throw BertError(where + "can only write F32 or BF16, not " + dtype_name(t.dtype));
    uint64_t numel = 1;
    for (int64_t d : t.shape) {
      if (d < 0) throw BertError(where + "negative dimension in " + shape_to_string(t.shape));
      if (d != 0 && numel > kMaxNumel / static_cast<uint64_t>(d))
        throw BertError(where + "shape " + shape_to_string(t.shape) + " is too large");
      numel *= static_cast<uint64_t>(d);
    }
    if (numel > 0 && !t.data) throw BertError(where + "null data");
    plan.push_back({&t, numel, 0, 0});
  }
  // As the official library: larger element types first (keeps every tensor aligned to
  // its element size), then by name.
  std::sort(plan.begin(), plan.end(), [](const Planned& a, const Planned& b) {
    const size_t sa = dtype_size(a.tensor->dtype), sb = dtype_size(b.tensor->dtype);
    if (sa != sb) return sa > sb;
    return a.tensor->name < b.tensor->name;
  });
  uint64_t offset = 0;
  for (Planned& p : plan) {
    p.begin = offset;
    offset += p.numel * dtype_size(p.tensor->dtype);
    p.end = offset;
  }
  return plan;
}

std::string build_header(const std::vector<Planned>& plan,
                         const std::map<std::string, std::string>& metadata) {
  std::string header = "{";
  bool first = true;
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    for (const auto& [key, value] : metadata) {
      if (!first) header += ",";
      first = false;
      header += json_quote(key) + ":" + json_quote(value);
    }
    header += "}";
    first = false;
  }
  for (const Planned& p : plan) {
    if (!first) header += ",";
    first = false;
    header += json_quote(p.tensor->name) + ":{\"dtype\":\"" + dtype_name(p.tensor->dtype) +
              "\",\"shape\":[";
    for (size_t i = 0; i < p.tensor->shape.size(); ++i) {
      if (i) header += ",";
      header += std::to_string(p.tensor->shape[i]);
    }
    header += "],\"data_offsets\":[" + std::to_string(p.begin) + "," + std::to_string(p.end) + "]}";
  }
  header += "}";
  // Pad with spaces so the data buffer starts 8-byte aligned within the file.
  while (header.size() % 8 != 0) header += ' ';
  return header;
}

// Writes one tensor's bytes; BF16 is converted in chunks to bound the extra memory.
bool write_tensor(std::FILE* out, const Planned& p) {
  const TensorToWrite& t = *p.tensor;
  if (p.numel == 0) return true;
  if (t.dtype == Dtype::kF32) return std::fwrite(t.data, sizeof(float), p.numel, out) == p.numel;
  constexpr size_t kChunk = 1 << 16;
  std::vector<uint16_t> chunk(kChunk);
  for (uint64_t start = 0; start < p.numel; start += kChunk) {
    const size_t count = static_cast<size_t>(std::min<uint64_t>(kChunk, p.numel - start));
    for (size_t i = 0; i < count; ++i) chunk[i] = float_to_bf16(t.data[start + i]);
    if (std::fwrite(chunk.data(), sizeof(uint16_t), count, out) != count) return false;
  }
  return true;
}

}  // namespace

void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  check_output_file(path);  // never rename over a directory or a device, before any work
  const std::vector<Planned> plan = plan_layout(path, tensors);
  const std::string header = build_header(plan, metadata);
  const uint64_t header_len = header.size();
  write_file_atomic_with(path, [&](std::FILE* out) {
    bool ok = std::fwrite(&header_len, 8, 1, out) == 1 &&
              std::fwrite(header.data(), 1, header.size(), out) == header.size();
    for (size_t i = 0; ok && i < plan.size(); ++i) ok = write_tensor(out, plan[i]);
    return ok;
  });
}

}  // namespace bert
