// Every way a safetensors file can be wrong, each from a hand-made file: the reader must
// throw InputError naming the file and the tensor (or the header position).
#include <catch2/catch.hpp>

#include "io/safetensors.h"
#include "tests/io/io_test_util.h"

using namespace bert;
using namespace bert::test;

namespace {

// Writes the image to <dir>/<name>.safetensors and returns the message of opening it.
std::string open_error(const TempDir& dir, const std::string& name, const std::string& image) {
  const std::string path = dir.file(name + ".safetensors");
  write_file_atomic(path, image);
  return input_error_of([&] { SafetensorsFile::open(path); });
}

std::string f32_entry(const std::string& shape, uint64_t begin, uint64_t end) {
  return "{\"dtype\":\"F32\",\"shape\":" + shape + ",\"data_offsets\":[" + std::to_string(begin) +
         "," + std::to_string(end) + "]}";
}

struct Case {
  const char* label;
  std::string image;
  std::vector<std::string> expected_parts;  // besides the path
};

std::string length_prefix(uint64_t n) {
  std::string out(8, '\0');
  std::memcpy(out.data(), &n, 8);
  return out;
}

}  // namespace

TEST_CASE("safetensors reader rejects malformed files, naming file and tensor", "[io][safetensors]") {
  TempDir dir;
  const std::string b8(8, '\0'), b12(12, '\0'), b16(16, '\0');
  const std::vector<Case> cases = {
      {"empty", "", {"0 bytes", "shorter than the 8-byte header length"}},
      {"short", "abcde", {"5 bytes", "shorter"}},
      {"header_past_end", length_prefix(1000) + "{}", {"header length 1000", "past the end"}},
      {"header_absurd", length_prefix(uint64_t{1} << 40) + "{}", {"exceeds the limit"}},
      {"header_max", length_prefix(~uint64_t{0}) + "{}", {"exceeds the limit"}},
      {"git_lfs_pointer",
       "version https://git-lfs.github.com/spec/v1\noid sha256:4b0a\nsize 440473133\n",
       {"Git LFS pointer", "git lfs pull"}},
      {"header_empty", raw_safetensors("", ""), {"byte 8", "'{'"}},
      {"bad_json", raw_safetensors("{\"a\": {\"dtype\": ", ""), {"not valid JSON"}},
      {"not_object", raw_safetensors("[1, 2]", ""), {"'{'"}},
      {"json_trailing_garbage", raw_safetensors("{} x", ""), {"not valid JSON"}},
      {"entry_not_object", raw_safetensors("{\"w\": 3}", ""), {"\"w\"", "expected an object"}},
      {"missing_dtype", raw_safetensors("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", std::string(4, 0)),
       {"\"w\"", "missing field \"dtype\""}},
      {"missing_shape", raw_safetensors("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", std::string(4, 0)),
       {"\"w\"", "missing field \"shape\""}},
      {"missing_offsets", raw_safetensors("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", std::string(4, 0)),
       {"\"w\"", "missing field \"data_offsets\""}},
      {"dtype_not_string", raw_safetensors("{\"w\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", std::string(4, 0)),
       {"\"w\".dtype", "expected a string"}},
      {"unknown_dtype", raw_safetensors("{\"w\":{\"dtype\":\"F128\",\"shape\":[1],\"data_offsets\":[0,4]}}", std::string(4, 0)),
       {"\"w\".dtype", "unknown dtype \"F128\""}},
      {"shape_not_array", raw_safetensors("{\"w\":" + f32_entry("\"2\"", 0, 8) + "}", b8),
       {"\"w\".shape", "expected an array"}},
      {"shape_fraction", raw_safetensors("{\"w\":" + f32_entry("[1.5]", 0, 8) + "}", b8),
       {"\"w\".shape[0]", "non-negative integer"}},
      {"shape_negative", raw_safetensors("{\"w\":" + f32_entry("[2,-1]", 0, 8) + "}", b8),
       {"\"w\".shape[1]", "must be >= 0, found -1"}},
      {"shape_huge_dim", raw_safetensors("{\"w\":" + f32_entry("[18446744073709551615]", 0, 8) + "}", b8),
       {"\"w\".shape[0]", "too large"}},
      {"shape_overflow", raw_safetensors("{\"w\":" + f32_entry("[4294967296,4294967296,16]", 0, 8) + "}", b8),
       {"\"w\".shape", "overflows"}},
      {"offsets_short", raw_safetensors("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", b8),
       {"\"w\".data_offsets", "[begin, end]"}},
      {"offsets_negative", raw_safetensors("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", b8),
       {"\"w\".data_offsets[0]", ">= 0"}},
      {"offsets_reversed", raw_safetensors("{\"w\":" + f32_entry("[2]", 8, 0) + "}", b8),
       {"\"w\".data_offsets", "ends before it begins"}},
      {"wrong_byte_count", raw_safetensors("{\"w\":" + f32_entry("[3]", 0, 8) + "}", b8),
       {"\"w\".data_offsets", "holds 8 bytes", "needs 12"}},
      {"past_end", raw_safetensors("{\"a\":" + f32_entry("[2]", 0, 8) + ",\"w\":" + f32_entry("[2]", 8, 16) + "}", b12),
       {"\"w\".data_offsets", "past the end of the data buffer (12 bytes)"}},
      {"overlap", raw_safetensors("{\"a\":" + f32_entry("[2]", 0, 8) + ",\"w\":" + f32_entry("[2]", 4, 12) + "}", b12),
       {"\"w\".data_offsets", "overlap", "inside tensor \"a\""}},
      {"same_range", raw_safetensors("{\"a\":" + f32_entry("[2]", 0, 8) + ",\"w\":" + f32_entry("[2]", 0, 8) + "}", b8),
       {"\"w\".data_offsets", "overlap"}},
      {"gap", raw_safetensors("{\"a\":" + f32_entry("[1]", 0, 4) + ",\"w\":" + f32_entry("[1]", 8, 12) + "}", b12),
       {"\"w\".data_offsets", "gap", "tensor \"a\" ends at byte 4"}},
      {"not_from_zero", raw_safetensors("{\"w\":" + f32_entry("[1]", 4, 8) + "}", b8),
       {"\"w\".data_offsets", "gap", "begins at byte 4"}},
      {"trailing_bytes", raw_safetensors("{\"w\":" + f32_entry("[1]", 0, 4) + "}", b8),
       {"4 trailing bytes after tensor \"w\""}},
      {"duplicate_name", raw_safetensors("{\"w\":" + f32_entry("[1]", 0, 4) + ",\"w\":" + f32_entry("[1]", 4, 8) + "}", b8),
       {"tensor \"w\"", "duplicate tensor name"}},
      {"metadata_not_string", raw_safetensors("{\"__metadata__\":{\"format\":\"pt\",\"steps\":3}}", ""),
       {"__metadata__.\"steps\"", "expected a string"}},
      {"metadata_not_object", raw_safetensors("{\"__metadata__\":[\"pt\"]}", ""),
       {"__metadata__", "expected an object"}},
  };
  for (const Case& c : cases) {
    const std::string message = open_error(dir, c.label, c.image);
    INFO(c.label << ": " << message);
    CHECK(contains(message, dir.file(std::string(c.label) + ".safetensors")));
    for (const std::string& part : c.expected_parts) CHECK(contains(message, part));
  }
}

TEST_CASE("safetensors reader rejects a truncated real file, naming the cut tensor", "[io][safetensors]") {
  TempDir dir;
  const std::vector<float> a(6, 1.0f), b(10, 2.0f);
  const std::string path = dir.file("model.safetensors");
  write_safetensors(path, {{"a", {2, 3}, a.data()}, {"b", {10}, b.data()}});
  std::string image = read_file(path);
  REQUIRE_NOTHROW(SafetensorsFile::open(path));
  image.resize(image.size() - 4);
  write_file_atomic(path, image);
  const std::string message = input_error_of([&] { SafetensorsFile::open(path); });
  INFO(message);
  CHECK(contains(message, path));
  CHECK(contains(message, "tensor \"b\""));
  CHECK(contains(message, "past the end"));
  CHECK(contains(message, "incomplete download"));
}

TEST_CASE("safetensors opens a file holding 8-bit floats and refuses to read them as float", "[io][safetensors]") {
  TempDir dir;
  const std::string path = dir.file("f8.safetensors");
  write_file_atomic(path, raw_safetensors("{\"q\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]},"
                                          "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[2,6]}}",
                                          std::string(6, '\0')));
  const SafetensorsFile file = SafetensorsFile::open(path);
  CHECK(file.info("q").dtype == Dtype::kF8E4M3);
  CHECK(file.read_f32("w") == std::vector<float>{0.0f});
  const std::string message = input_error_of([&] { file.read_f32("q"); });
  INFO(message);
  CHECK(contains(message, "tensor \"q\""));
  CHECK(contains(message, "dtype F8_E4M3 cannot be read"));
}

TEST_CASE("safetensors reader reports a missing file and a missing tensor", "[io][safetensors]") {
  TempDir dir;
  const std::string missing = dir.file("absent.safetensors");
  std::string message = input_error_of([&] { SafetensorsFile::open(missing); });
  CHECK(contains(message, missing));
  CHECK(contains(message, "cannot open"));

  const std::string path = dir.file("one.safetensors");
  const std::vector<float> w = {1, 2};
  write_safetensors(path, {{"w", {2}, w.data()}});
  const SafetensorsFile file = SafetensorsFile::open(path);
  message = input_error_of([&] { file.info("nope"); });
  CHECK(contains(message, path));
  CHECK(contains(message, "tensor \"nope\""));
}

TEST_CASE("safetensors accepts the edge cases the format allows", "[io][safetensors]") {
  TempDir dir;
  // Empty file list, null metadata, zero-size tensors at any position, trailing spaces in
  // the header, and unknown extra fields in an entry.
  const std::string path = dir.file("edge.safetensors");
  const std::string header =
      "{\"__metadata__\":null,\"z\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[4,4]},"
      "\"s\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[0,4],\"extra\":1}}   ";
  const int32_t value = -7;
  write_file_atomic(path, raw_safetensors(header, std::string(reinterpret_cast<const char*>(&value), 4)));
  const SafetensorsFile file = SafetensorsFile::open(path);
  CHECK(file.metadata().empty());
  CHECK(file.names() == std::vector<std::string>{"s", "z"});
  CHECK(file.read_i64("s") == std::vector<int64_t>{-7});
  CHECK(file.read_f32("z").empty());
  CHECK(file.info("z").shape == std::vector<int64_t>{0, 3});

  const std::string empty = dir.file("empty.safetensors");
  write_file_atomic(empty, raw_safetensors("{}", ""));
  CHECK(SafetensorsFile::open(empty).names().empty());
}
