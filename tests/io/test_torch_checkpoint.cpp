// torch.save checkpoints (io/torch_checkpoint.h, io/torch_pickle.h): the files of
// tests/fixtures/torch-checkpoint, written by torch 2.15 (make_fixtures.py there) in its zip and
// legacy formats, read tensor for tensor against the values torch holds; model directories with pytorch_model.bin and its
// shards; every refusal, the pickle that would run code among them; hand-made pickles for the
// unpickler's own checks.
#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <simdjson.h>

#include "core/file_io.h"
#include "io/bert_config.h"
#include "io/checkpoint_tensors.h"
#include "io/model_dir.h"
#include "io/param_specs.h"
#include "io/torch_checkpoint.h"
#include "io/torch_pickle.h"
#include "tests/io/io_test_util.h"
#include "tests/test_support.h"

using namespace bert;
using namespace bert::test;

namespace {

std::string fixture(const std::string& name) { return fixture_path("torch-checkpoint/" + name); }

struct Expected {
  std::string dtype;
  std::vector<int64_t> shape;
  std::vector<float> values;
};

// expected.json: what torch holds for every tensor of pytorch_model.bin.
std::map<std::string, Expected> expected_tensors() {
  simdjson::dom::parser parser;
  const simdjson::padded_string text(read_file(fixture("expected.json")));
  const simdjson::dom::object root = parser.parse(text).get_object().value();
  std::map<std::string, Expected> out;
  for (const auto field : root) {
    Expected& e = out[std::string(field.key)];
    const simdjson::dom::object tensor = field.value.get_object().value();
    e.dtype = std::string(tensor["dtype"].get_string().value());
    const simdjson::dom::array shape = tensor["shape"].get_array().value();
    for (const auto dim : shape) e.shape.push_back(dim.get_int64().value());
    const simdjson::dom::array values = tensor["values"].get_array().value();
    for (const auto x : values) e.values.push_back(float(x.get_double().value()));
  }
  return out;
}

void write_model_files(const TempDir& dir) {
  write_file_atomic(dir.file("config.json"), bert_config_to_json(small_config()));
  write_vocab(dir.file("vocab.txt"), 50);
}

void copy_fixture(const std::string& name, const TempDir& dir, const std::string& as = "") {
  std::filesystem::copy_file(fixture(name), dir.file(as.empty() ? name : as));
}

std::string pickle_error(const std::string& bytes) {
  return input_error_of([&] {
    read_torch_state_dict_pickle("hand.pkl", reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  });
}

}  // namespace

TEST_CASE("a torch.save checkpoint reads as torch holds it: dtypes, shapes, shared storages, offsets",
          "[io][torch]") {
  // The same state dict in torch's zip format and in its legacy one.
  const std::string name = GENERATE(as<std::string>(), "pytorch_model.bin", "legacy.bin");
  INFO(name);
  const SafetensorsFile file = open_torch_checkpoint(fixture(name));
  const std::map<std::string, Expected> expected = expected_tensors();
  REQUIRE(expected.size() == 40);
  CHECK(file.names().size() == expected.size());
  CHECK(file.metadata().at("format") == "pt");
  const std::map<std::string, Dtype> dtypes = {{"float32", Dtype::kF32}, {"bfloat16", Dtype::kBF16},
                                               {"float16", Dtype::kF16}, {"int64", Dtype::kI64}};
  for (const auto& [name, e] : expected) {
    INFO(name);
    REQUIRE(file.contains(name));
    const TensorInfo& info = file.info(name);
    CHECK(info.dtype == dtypes.at(e.dtype));
    CHECK(info.shape == e.shape);
    if (info.dtype == Dtype::kI64) {
      const std::vector<int64_t> ids = file.read_i64(name);
      CHECK(std::vector<float>(ids.begin(), ids.end()) == e.values);
    } else {
      CHECK(file.read_f32(name) == e.values);  // bf16 and f16 widen exactly
    }
  }
  // The QA head's weight and bias are views into one float16 storage at offsets 8 and 24.
  CHECK(file.info("qa_outputs.weight").dtype == Dtype::kF16);
  CHECK(file.info("qa_outputs.bias").dtype == Dtype::kF32);  // .float() made its own storage
}

TEST_CASE("both formats read the same tensors with pickle protocols 2 to 5", "[io][torch]") {
  for (const char* name : {"small.bin", "small_legacy.bin", "small_p5.bin", "small_legacy_p4.bin"}) {
    INFO(name);
    const SafetensorsFile file = open_torch_checkpoint(fixture(name));
    CHECK(file.names() == std::vector<std::string>{"a", "b", "c", "s"});
    CHECK(file.read_f32("a") == std::vector<float>(6, 1.0f));
    CHECK(file.info("b").dtype == Dtype::kBF16);
    CHECK(file.info("b").shape == std::vector<int64_t>{2, 2});
    CHECK(file.read_f32("b") == std::vector<float>{3, 4, 5, 6});  // a view at offset 3
    CHECK(file.read_i64("c") == std::vector<int64_t>{0, 1, 2, 3});
    CHECK(file.info("s").shape.empty());
    CHECK(file.read_f32("s") == std::vector<float>{2.5f});
  }
}

TEST_CASE("a model directory with pytorch_model.bin, or its shards and index, loads the same weights",
          "[io][torch][model_dir]") {
  const std::map<std::string, Expected> expected = expected_tensors();
  TempDir single;
  write_model_files(single);
  copy_fixture("pytorch_model.bin", single);
  const LoadedModel model = load_model_dir(single.path(), 1);
  CHECK_FALSE(model.random_init);
  CHECK_FALSE(model.qa_head_initialised);
  CHECK(has_note(model, "converted 1 BF16 tensors"));
  CHECK(has_note(model, "converted 1 F16 tensors"));
  for (const ParamSpec& spec : bert_qa_param_specs(small_config())) {
    INFO(spec.name);
    CHECK(model.tensors.at(spec.name) == expected.at(spec.name).values);
  }

  TempDir sharded;
  write_model_files(sharded);
  for (const char* name : {"pytorch_model.bin.index.json", "pytorch_model-00001-of-00002.bin",
                           "pytorch_model-00002-of-00002.bin"})
    copy_fixture(name, sharded);
  const LoadedModel from_shards = load_model_dir(sharded.path(), 1);
  CHECK(from_shards.tensors == model.tensors);
  CHECK(has_note(from_shards, "read 2 shards"));

  // from_pretrained's preference: model.safetensors over pytorch_model.bin.
  save_model_dir(single.path(), model.config, model.tensors, single.file("vocab.txt"),
                 SavedTokenizer{true});
  write_file_atomic(single.file("pytorch_model.bin"), "not a checkpoint: never read");
  CHECK(load_model_dir(single.path(), 1).tensors == model.tensors);
}

TEST_CASE("torch checkpoints this engine does not read are refused naming the file and the reason",
          "[io][torch][errors]") {
  std::string message = input_error_of([] { open_torch_checkpoint(fixture("transposed.bin")); });
  CHECK(contains(message, fixture("transposed.bin")));
  CHECK(contains(message, "tensor \"w\""));
  CHECK(contains(message, "strides [1, 3]"));
  CHECK(contains(message, ".contiguous()"));

  // The pickle would call os.system when torch.load(weights_only=False) loaded it: refused by
  // name, and nothing runs (the global is never resolved).
  message = input_error_of([] { open_torch_checkpoint(fixture("code.bin")); });
  INFO(message);
  CHECK(contains(message, fixture("code.bin")));
  CHECK((contains(message, "posix.system") || contains(message, "os.system")));
  CHECK(contains(message, "not allowed"));

  TempDir dir;
  write_file_atomic(dir.file("garbage.bin"), "not a zip");
  message = input_error_of([&] { open_torch_checkpoint(dir.file("garbage.bin")); });
  CHECK(contains(message, "not a torch.save checkpoint"));

  write_file_atomic(dir.file("lfs.bin"), "version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 438000000\n");
  message = input_error_of([&] { open_torch_checkpoint(dir.file("lfs.bin")); });
  CHECK(contains(message, "Git LFS pointer"));

  // Cut short, as an interrupted download leaves it, in either format.
  for (const char* name : {"pytorch_model.bin", "legacy.bin"}) {
    const std::string whole = read_file(fixture(name));
    for (size_t keep : {whole.size() / 2, whole.size() - 10, size_t(100)}) {
      write_file_atomic(dir.file("cut.bin"), whole.substr(0, keep));
      message = input_error_of([&] { open_torch_checkpoint(dir.file("cut.bin")); });
      INFO(name << " cut to " << keep << " bytes: " << message);
      CHECK(contains(message, dir.file("cut.bin")));
    }
  }

  // In a model directory the refusal names pytorch_model.bin.
  write_model_files(dir);
  copy_fixture("transposed.bin", dir, "pytorch_model.bin");
  message = input_error_of([&] { load_model_dir(dir.path(), 1); });
  CHECK(contains(message, dir.file("pytorch_model.bin")));
}

TEST_CASE("the unpickler honours a state dict of tensors and nothing else", "[io][torch][pickle]") {
  // {} as protocol 2 writes it: PROTO 2, EMPTY_DICT, STOP.
  CHECK(read_torch_state_dict_pickle("empty.pkl", reinterpret_cast<const uint8_t*>("\x80\x02}."), 4).empty());
  CHECK(contains(pickle_error(std::string("\x80\x02", 2) + "]."), "a list, not a state dict"));
  // {"a": 1}: a value that is not a tensor.
  CHECK(contains(pickle_error(std::string("\x80\x02}X\x01\x00\x00\x00" "aK\x01s.", 13)),
                 "entry \"a\" is an int, not a tensor"));
  CHECK(contains(pickle_error(std::string("\x80\x02}", 3)), "without its STOP"));
  CHECK(contains(pickle_error(std::string("\x80\x02h\x05.", 5)), "memo key 5 was never stored"));
  CHECK(contains(pickle_error(std::string("\x80\x02s.", 4)), "empty stack"));
  CHECK(contains(pickle_error(std::string("\x80\x02I1\n.", 6)), "opcode 0x49"));
  CHECK(contains(pickle_error("\x80\x02" "cbuiltins\neval\n)R."), "global builtins.eval is not allowed"));
  CHECK(contains(pickle_error("\x80\x07}."), "protocol 7"));
  // A pickle that builds millions of values is stopped before they exhaust memory.
  CHECK(contains(pickle_error("\x80\x02" + std::string(size_t(3) << 20, ')') + "."),
                 "more than 2097152 values: not a state dict"));
  // The byte offset of the offending opcode is named.
  CHECK(contains(pickle_error(std::string("\x80\x02}N.", 5)), "pickle byte 4"));
}
