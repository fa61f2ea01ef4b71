// Model directories: parameter specs, init, loading (hand-made variants, every refusal) and
// save -> load round trips. Synthetic models keep these tests independent of ../shared (the
// golden directory's test: test_io_golden.cpp).
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <limits>
#include <set>

#include "io/model_dir.h"
#include "io/safetensors.h"
#include "io/tokenizer_config.h"
#include "tests/io/io_test_util.h"

using namespace bert;
using namespace bert::test;

namespace {

using Params = std::map<std::string, std::vector<float>>;

// A model dir: config.json, vocab.txt, and (when given) model.safetensors holding `tensors`
// under the given file names (name in file -> values); shapes come from `shapes`.
struct FileTensor {
  std::vector<int64_t> shape;
  std::vector<float> values;
  Dtype dtype = Dtype::kF32;
};

void write_model(const std::string& dir, const BertConfig& config,
                 const std::map<std::string, FileTensor>& tensors) {
  write_file_atomic(join_path(dir, "config.json"), bert_config_to_json(config));
  write_vocab(join_path(dir, "vocab.txt"), config.vocab_size);
  std::vector<TensorToWrite> list;
  for (const auto& [name, t] : tensors) list.push_back({name, t.shape, t.values.data(), t.dtype});
  write_safetensors(join_path(dir, "model.safetensors"), list, {{"format", "pt"}});
}

// The canonical params of `config` as file tensors under their canonical names.
std::map<std::string, FileTensor> canonical_tensors(const BertConfig& config, const Params& params) {
  std::map<std::string, FileTensor> out;
  for (const ParamSpec& spec : bert_qa_param_specs(config))
    out[spec.name] = {spec.shape, params.at(spec.name)};
  return out;
}

}  // namespace

TEST_CASE("bert_qa_param_specs lists HF's parameters with shapes, decay and init", "[io][model_dir]") {
  const BertConfig c = small_config();
  const std::vector<ParamSpec> specs = bert_qa_param_specs(c);
  REQUIRE(specs.size() == 5 + 16 * 2 + 2);
  CHECK(specs.front().name == "bert.embeddings.word_embeddings.weight");
  CHECK(specs.front().shape == std::vector<int64_t>{50, 8});
  CHECK(specs.front().zero_row == 0);
  CHECK(specs.back().name == "qa_outputs.bias");
  std::set<std::string> names;
  std::map<std::string, const ParamSpec*> by_name;
  for (const ParamSpec& s : specs) {
    CHECK(names.insert(s.name).second);
    by_name[s.name] = &s;
    const bool bias = s.name.size() > 5 && s.name.compare(s.name.size() - 5, 5, ".bias") == 0;
    const bool layer_norm = s.name.find("LayerNorm") != std::string::npos;
    CHECK(s.decay == !(bias || layer_norm));
    if (bias) CHECK(s.init == InitKind::kZeros);
    else if (layer_norm) CHECK(s.init == InitKind::kOnes);
    else CHECK(s.init == InitKind::kNormal);
  }
  CHECK(by_name.at("bert.encoder.layer.1.intermediate.dense.weight")->shape == std::vector<int64_t>{16, 8});
  CHECK(by_name.at("bert.encoder.layer.1.output.dense.weight")->shape == std::vector<int64_t>{8, 16});
  CHECK(by_name.at("bert.encoder.layer.0.attention.self.key.bias")->shape == std::vector<int64_t>{8});
  CHECK(by_name.at("bert.encoder.layer.0.attention.output.LayerNorm.weight")->shape == std::vector<int64_t>{8});
  CHECK(by_name.at("bert.embeddings.position_embeddings.weight")->shape == std::vector<int64_t>{16, 8});
  CHECK(by_name.at("bert.embeddings.token_type_embeddings.weight")->shape == std::vector<int64_t>{2, 8});
  CHECK(by_name.at("qa_outputs.weight")->shape == std::vector<int64_t>{2, 8});
  CHECK(by_name.at("qa_outputs.weight")->decay);
}

TEST_CASE("canonical_param_name adds the bert. prefix and renames gamma/beta", "[io][model_dir]") {
  CHECK(canonical_param_name("embeddings.word_embeddings.weight") == "bert.embeddings.word_embeddings.weight");
  CHECK(canonical_param_name("encoder.layer.3.output.LayerNorm.gamma") == "bert.encoder.layer.3.output.LayerNorm.weight");
  CHECK(canonical_param_name("bert.embeddings.LayerNorm.beta") == "bert.embeddings.LayerNorm.bias");
  CHECK(canonical_param_name("pooler.dense.bias") == "bert.pooler.dense.bias");
  CHECK(canonical_param_name("qa_outputs.weight") == "qa_outputs.weight");
  CHECK(canonical_param_name("cls.predictions.gamma") == "cls.predictions.gamma");
}

TEST_CASE("NormalRng is mt19937_64 + Box-Muller with standard normal moments", "[io][model_dir]") {
  std::mt19937_64 engine;  // the C++ standard fixes this engine's 10000th output
  engine.discard(9999);
  CHECK(engine() == 9981545732273789042ull);

  NormalRng rng(123), same(123), other(124);
  const int n = 200000;
  double sum = 0, sum_sq = 0;
  int within_one = 0, differ = 0;
  for (int i = 0; i < n; ++i) {
    const double x = rng.next();
    REQUIRE(x == same.next());
    differ += x != other.next();
    sum += x;
    sum_sq += x * x;
    within_one += std::fabs(x) < 1.0;
  }
  CHECK(std::fabs(sum / n) < 0.01);
  CHECK(std::fabs(sum_sq / n - 1.0) < 0.02);
  CHECK(std::fabs(static_cast<double>(within_one) / n - 0.682689) < 0.005);
  CHECK(differ == n);
}

TEST_CASE("load_model_dir accepts no-prefix and gamma/beta names, BF16, and ignores extras", "[io][model_dir]") {
  TempDir dir;
  const BertConfig config = small_config();
  const Params params = init_bert_qa_params(config, 77);
  std::map<std::string, FileTensor> tensors;
  for (const auto& [name, t] : canonical_tensors(config, params)) {
    std::string file_name = name.compare(0, 5, "bert.") == 0 ? name.substr(5) : name;
    if (file_name.find("LayerNorm.weight") != std::string::npos)
      file_name.replace(file_name.size() - 6, 6, "gamma");
    else if (file_name.find("LayerNorm.bias") != std::string::npos)
      file_name.replace(file_name.size() - 4, 4, "beta");
    tensors[file_name] = t;
  }
  tensors["encoder.layer.1.output.dense.weight"].dtype = Dtype::kBF16;
  tensors["pooler.dense.weight"] = {{8, 8}, std::vector<float>(64, 0.5f)};
  tensors["cls.predictions.bias"] = {{50}, std::vector<float>(50, 0.1f)};
  tensors["embeddings.position_ids"] = {{1, 16}, std::vector<float>(16, 0.0f)};
  tensors["mystery.weight"] = {{3}, std::vector<float>(3, 1.0f)};
  write_model(dir.path(), config, tensors);

  const LoadedModel model = load_model_dir(dir.path(), 1);
  INFO(notes_text(model));
  CHECK_FALSE(model.random_init);
  REQUIRE(model.tensors.size() == params.size());
  for (const auto& [name, values] : params) {
    INFO(name);
    if (name == "bert.encoder.layer.1.output.dense.weight") {
      for (size_t i = 0; i < values.size(); ++i)
        CHECK(model.tensors.at(name)[i] == bf16_to_float(float_to_bf16(values[i])));
    } else {
      CHECK(model.tensors.at(name) == values);
    }
  }
  CHECK(has_note(model, "added the \"bert.\" prefix to 37 tensor names"));
  CHECK(has_note(model, "renamed 10 LayerNorm gamma/beta"));
  CHECK(has_note(model, "ignored 3 tensors a QA model does not use"));
  CHECK(has_note(model, "cls.predictions.bias"));
  CHECK(has_note(model, "ignored 1 unexpected tensors"));
  CHECK(has_note(model, "mystery.weight"));
  CHECK(has_note(model, "converted 1 BF16 tensors to float32"));
}

TEST_CASE("load_model_dir initialises a missing qa_outputs head reproducibly", "[io][model_dir]") {
  TempDir dir;
  const BertConfig config = small_config();
  std::map<std::string, FileTensor> tensors = canonical_tensors(config, init_bert_qa_params(config, 3));
  tensors.erase("qa_outputs.weight");
  tensors.erase("qa_outputs.bias");
  write_model(dir.path(), config, tensors);

  const LoadedModel a = load_model_dir(dir.path(), 11);
  const LoadedModel b = load_model_dir(dir.path(), 11);
  const LoadedModel c = load_model_dir(dir.path(), 12);
  INFO(notes_text(a));
  CHECK_FALSE(a.random_init);
  CHECK(has_note(a, "initialised qa_outputs.weight, qa_outputs.bias"));
  CHECK(a.tensors.at("qa_outputs.bias") == std::vector<float>(2, 0.0f));
  const std::vector<float>& w = a.tensors.at("qa_outputs.weight");
  REQUIRE(w.size() == 16);
  CHECK(w == b.tensors.at("qa_outputs.weight"));
  CHECK(w != c.tensors.at("qa_outputs.weight"));
  CHECK(a.tensors.at("bert.embeddings.LayerNorm.weight") == c.tensors.at("bert.embeddings.LayerNorm.weight"));
  double sum_sq = 0;
  for (float v : w) {
    CHECK(v != 0.0f);
    CHECK(std::fabs(v) < 6 * config.initializer_range);
    sum_sq += v * v;
  }
  CHECK(std::sqrt(sum_sq / 16) < 3 * config.initializer_range);
  CHECK(a.qa_head_initialised);

  // Only the bias missing: the trained head with bias 0, as transformers loads it; not a random
  // head.
  const FileTensor trained_weight =
      canonical_tensors(config, init_bert_qa_params(config, 3)).at("qa_outputs.weight");
  const std::vector<float> weight = trained_weight.values;
  tensors["qa_outputs.weight"] = trained_weight;
  write_model(dir.path(), config, tensors);
  const LoadedModel biasless = load_model_dir(dir.path(), 11);
  INFO(notes_text(biasless));
  CHECK_FALSE(biasless.qa_head_initialised);
  CHECK(has_note(biasless, "initialised qa_outputs.bias"));
  CHECK(has_note(biasless, "bias 0"));
  CHECK_FALSE(has_note(biasless, "N(0, initializer_range)"));
  CHECK(biasless.tensors.at("qa_outputs.weight") == weight);
  CHECK(biasless.tensors.at("qa_outputs.bias") == std::vector<float>(2, 0.0f));

  // Only the weight missing: drawn, and the checkpoint's bias kept (as transformers keeps it);
  // the note says so rather than "bias 0".
  std::map<std::string, FileTensor> weightless =
      canonical_tensors(config, init_bert_qa_params(config, 3));
  const std::vector<float> bias = weightless.at("qa_outputs.bias").values;
  weightless.erase("qa_outputs.weight");
  write_model(dir.path(), config, weightless);
  const LoadedModel drawn = load_model_dir(dir.path(), 11);
  INFO(notes_text(drawn));
  CHECK(drawn.qa_head_initialised);
  CHECK(has_note(drawn, "initialised qa_outputs.weight (not in"));
  CHECK(has_note(drawn, "N(0, initializer_range), seed 11; its qa_outputs.bias is kept"));
  CHECK_FALSE(has_note(drawn, "bias 0"));
  CHECK(drawn.tensors.at("qa_outputs.bias") == bias);
}

TEST_CASE("load_model_dir refuses missing tensors, listing them all", "[io][model_dir]") {
  TempDir dir;
  const BertConfig config = small_config();
  std::map<std::string, FileTensor> tensors = canonical_tensors(config, init_bert_qa_params(config, 3));
  tensors.erase("bert.encoder.layer.1.output.dense.weight");
  tensors.erase("bert.embeddings.LayerNorm.bias");
  write_model(dir.path(), config, tensors);
  const std::string message = input_error_of([&] { load_model_dir(dir.path(), 1); });
  INFO(message);
  CHECK(contains(message, dir.file("model.safetensors")));
  CHECK(contains(message, "missing 2 tensors"));
  CHECK(contains(message, "bert.encoder.layer.1.output.dense.weight"));
  CHECK(contains(message, "bert.embeddings.LayerNorm.bias"));
}

TEST_CASE("load_model_dir refuses a shape that disagrees with config.json", "[io][model_dir]") {
  TempDir dir;
  const BertConfig config = small_config();
  std::map<std::string, FileTensor> tensors = canonical_tensors(config, init_bert_qa_params(config, 3));
  tensors["bert.embeddings.position_embeddings.weight"] = {{8, 8}, std::vector<float>(64, 0.0f)};
  write_model(dir.path(), config, tensors);
  const std::string message = input_error_of([&] { load_model_dir(dir.path(), 1); });
  INFO(message);
  CHECK(contains(message, dir.file("model.safetensors")));
  CHECK(contains(message, "tensor \"bert.embeddings.position_embeddings.weight\""));
  CHECK(contains(message, "shape [8, 8] does not match [16, 8]"));
}

TEST_CASE("load_model_dir refuses NaN or infinite weights, naming the tensor", "[io][model_dir]") {
  for (const float bad :
       {std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::infinity()}) {
    TempDir dir;
    const BertConfig config = small_config();
    std::map<std::string, FileTensor> tensors =
        canonical_tensors(config, init_bert_qa_params(config, 3));
    std::vector<float>& values = tensors["bert.encoder.layer.0.attention.self.query.bias"].values;
    values[1] = bad;
    values[5] = bad;
    write_model(dir.path(), config, tensors);
    const std::string message = input_error_of([&] { load_model_dir(dir.path(), 1); });
    INFO(message);
    CHECK(contains(message, dir.file("model.safetensors")));
    CHECK(contains(message, "tensor \"bert.encoder.layer.0.attention.self.query.bias\""));
    CHECK(contains(message, "holds 2 non-finite values"));
  }
}

TEST_CASE("load_model_dir refuses two file tensors for one parameter", "[io][model_dir]") {
  TempDir dir;
  const BertConfig config = small_config();
  std::map<std::string, FileTensor> tensors = canonical_tensors(config, init_bert_qa_params(config, 3));
  tensors["embeddings.LayerNorm.gamma"] = tensors.at("bert.embeddings.LayerNorm.weight");
  write_model(dir.path(), config, tensors);
  const std::string message = input_error_of([&] { load_model_dir(dir.path(), 1); });
  INFO(message);
  CHECK(contains(message, "bert.embeddings.LayerNorm.weight"));
  CHECK(contains(message, "embeddings.LayerNorm.gamma"));
  CHECK(contains(message, "duplicates"));
}

TEST_CASE("load_model_dir refuses a vocab.txt longer than vocab_size and notes a shorter one", "[io][model_dir]") {
  TempDir dir;
  const BertConfig config = small_config();
  write_model(dir.path(), config, canonical_tensors(config, init_bert_qa_params(config, 3)));
  write_vocab(dir.file("vocab.txt"), 51);
  const std::string message = input_error_of([&] { load_model_dir(dir.path(), 1); });
  INFO(message);
  CHECK(contains(message, dir.file("vocab.txt")));
  CHECK(contains(message, "has 51 lines"));
  CHECK(contains(message, dir.file("config.json")));
  CHECK(contains(message, "vocab_size 50"));

  // Embeddings padded past the vocabulary (bert checkpoints with vocab_size a multiple of 8):
  // transformers loads them, and so does this; the unused rows are said.
  write_vocab(dir.file("vocab.txt"), 46);
  const LoadedModel model = load_model_dir(dir.path(), 1);
  CHECK(model.config.vocab_size == 50);
  CHECK(has_note(model, "the last 4 rows of the word embeddings are never looked up"));
  TempDir out;
  save_model_dir(out.path(), model.config, model.tensors, model.vocab_file);
  CHECK(count_vocab_lines(out.file("vocab.txt")) == 46);
  CHECK(load_model_dir(out.path(), 1).tensors == model.tensors);
}

TEST_CASE("load_model_dir names missing required files and unsupported formats", "[io][model_dir]") {
  TempDir dir;
  std::string message = input_error_of([&] { load_model_dir(dir.file("nowhere"), 1); });
  CHECK(contains(message, dir.file("nowhere")));
  CHECK(contains(message, "does not exist"));

  message = input_error_of([&] { load_model_dir(dir.path(), 1); });
  CHECK(contains(message, dir.file("config.json")));
  CHECK(contains(message, "missing (required)"));

  write_file_atomic(dir.file("config.json"), bert_config_to_json(small_config()));
  message = input_error_of([&] { load_model_dir(dir.path(), 1); });
  CHECK(contains(message, dir.file("vocab.txt")));
  CHECK(contains(message, "missing (required)"));

  write_vocab(dir.file("vocab.txt"), 50);
  write_file_atomic(dir.file("tf_model.h5"), "TensorFlow weights");
  message = input_error_of([&] { load_model_dir(dir.path(), 1); });
  INFO(message);
  CHECK(contains(message, dir.file("tf_model.h5")));
  CHECK(contains(message, "not supported"));
  CHECK(contains(message, "model.safetensors"));
  std::filesystem::remove(dir.file("tf_model.h5"));

  // pytorch_model.bin is read (tests/io/test_torch_checkpoint.cpp): one that is not a torch.save
  // checkpoint is refused by name.
  write_file_atomic(dir.file("pytorch_model.bin"), "not really a pickle");
  message = input_error_of([&] { load_model_dir(dir.path(), 1); });
  INFO(message);
  CHECK(contains(message, dir.file("pytorch_model.bin")));
  CHECK(contains(message, "not a torch.save checkpoint"));

  // Weights under any other name are refused by name, never taken for a config-only directory.
  std::filesystem::remove(dir.file("pytorch_model.bin"));
  write_file_atomic(dir.file("model-00001-of-00002.safetensors"), "shard");
  write_file_atomic(dir.file("training_args.bin"), "pickled arguments, not weights");
  message = input_error_of([&] { load_model_dir(dir.path(), 1); });
  INFO(message);
  CHECK(contains(message, "holds model-00001-of-00002.safetensors"));
  CHECK_FALSE(contains(message, "training_args.bin"));
  std::filesystem::remove(dir.file("model-00001-of-00002.safetensors"));
  CHECK(load_model_dir(dir.path(), 1).random_init);
}

TEST_CASE("load_model_dir reads a sharded checkpoint through its index", "[io][model_dir]") {
  TempDir dir;
  const BertConfig config = small_config();
  const Params params = init_bert_qa_params(config, 4);
  write_model(dir.path(), config, canonical_tensors(config, params));
  const LoadedModel single = load_model_dir(dir.path(), 1);
  std::filesystem::remove(dir.file("model.safetensors"));

  // Two shards as save_pretrained writes them: the embeddings in one, the rest in the other.
  std::vector<TensorToWrite> first, second;
  std::string weight_map;
  for (const ParamSpec& spec : bert_qa_param_specs(config)) {
    const bool embeddings = spec.name.rfind("bert.embeddings.", 0) == 0;
    const std::string shard = embeddings ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
    (embeddings ? first : second).push_back({spec.name, spec.shape, params.at(spec.name).data(), Dtype::kF32});
    weight_map += (weight_map.empty() ? "" : ",\n") + std::string("\"") + spec.name + "\": \"" + shard + "\"";
  }
  write_safetensors(dir.file("model-00001-of-00002.safetensors"), first, {{"format", "pt"}});
  write_safetensors(dir.file("model-00002-of-00002.safetensors"), second, {{"format", "pt"}});
  const std::string index = "{\"metadata\": {\"total_size\": 1},\n\"weight_map\": {" + weight_map + "}}";
  write_file_atomic(dir.file("model.safetensors.index.json"), index);

  const LoadedModel sharded = load_model_dir(dir.path(), 1);
  CHECK_FALSE(sharded.random_init);
  CHECK(sharded.tensors == single.tensors);
  CHECK(has_note(sharded, "read 2 shards"));

  // A shard that is missing, or lacks a tensor the index maps to it, is named.
  write_file_atomic(dir.file("model.safetensors.index.json"),
                    "{\"weight_map\": {\"qa_outputs.bias\": \"model-00003-of-00003.safetensors\"}}");
  std::string message = input_error_of([&] { load_model_dir(dir.path(), 1); });
  INFO(message);
  CHECK(contains(message, "model.safetensors.index.json: weight_map.\"qa_outputs.bias\""));
  CHECK(contains(message, "model-00003-of-00003.safetensors does not exist"));
  write_file_atomic(dir.file("model.safetensors.index.json"),
                    "{\"weight_map\": {\"qa_outputs.bias\": \"model-00001-of-00002.safetensors\"}}");
  message = input_error_of([&] { load_model_dir(dir.path(), 1); });
  CHECK(contains(message, "has no tensor \"qa_outputs.bias\""));
  write_file_atomic(dir.file("model.safetensors.index.json"),
                    "{\"weight_map\": {\"qa_outputs.bias\": \"../model-00001-of-00002.safetensors\"}}");
  CHECK(contains(input_error_of([&] { load_model_dir(dir.path(), 1); }), "not a file name in the index's directory"));
  write_file_atomic(dir.file("model.safetensors.index.json"), "{\"metadata\": {}}");
  CHECK(contains(input_error_of([&] { load_model_dir(dir.path(), 1); }), "weight_map: missing"));
}

TEST_CASE("load_model_dir says what a checkpoint holds when none of its tensors is a BERT parameter", "[io][model_dir]") {
  TempDir dir;
  const BertConfig config = small_config();
  std::map<std::string, FileTensor> wrapped;  // as torch DataParallel saves: "module." before every name
  for (auto& [name, tensor] : canonical_tensors(config, init_bert_qa_params(config, 3)))
    wrapped["module." + name] = tensor;
  write_model(dir.path(), config, wrapped);
  const std::string message = input_error_of([&] { load_model_dir(dir.path(), 1); });
  INFO(message);
  CHECK(contains(message, "none of the checkpoint's 39 tensors is a BERT parameter"));
  CHECK(contains(message, "module.bert.embeddings.LayerNorm.bias"));
}

TEST_CASE("load_model_dir without weights initialises everything from the seed", "[io][model_dir]") {
  TempDir dir;
  BertConfig config = small_config();
  config.vocab_size = 2000;
  config.pad_token_id = 3;
  write_file_atomic(dir.file("config.json"), bert_config_to_json(config));
  write_vocab(dir.file("vocab.txt"), config.vocab_size);

  const LoadedModel a = load_model_dir(dir.path(), 5);
  const LoadedModel b = load_model_dir(dir.path(), 5);
  const LoadedModel c = load_model_dir(dir.path(), 6);
  CHECK(a.random_init);
  CHECK(has_note(a, "randomly initialised"));
  CHECK(has_note(a, "seed 5"));
  CHECK(a.tensors == b.tensors);
  CHECK(a.tensors == init_bert_qa_params(config, 5));
  CHECK(a.tensors.at("bert.encoder.layer.0.attention.self.query.weight") !=
        c.tensors.at("bert.encoder.layer.0.attention.self.query.weight"));
  CHECK(a.tensors.at("bert.encoder.layer.0.attention.self.query.weight") !=
        a.tensors.at("bert.encoder.layer.0.attention.self.key.weight"));

  for (const ParamSpec& spec : bert_qa_param_specs(config)) {
    const std::vector<float>& v = a.tensors.at(spec.name);
    REQUIRE(static_cast<int64_t>(v.size()) == spec.numel());
    if (spec.init == InitKind::kOnes) CHECK(v == std::vector<float>(v.size(), 1.0f));
    if (spec.init == InitKind::kZeros) CHECK(v == std::vector<float>(v.size(), 0.0f));
  }
  const std::vector<float>& words = a.tensors.at("bert.embeddings.word_embeddings.weight");
  double sum = 0, sum_sq = 0;
  for (int64_t i = 0; i < config.vocab_size * 8; ++i) {
    const bool pad_row = i / 8 == 3;
    if (pad_row) CHECK(words[i] == 0.0f);
    else CHECK(words[i] != 0.0f);
    sum += words[i];
    sum_sq += double(words[i]) * words[i];
  }
  const double n = (config.vocab_size - 1) * 8.0;
  CHECK(std::fabs(sum / n) < 0.02 * 0.05);
  CHECK(std::sqrt(sum_sq / n) == Approx(0.02).epsilon(0.03));
}

TEST_CASE("save_model_dir writes a directory that loads back identically", "[io][model_dir]") {
  TempDir dir;
  const BertConfig config = small_config();
  const Params params = init_bert_qa_params(config, 9);
  write_vocab(dir.file("source_vocab.txt"), config.vocab_size);
  const std::string out = dir.file("a/b/checkpoint");
  save_model_dir(out, config, params, dir.file("source_vocab.txt"), SavedTokenizer{false});

  std::set<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(out)) files.insert(entry.path().filename());
  CHECK(files == std::set<std::string>{"config.json", "model.safetensors", "tokenizer_config.json", "vocab.txt"});
  CHECK(read_file(join_path(out, "vocab.txt")) == read_file(dir.file("source_vocab.txt")));
  const std::string tokenizer = read_file(join_path(out, "tokenizer_config.json"));
  CHECK(contains(tokenizer, "\"do_lower_case\": false"));
  CHECK(contains(tokenizer, "\"tokenizer_class\": \"BertTokenizer\""));
  CHECK(
      contains(tokenizer, "\"model_max_length\": 16"));  // max_position_embeddings: no limit given
  // The source tokenizer's own limit is kept, as save_pretrained keeps it.
  const std::string limited = dir.file("limited");
  save_model_dir(limited, config, params, dir.file("source_vocab.txt"),
                 SavedTokenizer{true, true, 12});
  CHECK(
      contains(read_file(join_path(limited, "tokenizer_config.json")), "\"model_max_length\": 12"));
  CHECK(read_tokenizer_config(limited, false, true).model_max_length == 12);
  const SafetensorsFile file = SafetensorsFile::open(join_path(out, "model.safetensors"));
  CHECK(file.metadata().at("format") == "pt");
  CHECK(file.names().size() == params.size());
  CHECK(file.info("qa_outputs.weight").shape == std::vector<int64_t>{2, 8});

  const LoadedModel model = load_model_dir(out, 1);
  INFO(notes_text(model));
  CHECK(model.notes.empty());
  CHECK_FALSE(model.random_init);
  CHECK(model.tensors == params);
  CHECK(model.config.vocab_size == config.vocab_size);
  CHECK(model.config.hidden_dropout_prob == config.hidden_dropout_prob);
  CHECK(model.config.initializer_range == config.initializer_range);

  // Saving over the directory it was loaded from, with its own vocab, works too.
  Params changed = params;
  changed.at("qa_outputs.bias") = {0.25f, -0.5f};
  save_model_dir(out, config, changed, join_path(out, "vocab.txt"));
  CHECK(load_model_dir(out, 1).tensors == changed);
  CHECK(contains(read_file(join_path(out, "tokenizer_config.json")), "\"do_lower_case\": true"));
}

TEST_CASE("save_model_dir refuses incomplete tensors and a wrong vocab, writing nothing", "[io][model_dir]") {
  TempDir dir;
  const BertConfig config = small_config();
  const Params params = init_bert_qa_params(config, 9);
  write_vocab(dir.file("vocab.txt"), config.vocab_size);
  const std::string out = dir.file("out");

  Params missing = params;
  missing.erase("bert.encoder.layer.0.output.LayerNorm.bias");
  CHECK_THROWS_WITH(save_model_dir(out, config, missing, dir.file("vocab.txt")),
                    Catch::Contains("bert.encoder.layer.0.output.LayerNorm.bias"));
  Params extra = params;
  extra["bert.pooler.dense.bias"] = std::vector<float>(8, 0.0f);
  CHECK_THROWS_WITH(save_model_dir(out, config, extra, dir.file("vocab.txt")),
                    Catch::Contains("bert.pooler.dense.bias"));
  Params wrong = params;
  wrong.at("qa_outputs.bias").push_back(1.0f);
  CHECK_THROWS_WITH(save_model_dir(out, config, wrong, dir.file("vocab.txt")),
                    Catch::Contains("has 3 values"));
  write_vocab(dir.file("long_vocab.txt"), 60);
  const std::string message =
      input_error_of([&] { save_model_dir(out, config, params, dir.file("long_vocab.txt")); });
  CHECK(contains(message, dir.file("long_vocab.txt")));
  CHECK(contains(message, "has 60 lines"));
  CHECK_FALSE(path_exists(out));
}

TEST_CASE("a SentencePiece vocabulary is loaded, checked and saved under its own name", "[io][model_dir]") {
  TempDir dir;
  const BertConfig config = small_config();
  const Params tensors = init_bert_qa_params(config, 3);
  write_model(dir.path(), config, canonical_tensors(config, tensors));
  std::filesystem::remove(dir.file("vocab.txt"));
  // load_model_dir does not parse the model (the tokenizer does): any bytes stand in for it.
  const std::string spiece_bytes = std::string("\x0a\x05piece", 7) + std::string(40, '\x7f');
  write_file_atomic(dir.file("spiece.model"), spiece_bytes);
  CHECK(find_vocab_file(dir.path()) == dir.file("spiece.model"));
  CHECK_FALSE(is_wordpiece_vocab(dir.file("spiece.model")));
  const LoadedModel model = load_model_dir(dir.path(), 1);
  CHECK(model.tensors.size() == tensors.size());

  const std::string saved = dir.file("saved");
  save_model_dir(saved, model.config, model.tensors, dir.file("spiece.model"),
                 SavedTokenizer{false});
  CHECK(read_file(join_path(saved, "spiece.model")) == spiece_bytes);
  CHECK_FALSE(path_exists(join_path(saved, "vocab.txt")));
  const std::string tokenizer_config = read_file(join_path(saved, "tokenizer_config.json"));
  CHECK(contains(tokenizer_config, "\"do_lower_case\": false"));
  CHECK(contains(tokenizer_config, "\"tokenizer_class\": \"AlbertTokenizer\""));
  CHECK(contains(tokenizer_config, "\"keep_accents\": true"));
  CHECK(load_model_dir(saved, 1).tensors == model.tensors);
  // AlbertTokenizer's keep_accents is recorded as it was read.
  save_model_dir(saved, model.config, model.tensors, dir.file("spiece.model"),
                 SavedTokenizer{true, false});
  CHECK(contains(read_file(join_path(saved, "tokenizer_config.json")), "\"keep_accents\": false"));

  // vocab.txt wins when both exist (load_tokenizer's order).
  write_vocab(dir.file("vocab.txt"), 50);
  CHECK(find_vocab_file(dir.path()) == dir.file("vocab.txt"));

  // More tokens than word embeddings is refused, naming the vocabulary file; fewer is fine.
  check_tokenizer_fits(50, config, dir.file("spiece.model"));
  check_tokenizer_fits(42, config, dir.file("spiece.model"));
  const std::string message = input_error_of([&] { check_tokenizer_fits(51, config, dir.file("spiece.model")); });
  CHECK(contains(message, dir.file("spiece.model")));
  CHECK(contains(message, "51 tokens"));
  CHECK(contains(message, "vocab_size 50"));
}

TEST_CASE("a model directory without any vocabulary names every accepted file", "[io][model_dir]") {
  TempDir dir;
  write_file_atomic(dir.file("config.json"), bert_config_to_json(small_config()));
  const std::string message = input_error_of([&] { load_model_dir(dir.path(), 1); });
  CHECK(contains(message, "vocab.txt"));
  CHECK(contains(message, "spiece.model"));
  CHECK(contains(message, "tokenizer.model"));
}
