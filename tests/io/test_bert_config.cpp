// config.json: defaults, every refusal, and the written form (the golden tiny config:
// test_io_golden.cpp).
#include <catch2/catch.hpp>

#include "io/bert_config.h"
#include "tests/io/io_test_util.h"

using namespace bert;
using namespace bert::test;

namespace {

void check_equal(const BertConfig& a, const BertConfig& b) {
  CHECK(a.vocab_size == b.vocab_size);
  CHECK(a.hidden_size == b.hidden_size);
  CHECK(a.num_hidden_layers == b.num_hidden_layers);
  CHECK(a.num_attention_heads == b.num_attention_heads);
  CHECK(a.intermediate_size == b.intermediate_size);
  CHECK(a.max_position_embeddings == b.max_position_embeddings);
  CHECK(a.type_vocab_size == b.type_vocab_size);
  CHECK(a.layer_norm_eps == b.layer_norm_eps);
  CHECK(a.hidden_dropout_prob == b.hidden_dropout_prob);
  CHECK(a.attention_probs_dropout_prob == b.attention_probs_dropout_prob);
  CHECK(a.initializer_range == b.initializer_range);
  CHECK(a.hidden_act == b.hidden_act);
  CHECK(a.pad_token_id == b.pad_token_id);
}

}  // namespace

TEST_CASE("layer_norm_eps is kept as the double config.json holds", "[io][config]") {
  // transformers keeps it a Python float (a double); the double CPU backend, the test oracle,
  // adds it unrounded, so 1e-5 must not become float(1e-5) = 9.99999974737875e-06.
  const BertConfig c = parse_bert_config("{\"layer_norm_eps\": 1e-5}", "config.json");
  CHECK(c.layer_norm_eps == 1e-5);
  CHECK(contains(bert_config_to_json(c), "\"layer_norm_eps\": 1e-05,"));
  CHECK(parse_bert_config("{\"layer_norm_eps\": 0.001}", "config.json").layer_norm_eps == 0.001);
}

TEST_CASE("config.json missing fields take Hugging Face's BERT defaults", "[io][config]") {
  const BertConfig c = parse_bert_config("{}", "config.json");
  CHECK(c.vocab_size == 30522);
  CHECK(c.hidden_size == 768);
  CHECK(c.num_hidden_layers == 12);
  CHECK(c.num_attention_heads == 12);
  CHECK(c.intermediate_size == 3072);
  CHECK(c.max_position_embeddings == 512);
  CHECK(c.type_vocab_size == 2);
  CHECK(c.layer_norm_eps == 1e-12);
  CHECK(c.hidden_dropout_prob == 0.1f);
  CHECK(c.attention_probs_dropout_prob == 0.1f);
  CHECK(c.initializer_range == 0.02f);
  CHECK(c.hidden_act == "gelu");
  CHECK(c.pad_token_id == 0);
  CHECK(c.head_dim() == 64);
  // Unknown HF fields are ignored; null pad_token_id means "no padding row".
  const BertConfig n = parse_bert_config(
      "{\"pad_token_id\": null, \"use_cache\": true, \"architectures\": [\"BertModel\"]}", "c.json");
  CHECK(n.pad_token_id == -1);
  // "gelu_python" is transformers' name for the same erf GELU; an encoder says is_decoder false.
  const BertConfig g = parse_bert_config(
      "{\"hidden_act\": \"gelu_python\", \"is_decoder\": false, \"add_cross_attention\": false, "
      "\"max_length_unused\": 1000000000000000019884624838656}", "g.json");
  CHECK(g.hidden_act == "gelu_python");
  CHECK(g.activation() == Activation::kGeluErf);
  // Other activations of transformers' ACT2FN, kept by name (written back as read).
  for (const char* name :
       {"gelu_new", "gelu_pytorch_tanh", "gelu_fast", "quick_gelu", "relu", "silu", "swish"}) {
    const BertConfig a =
        parse_bert_config(std::string("{\"hidden_act\": \"") + name + "\"}", "a.json");
    CHECK(a.hidden_act == name);
    CHECK(activation_from_hf_name(name) == a.activation());
  }
  CHECK(parse_bert_config("{\"hidden_act\": \"relu\"}", "a.json").activation() ==
        Activation::kRelu);
}

TEST_CASE("config.json refusals name the file and the field", "[io][config]") {
  struct Case {
    std::string json, field, expected;
  };
  const std::vector<Case> cases = {
      {"{\"hidden_size\": 130, \"num_attention_heads\": 3}", "hidden_size",
       "not divisible by num_attention_heads 3"},
      {"{\"vocab_size\": 0}", "vocab_size", "must be > 0"},
      {"{\"num_hidden_layers\": -2}", "num_hidden_layers", "must be > 0, found -2"},
      {"{\"intermediate_size\": \"3072\"}", "intermediate_size",
       "expected an integer, found \"3072\""},
      {"{\"hidden_size\": 768.5}", "hidden_size", "expected an integer"},
      {"{\"hidden_size\": 768.0}", "hidden_size", "expected an integer"},
      {"{\"type_vocab_size\": 99999999999}", "type_vocab_size", "expected an integer"},
      {"{\"max_position_embeddings\": null}", "max_position_embeddings", "expected an integer"},
      {"{\"hidden_dropout_prob\": 1.0}", "hidden_dropout_prob", "must be in [0, 1)"},
      {"{\"attention_probs_dropout_prob\": -0.1}", "attention_probs_dropout_prob",
       "must be in [0, 1)"},
      {"{\"hidden_dropout_prob\": \"0.1\"}", "hidden_dropout_prob", "expected a number"},
      {"{\"layer_norm_eps\": 0}", "layer_norm_eps", "must be > 0"},
      {"{\"initializer_range\": -1}", "initializer_range", "must be >= 0"},
      {"{\"hidden_act\": \"gelu_10\"}", "hidden_act", "\"gelu_10\" is not supported"},
      {"{\"hidden_act\": \"mish\"}", "hidden_act", "implements \"gelu\", \"gelu_python\", "},
      {"{\"hidden_act\": 3}", "hidden_act", "expected a string"},
      {"{\"type_vocab_size\": 1}", "type_vocab_size", "must be at least 2, found 1"},
      {"{\"is_decoder\": true}", "is_decoder", "not as a decoder"},
      {"{\"add_cross_attention\": true}", "add_cross_attention", "not as a decoder"},
      {"{\"is_decoder\": 1}", "is_decoder", "expected true or false"},
      {"{\"model_type\": \"roberta\"}", "model_type", "expected \"bert\", found \"roberta\""},
      {"{\"position_embedding_type\": \"relative_key\"}", "position_embedding_type",
       "not supported"},
      {"{\"vocab_size\": 100, \"pad_token_id\": 100}", "pad_token_id",
       "outside the vocabulary [0, 100)"},
      // PyTorch counts a negative padding_idx from the end: never taken for null here.
      {"{\"vocab_size\": 100, \"pad_token_id\": -1}", "pad_token_id",
       "-1 is not supported: PyTorch would freeze row 99"},
      {"{\"vocab_size\": 100, \"pad_token_id\": -101}", "pad_token_id",
       "-101 is outside the vocabulary [0, 100)"},
      {"{\"vocab_size\": 10, \"vocab_size\": 20}", "vocab_size", "duplicate key"},
      {"{\"vocab_size\": 10,}", "", "not valid JSON"},
      {"[1, 2]", "", "expected a JSON object"},
  };
  for (const Case& c : cases) {
    const std::string message =
        input_error_of([&] { parse_bert_config(c.json, "/models/x/config.json"); });
    INFO(c.json << " -> " << message);
    CHECK(contains(message, "/models/x/config.json"));
    if (!c.field.empty()) CHECK(contains(message, "config.json: " + c.field + ":"));
    CHECK(contains(message, c.expected));
  }
}

TEST_CASE("read_bert_config names a missing file", "[io][config]") {
  TempDir dir;
  const std::string path = dir.file("config.json");
  const std::string message = input_error_of([&] { read_bert_config(path); });
  CHECK(contains(message, path));
  CHECK(contains(message, "cannot open"));
}

TEST_CASE("bert_config_to_json writes a config that reads back identically", "[io][config]") {
  BertConfig c;
  c.vocab_size = 1000;
  c.hidden_size = 96;
  c.num_hidden_layers = 3;
  c.num_attention_heads = 4;
  c.intermediate_size = 200;
  c.max_position_embeddings = 64;
  c.type_vocab_size = 3;
  c.layer_norm_eps = 1e-5;
  c.hidden_dropout_prob = 0.1f;
  c.attention_probs_dropout_prob = 0.0f;
  c.initializer_range = 0.0123456f;
  c.pad_token_id = 3;
  const std::string json = bert_config_to_json(c);
  INFO(json);
  check_equal(parse_bert_config(json, "written"), c);
  CHECK(contains(json, "\"architectures\": [\n    \"BertForQuestionAnswering\"\n  ]"));
  CHECK(contains(json, "\"model_type\": \"bert\""));
  CHECK(contains(json, "\"torch_dtype\": \"float32\""));
  CHECK(contains(json, "\"dtype\": \"float32\""));
  CHECK(contains(json, "\"hidden_dropout_prob\": 0.1,"));  // shortest round-trip text
  CHECK(contains(json, "\"attention_probs_dropout_prob\": 0.0,"));  // a float for Python
  CHECK(contains(json, "\"layer_norm_eps\": 1e-05,"));

  c.pad_token_id = -1;
  CHECK(contains(bert_config_to_json(c), "\"pad_token_id\": null"));
  check_equal(parse_bert_config(bert_config_to_json(c), "written"), c);

  c.hidden_act = "gelu_new";
  check_equal(parse_bert_config(bert_config_to_json(c), "written"), c);
  c.hidden_act = "mish";
  CHECK_THROWS_AS(bert_config_to_json(c), InputError);
}

TEST_CASE("the source config's other keys are written back as save_pretrained keeps them",
          "[io][config]") {
  // A source's classifier_dropout, task_specific_params and the like survive fine-tuning here as
  // they survive save_pretrained; transformers_version and _name_or_path are not this engine's
  // to repeat.
  const BertConfig c = parse_bert_config(R"({"hidden_size": 32, "num_attention_heads": 4,
      "intermediate_size": 64, "num_hidden_layers": 1, "vocab_size": 100,
      "architectures": ["BertForMaskedLM"], "classifier_dropout": 0.3, "tie_word_embeddings": false,
      "task_specific_params": {"qa": {"b": 1, "a": "\u00e9", "a": "last"}}, "empty": {},
      "list": [1, 2.5, null], "small_float": 2.5e-7, "id2label": {"0": "NEG", "1": "NEU", "2": "POS"},
      "label2id": {"NEG": 0}, "num_labels": 3, "pruned_heads": {},
      "huge": [123456789012345678901234567890],
      "transformers_version": "4.6.0.dev0", "_name_or_path": "/home/me/bert", "use_cache": false})",
                                         "config.json");
  const std::string json = bert_config_to_json(c);
  INFO(json);
  // Python's json.dumps(indent=2, sort_keys=True) of those values: nested keys sorted, the last
  // of a repeated key kept (as Python's json reads it).
  CHECK(contains(json,
                 "  \"classifier_dropout\": 0.3,\n  \"dtype\": "
                 "\"float32\",\n  \"empty\": {},\n"));
  CHECK(contains(json,
                 "  \"task_specific_params\": {\n    \"qa\": {\n      \"a\": \"last\",\n      "
                 "\"b\": 1\n    }\n  },\n"));
  CHECK(contains(json, "  \"list\": [\n    1,\n    2.5,\n    null\n  ],\n"));
  CHECK(contains(json, "  \"small_float\": 2.5e-07,\n"));
  CHECK(contains(json, "  \"tie_word_embeddings\": false,\n"));
  CHECK(contains(json, "  \"use_cache\": false,\n"));
  CHECK(contains(json, "\"architectures\": [\n    \"BertForQuestionAnswering\"\n  ]"));
  // Left out: the labels (transformers would size the QA head by them), pruned_heads, an
  // integer too long to read back as one, and what is transformers' own to write.
  for (const char* dropped : {"id2label", "label2id", "num_labels", "pruned_heads", "huge",
                              "transformers_version", "_name_or_path"})
    CHECK_FALSE(contains(json, std::string("\"") + dropped + "\""));
  // Written twice, the same text; and the same model as without those keys.
  CHECK(bert_config_to_json(parse_bert_config(json, "written")) == json);
  BertConfig bare = c;
  bare.other_fields.clear();
  CHECK(same_model_fields(c, bare));
  CHECK(contains(bert_config_to_json(bare), "\"classifier_dropout\": null"));
  bare.hidden_dropout_prob = 0.2f;
  CHECK_FALSE(same_model_fields(c, bare));
}
