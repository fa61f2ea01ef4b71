// The golden files Hugging Face wrote (../shared/golden/tiny-bert-qa): config.json as
// save_pretrained writes it, model.safetensors and golden.safetensors, and the directory loaded
// and saved back. Built with shared_data_main.cpp: without ../shared the binary reports itself
// skipped.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>

#include "io/bert_config.h"
#include "io/model_dir.h"
#include "io/safetensors.h"
#include "tests/io/io_test_util.h"
#include "tests/shared_data.h"

using namespace bert;
using namespace bert::test;

TEST_CASE("golden tiny config.json reads as written by save_pretrained", "[io][config][golden]") {
  if (!have_shared_file("golden/tiny-bert-qa/config.json", "golden tiny config")) return;
  const BertConfig c = read_bert_config(shared_path("golden/tiny-bert-qa/config.json"));
  CHECK(c.vocab_size == 1000);
  CHECK(c.hidden_size == 128);
  CHECK(c.num_hidden_layers == 2);
  CHECK(c.num_attention_heads == 2);
  CHECK(c.intermediate_size == 256);
  CHECK(c.max_position_embeddings == 128);
  CHECK(c.layer_norm_eps == 1e-12);
  CHECK(c.hidden_dropout_prob == 0.0f);
  CHECK(c.attention_probs_dropout_prob == 0.0f);
  CHECK(c.hidden_act == "gelu");
  CHECK(c.pad_token_id == 0);
}

TEST_CASE("golden tiny-bert-qa model.safetensors reads as F32 with config shapes", "[io][safetensors][golden]") {
  if (!have_shared_file("golden/tiny-bert-qa/model.safetensors", "golden tiny model")) return;
  const SafetensorsFile file = SafetensorsFile::open(shared_path("golden/tiny-bert-qa/model.safetensors"));
  const BertConfig config = read_bert_config(shared_path("golden/tiny-bert-qa/config.json"));
  CHECK(file.metadata().at("format") == "pt");
  REQUIRE(file.contains("qa_outputs.weight"));
  CHECK(file.info("qa_outputs.weight").shape == std::vector<int64_t>{2, config.hidden_size});
  CHECK(file.info("bert.embeddings.word_embeddings.weight").shape ==
        std::vector<int64_t>{config.vocab_size, config.hidden_size});
  size_t total = 0;
  for (const std::string& name : file.names()) {
    INFO(name);
    CHECK(file.info(name).dtype == Dtype::kF32);
    const std::vector<float> values = file.read_f32(name);
    CHECK(static_cast<int64_t>(values.size()) == file.info(name).numel());
    for (float v : values) REQUIRE(std::isfinite(v));
    total += values.size();
  }
  // The buffer holds exactly these floats (coverage is validated on open).
  CHECK(total * 4 == std::filesystem::file_size(file.path()) - 8 -
                         header_length(read_file(file.path())));
}

TEST_CASE("golden.safetensors reads F64 and I64 tensors and string metadata", "[io][safetensors][golden]") {
  if (!have_shared_file("golden/tiny-bert-qa/golden.safetensors", "golden outputs")) return;
  const SafetensorsFile file = SafetensorsFile::open(shared_path("golden/tiny-bert-qa/golden.safetensors"));
  CHECK(file.metadata().count("steps") == 1);
  CHECK(file.info("input.input_ids").dtype == Dtype::kI64);
  CHECK(file.info("out.start_logits").dtype == Dtype::kF64);
  const std::vector<int64_t>& shape = file.info("input.input_ids").shape;
  REQUIRE(shape.size() == 2);
  const std::vector<int64_t> ids = file.read_i64("input.input_ids");
  const std::vector<int64_t> mask = file.read_i64("input.attention_mask");
  REQUIRE(ids.size() == mask.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    CHECK(ids[i] >= 0);
    CHECK(ids[i] < 1000);
    CHECK((mask[i] == 0 || mask[i] == 1));
    if (mask[i] == 0) CHECK(ids[i] == 0);  // padding uses pad id 0
  }
  CHECK(file.info("out.start_logits").shape == shape);
  const std::vector<double> logits = file.read_f64("out.start_logits");
  CHECK(static_cast<int64_t>(logits.size()) == shape[0] * shape[1]);
  // Every parameter snapshot has the shape of the model's tensor of the same name.
  if (!have_shared_file("golden/tiny-bert-qa/model.safetensors", "golden tiny model")) return;
  const SafetensorsFile model = SafetensorsFile::open(shared_path("golden/tiny-bert-qa/model.safetensors"));
  for (const std::string& name : model.names()) {
    INFO(name);
    REQUIRE(file.contains("param_after_steps." + name));
    CHECK(file.info("param_after_steps." + name).shape == model.info(name).shape);
  }
}

TEST_CASE("golden tiny-bert-qa directory loads every tensor unchanged", "[io][model_dir][golden]") {
  if (!have_shared_file("golden/tiny-bert-qa/model.safetensors", "golden tiny model")) return;
  TempDir dir;
  const std::string model_path = shared_path("golden/tiny-bert-qa/model.safetensors");
  std::filesystem::copy_file(shared_path("golden/tiny-bert-qa/config.json"), dir.file("config.json"));
  std::filesystem::copy_file(model_path, dir.file("model.safetensors"));
  write_vocab(dir.file("vocab.txt"), 1000);

  const LoadedModel model = load_model_dir(dir.path(), 1);
  INFO(notes_text(model));
  CHECK_FALSE(model.random_init);
  CHECK(model.config.hidden_size == 128);
  CHECK_FALSE(has_note(model, "initialised"));
  const SafetensorsFile file = SafetensorsFile::open(model_path);
  const std::vector<ParamSpec> specs = bert_qa_param_specs(model.config);
  REQUIRE(model.tensors.size() == specs.size());
  for (const ParamSpec& spec : specs) {
    INFO(spec.name);
    CHECK(model.tensors.at(spec.name) == file.read_f32(spec.name));
  }

  // save -> load keeps every value and the config.
  const std::string saved = dir.file("saved/model");
  save_model_dir(saved, model.config, model.tensors, dir.file("vocab.txt"));
  const LoadedModel again = load_model_dir(saved, 2);
  CHECK(again.tensors == model.tensors);
  CHECK(again.config.layer_norm_eps == model.config.layer_norm_eps);
}
