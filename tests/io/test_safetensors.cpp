// safetensors round trips and dtype conversions (the golden files written by Hugging Face:
// test_io_golden.cpp).
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>

#include "io/safetensors.h"
#include "tests/io/io_test_util.h"

using namespace bert;
using namespace bert::test;

namespace {

std::vector<float> ramp(size_t n, float scale) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = scale * (static_cast<float>(i) - 0.37f * n);
  return v;
}

}  // namespace

TEST_CASE("safetensors F32 round trip keeps values, shapes, metadata; layout as official", "[io][safetensors]") {
  TempDir dir;
  const std::string path = dir.file("round.safetensors");
  const std::vector<float> w = ramp(6, 0.1f), b = {NAN, INFINITY, -0.0f}, scalar = {42.5f};
  const std::vector<float> c = ramp(5, 1e-30f);
  write_safetensors(path,
                    {{"zeta.weight", {2, 3}, w.data()},
                     {"alpha.bias", {3}, b.data()},
                     {"mid", {}, scalar.data()},
                     {"empty", {0, 4}, nullptr},
                     {"beta", {5}, c.data()}},
                    {{"format", "pt"}, {"note", "quote \" and \\ and \n"}});

  const std::string image = read_file(path);
  const uint64_t n = header_length(image);
  CHECK(n % 8 == 0);
  CHECK(image[8] == '{');
  CHECK(image.size() == 8 + n + (6 + 3 + 1 + 5) * 4);
  CHECK(std::filesystem::directory_iterator(dir.path()) != std::filesystem::directory_iterator());
  for (const auto& entry : std::filesystem::directory_iterator(dir.path()))  // no temp left over
    CHECK(entry.path().filename() == "round.safetensors");

  const SafetensorsFile file = SafetensorsFile::open(path);
  CHECK(file.metadata().at("format") == "pt");
  CHECK(file.metadata().at("note") == "quote \" and \\ and \n");
  CHECK(file.names() == std::vector<std::string>{"alpha.bias", "beta", "empty", "mid", "zeta.weight"});
  CHECK(file.info("zeta.weight").shape == std::vector<int64_t>{2, 3});
  CHECK(file.info("mid").shape.empty());
  CHECK(file.info("zeta.weight").dtype == Dtype::kF32);
  // Sorted by name: each tensor starts where the previous name's tensor ended.
  uint64_t offset = 0;
  for (const std::string& name : file.names()) {
    CHECK(file.info(name).begin == offset);
    offset = file.info(name).end;
  }
  CHECK(file.read_f32("zeta.weight") == w);
  CHECK(file.read_f32("beta") == c);
  CHECK(file.read_f32("mid") == scalar);
  CHECK(file.read_f32("empty").empty());
  const std::vector<float> back = file.read_f32("alpha.bias");
  CHECK(std::isnan(back[0]));
  CHECK(back[1] == INFINITY);
  CHECK(std::signbit(back[2]));
  CHECK(file.read_f64("beta")[3] == static_cast<double>(c[3]));

  // Overwriting an existing file replaces it.
  write_safetensors(path, {{"only", {1}, scalar.data()}});
  CHECK(SafetensorsFile::open(path).names() == std::vector<std::string>{"only"});
  CHECK(SafetensorsFile::open(path).metadata().empty());
}

TEST_CASE("safetensors BF16 writing rounds to nearest even and orders larger dtypes first", "[io][safetensors]") {
  CHECK(float_to_bf16(1.0f) == 0x3f80);
  CHECK(bf16_to_float(0x3f80) == 1.0f);
  // 1 + 2^-8 is halfway between bf16 1.0 and 1.0078125: ties go to the even mantissa (1.0).
  CHECK(float_to_bf16(1.0f + std::ldexp(1.0f, -8)) == 0x3f80);
  CHECK(float_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)) == 0x3f82);
  CHECK(float_to_bf16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)) == 0x3f81);
  CHECK(std::isnan(bf16_to_float(float_to_bf16(NAN))));

  TempDir dir;
  const std::string path = dir.file("mixed.safetensors");
  const std::vector<float> values = ramp(7, 0.013f);
  write_safetensors(path, {{"a_half", {7}, values.data(), Dtype::kBF16},
                           {"z_full", {7}, values.data(), Dtype::kF32}});
  const SafetensorsFile file = SafetensorsFile::open(path);
  CHECK(file.info("z_full").begin == 0);  // F32 before BF16 despite the name order
  CHECK(file.info("a_half").dtype == Dtype::kBF16);
  const std::vector<float> half = file.read_f32("a_half");
  for (size_t i = 0; i < values.size(); ++i) {
    CHECK(half[i] == bf16_to_float(float_to_bf16(values[i])));
    CHECK(std::fabs(half[i] - values[i]) <= std::fabs(values[i]) * std::ldexp(1.0f, -8));
  }
}

TEST_CASE("safetensors writer refuses invalid requests", "[io][safetensors]") {
  TempDir dir;
  const std::string path = dir.file("bad.safetensors");
  const std::vector<float> v(4, 1.0f);
  CHECK_THROWS_AS(write_safetensors(path, {{"a", {4}, v.data()}, {"a", {4}, v.data()}}), BertError);
  CHECK_THROWS_AS(write_safetensors(path, {{"__metadata__", {4}, v.data()}}), BertError);
  CHECK_THROWS_AS(write_safetensors(path, {{"a", {-1}, v.data()}}), BertError);
  CHECK_THROWS_AS(write_safetensors(path, {{"a", {4}, nullptr}}), BertError);
  CHECK_THROWS_AS(write_safetensors(path, {{"a", {4}, v.data(), Dtype::kI64}}), BertError);
  CHECK_FALSE(path_exists(path));
  CHECK_THROWS_AS(write_safetensors(dir.file("no/such/dir/x.safetensors"), {{"a", {4}, v.data()}}),
                  BertError);
}

TEST_CASE("safetensors converts F16, BF16, F64 and integer dtypes", "[io][safetensors]") {
  TempDir dir;
  const std::string path = dir.file("dtypes.safetensors");
  // Buffer, in order: F64 [2] (16 B), I64 [2] (16 B), I32 [2] (8 B), F16 [6] (12 B),
  // BF16 [2] (4 B), I16 [1] (2 B), I8 [1], U8 [1], BOOL [2] (1 B each).
  std::string buffer;
  auto put = [&](const auto& value) {
    buffer.append(reinterpret_cast<const char*>(&value), sizeof value);
  };
  put(0.1); put(-3e300);
  put(int64_t{-5}); put(int64_t{1} << 40);
  put(int32_t{-2}); put(int32_t{7});
  for (uint16_t bits : {0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x3555}) put(bits);
  put(uint16_t{0x3f80}); put(uint16_t{0xc0a0});
  put(int16_t{-300}); put(int8_t{-100}); put(uint8_t{200}); put(uint8_t{1}); put(uint8_t{0});
  auto entry = [](const char* name, const char* dtype, const char* shape, size_t begin, size_t end) {
    return std::string("\"") + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape +
           ",\"data_offsets\":[" + std::to_string(begin) + "," + std::to_string(end) + "]}";
  };
  const std::string header = "{" + entry("f64", "F64", "[2]", 0, 16) + "," +
                             entry("i64", "I64", "[2]", 16, 32) + "," + entry("i32", "I32", "[2]", 32, 40) +
                             "," + entry("f16", "F16", "[6]", 40, 52) + "," +
                             entry("bf16", "BF16", "[2]", 52, 56) + "," + entry("i16", "I16", "[1]", 56, 58) +
                             "," + entry("i8", "I8", "[1]", 58, 59) + "," + entry("u8", "U8", "[1]", 59, 60) +
                             "," + entry("flag", "BOOL", "[2]", 60, 62) + "}";
  write_file_atomic(path, raw_safetensors(header, buffer));
  const SafetensorsFile file = SafetensorsFile::open(path);

  CHECK(file.read_f64("f64") == std::vector<double>{0.1, -3e300});
  CHECK(file.read_f32("f64")[0] == 0.1f);
  CHECK(file.read_i64("i64") == std::vector<int64_t>{-5, int64_t{1} << 40});
  CHECK(file.read_i64("i32") == std::vector<int64_t>{-2, 7});
  const std::vector<float> f16 = file.read_f32("f16");
  CHECK(f16[0] == 1.0f);
  CHECK(f16[1] == -2.0f);
  CHECK(f16[2] == 65504.0f);
  CHECK(f16[3] == std::ldexp(1.0f, -24));
  CHECK(f16[4] == INFINITY);
  CHECK(f16[5] == Approx(1.0 / 3.0).epsilon(1e-3));
  CHECK(file.read_f64("f16")[0] == 1.0);
  CHECK(file.read_f32("bf16") == std::vector<float>{1.0f, -5.0f});
  CHECK(file.read_i64("i16") == std::vector<int64_t>{-300});
  CHECK(file.read_i64("i8") == std::vector<int64_t>{-100});
  CHECK(file.read_i64("u8") == std::vector<int64_t>{200});
  CHECK(file.read_i64("flag") == std::vector<int64_t>{1, 0});

  std::string message = input_error_of([&] { file.read_f32("i64"); });
  CHECK(contains(message, path));
  CHECK(contains(message, "tensor \"i64\""));
  CHECK(contains(message, "dtype I64"));
  message = input_error_of([&] { file.read_i64("f64"); });
  CHECK(contains(message, "tensor \"f64\""));
  CHECK(contains(message, "F64"));
}
