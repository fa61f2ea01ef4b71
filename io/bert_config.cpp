// config.json reading (simdjson DOM), validation and writing. See bert_config.h.
#include "io/bert_config.h"

#include <simdjson.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/file_io.h"
#include "core/json_text.h"

namespace bert {
namespace {

// Short text of a JSON value for "found ..." in messages.
std::string found(simdjson::dom::element value) {
  std::string text = simdjson::minify(value);
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return "found " + text;
}

class ConfigReader {
 public:
  ConfigReader(const std::string& file, simdjson::dom::object object)
      : file_(file), object_(object) {}

  // Missing key -> false (the default stays).
  bool lookup(const char* key, simdjson::dom::element* value) const {
    return object_[key].get(*value) == simdjson::SUCCESS;
  }

  void read_int(const char* key, int* out) const {
    simdjson::dom::element value;
    if (!lookup(key, &value)) return;
    int64_t v = 0;
    if (value.type() != simdjson::dom::element_type::INT64 || value.get_int64().get(v))
      throw_input_error(file_, key, "expected an integer, " + found(value));
    if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max())
      throw_input_error(file_, key, "expected an integer that fits 32 bits, " + found(value));
    *out = static_cast<int>(v);
  }

  void read_double(const char* key, double* out) const {
    simdjson::dom::element value;
    if (!lookup(key, &value)) return;
    double v = 0;
    if (value.get_double().get(v) || !std::isfinite(v))  // get_double accepts integers too
      throw_input_error(file_, key, "expected a number, " + found(value));
    *out = v;
  }

  void read_float(const char* key, float* out) const {
    double v = *out;
    read_double(key, &v);
    *out = static_cast<float>(v);
  }

  void read_string(const char* key, std::string* out) const {
    simdjson::dom::element value;
    if (!lookup(key, &value)) return;
    std::string_view text;
    if (value.get_string().get(text)) throw_input_error(file_, key, "expected a string, " + found(value));
    *out = std::string(text);
  }

 private:
  std::string file_;
  simdjson::dom::object object_;
};

// A float field as save_pretrained writes it: the shortest decimal that reads back as the same
// float, always a float to Python's json ("0.1", "1e-12", "0.0"; Infinity as json.dumps).
std::string float_text(float value) {
  return format_json_number(value, NonFiniteJson::kPythonNames, JsonDigits::kFloat);
}

// A field held as a double (layer_norm_eps): Python's repr of the value read.
std::string double_text(double value) {
  return format_json_number(value, NonFiniteJson::kPythonNames, JsonDigits::kDouble);
}

}  // namespace

Activation BertConfig::activation() const {
  const std::optional<Activation> activation = activation_from_hf_name(hidden_act);
  BERT_CHECK(activation.has_value(), "hidden_act \"" + hidden_act + "\" was not validated");
  return *activation;
}

void validate_bert_config(const BertConfig& c, const std::string& file) {
  auto positive = [&](const char* key, int value) {
    if (value <= 0) throw_input_error(file, key, "must be > 0, found " + std::to_string(value));
  };
  positive("vocab_size", c.vocab_size);
  positive("hidden_size", c.hidden_size);
  positive("num_hidden_layers", c.num_hidden_layers);
  positive("num_attention_heads", c.num_attention_heads);
  positive("intermediate_size", c.intermediate_size);
  positive("max_position_embeddings", c.max_position_embeddings);
  positive("type_vocab_size", c.type_vocab_size);
  if (c.type_vocab_size < 2)
    throw_input_error(file, "type_vocab_size",
                      "must be at least 2, found " + std::to_string(c.type_vocab_size) +
                          ": a question-answering input gives the question token type 0 and the context type 1");
  auto bounded = [&](const char* key, int value, int limit) {
    if (value > limit)
      throw_input_error(file, key, "must be at most " + std::to_string(limit) + ", found " + std::to_string(value));
  };
  const ConfigSizeLimits& limits = kMaxConfigSizes;
  bounded("vocab_size", c.vocab_size, limits.vocab_size);
  bounded("hidden_size", c.hidden_size, limits.hidden_size);
  bounded("num_hidden_layers", c.num_hidden_layers, limits.num_hidden_layers);
  bounded("intermediate_size", c.intermediate_size, limits.intermediate_size);
  bounded("max_position_embeddings", c.max_position_embeddings, limits.max_position_embeddings);
  bounded("type_vocab_size", c.type_vocab_size, limits.type_vocab_size);
  if (c.hidden_size % c.num_attention_heads != 0)
    throw_input_error(file, "hidden_size",
                      std::to_string(c.hidden_size) + " is not divisible by num_attention_heads " +
                          std::to_string(c.num_attention_heads));
  auto probability = [&](const char* key, float value) {
    if (!(value >= 0.0f && value < 1.0f))
      throw_input_error(file, key, "must be in [0, 1), found " + float_text(value));
  };
  probability("hidden_dropout_prob", c.hidden_dropout_prob);
  probability("attention_probs_dropout_prob", c.attention_probs_dropout_prob);
  if (!(c.layer_norm_eps > 0.0))
    throw_input_error(file, "layer_norm_eps", "must be > 0, found " + double_text(c.layer_norm_eps));
  if (!(c.initializer_range >= 0.0f))
    throw_input_error(file, "initializer_range",
                      "must be >= 0, found " + float_text(c.initializer_range));
  if (!activation_from_hf_name(c.hidden_act))
    throw_input_error(file, "hidden_act",
                      "\"" + c.hidden_act + "\" is not supported: this engine implements " +
                          supported_activation_names());
  if (c.pad_token_id < -1 || c.pad_token_id >= c.vocab_size)
    throw_input_error(file, "pad_token_id",
                      std::to_string(c.pad_token_id) + " is outside the vocabulary [0, " +
                          std::to_string(c.vocab_size) + ")");
}

namespace {

// -1 stands for null inside BertConfig, so a negative id written in the file is refused here,
// before it could be taken for null: PyTorch's Embedding counts a negative padding_idx from the
// end (-1: the last row, which then gets no gradient), which this engine does not.
void refuse_negative_pad_token_id(const std::string& file, int pad_token_id, int vocab_size) {
  if (pad_token_id >= 0) return;
  if (vocab_size > 0 && int64_t{pad_token_id} >= -int64_t{vocab_size})
    throw_input_error(file, "pad_token_id",
                      std::to_string(pad_token_id) +
                          " is not supported: PyTorch would freeze row " +
                          std::to_string(int64_t{vocab_size} + pad_token_id) +
                          " (counted from the end); give that id, or null for no padding row");
  throw_input_error(file, "pad_token_id",
                    std::to_string(pad_token_id) + " is outside the vocabulary [0, " +
                        std::to_string(vocab_size) + ")");
}

}  // namespace

namespace {

// Parameters per part of the model: the embedding tables and the encoder layers.
struct ParameterCounts {
  double word, position, type, layers, rest;
  double total() const { return word + position + type + layers + rest; }
};

ParameterCounts parameter_counts(const BertConfig& c) {
  const double h = c.hidden_size, f = c.intermediate_size;
  const double layer = 4 * (h * h + h) + 2 * h * f + f + h + 4 * h;  // q, k, v, o; FFN; two LayerNorms
  return {double(c.vocab_size) * h, double(c.max_position_embeddings) * h, double(c.type_vocab_size) * h,
          double(c.num_hidden_layers) * layer, 2 * h + 2 * h + 2};  // embedding LayerNorm, qa_outputs
}

}  // namespace

double bert_qa_parameter_count(const BertConfig& config) { return parameter_counts(config).total(); }

double bert_qa_non_embedding_parameter_count(const BertConfig& config) {
  const ParameterCounts p = parameter_counts(config);
  return p.layers + p.rest;
}

const char* largest_size_field(const BertConfig& config) {
  const ParameterCounts p = parameter_counts(config);
  if (p.layers >= p.word && p.layers >= p.position && p.layers >= p.type) {
    // Of the encoder's sizes, the one furthest above bert-base's (12 layers, 768, 3072).
    const double layers = config.num_hidden_layers / 12.0, hidden = config.hidden_size / 768.0,
                 inter = config.intermediate_size / 3072.0;
    if (layers >= hidden && layers >= inter) return "num_hidden_layers";
    return hidden >= inter ? "hidden_size" : "intermediate_size";
  }
  if (p.word >= p.position && p.word >= p.type) return "vocab_size";
  return p.position >= p.type ? "max_position_embeddings" : "type_vocab_size";
}

void check_config_fits_memory(const BertConfig& config, const std::string& file, double bytes_per_parameter,
                              double available_bytes) {
  const double parameters = bert_qa_parameter_count(config);
  const double bytes = parameters * bytes_per_parameter;
  if (bytes <= available_bytes) return;
  const char* field = largest_size_field(config);
  char text[320];
  std::snprintf(text, sizeof text,
                "the model has %.3g parameters (hidden_size %d, num_hidden_layers %d, intermediate_size %d, "
                "vocab_size %d, max_position_embeddings %d), which need %s, more than this machine's %s of "
                "memory",
                parameters, config.hidden_size, config.num_hidden_layers, config.intermediate_size,
                config.vocab_size, config.max_position_embeddings, format_bytes(bytes).c_str(),
                format_bytes(available_bytes).c_str());
  throw_input_error(file, field, text);
}

namespace {

// The keys bert_config_to_json writes from BertConfig's fields or as constants, and those it
// never carries over (see BertConfig::other_fields).
const std::set<std::string>& written_or_dropped_keys() {
  static const std::set<std::string> kKeys = {
      "architectures", "attention_probs_dropout_prob", "dtype", "hidden_act", "hidden_dropout_prob",
      "hidden_size", "initializer_range", "intermediate_size", "layer_norm_eps",
      "max_position_embeddings", "model_type", "num_attention_heads", "num_hidden_layers",
      "pad_token_id", "position_embedding_type", "torch_dtype", "type_vocab_size", "vocab_size",
      "_name_or_path", "transformers_version",
      // BertForQuestionAnswering sizes qa_outputs by
      // num_labels: a classifier's labels would not
      // fit the 2-output head saved here.
      "num_labels", "_num_labels", "id2label", "label2id", "pruned_heads"};
  return kKeys;
}

// Whether the value holds a float that widen_big_json_integers may have made of an integer
// literal of 20 or more digits (integral, at least 1e19 in magnitude).
bool holds_widened_integer(simdjson::dom::element value) {
  switch (value.type()) {
    case simdjson::dom::element_type::OBJECT: {
      simdjson::dom::object object;
      if (value.get_object().get(object)) return false;
      for (auto field : object)
        if (holds_widened_integer(field.value)) return true;
      return false;
    }
    case simdjson::dom::element_type::ARRAY: {
      simdjson::dom::array items;
      if (value.get_array().get(items)) return false;
      for (simdjson::dom::element item : items)
        if (holds_widened_integer(item)) return true;
      return false;
    }
    case simdjson::dom::element_type::DOUBLE: {
      const double number = value.get_double().value();
      return std::isfinite(number) && std::fabs(number) >= 1e19 && number == std::floor(number);
    }
    default:
      return false;
  }
}

// A JSON value as Python's json.dumps(indent=2, sort_keys=True) writes it inside an object at
// `depth` (save_pretrained's form): nested keys sorted, non-ASCII escaped.
void append_python_json(simdjson::dom::element value, int depth, std::string* out) {
  const std::string indent(2 * (depth + 1), ' '), closing(2 * depth, ' ');
  switch (value.type()) {
    case simdjson::dom::element_type::OBJECT: {
      std::map<std::string, simdjson::dom::element> sorted;
      // Bound to a local first: value() of the temporary result would dangle in the loop.
      simdjson::dom::object object;
      if (value.get_object().get(object)) return;
      for (auto field : object)
        sorted[std::string(field.key)] = field.value;  // the last, as Python
      if (sorted.empty()) {
        *out += "{}";
        return;
      }
      *out += "{\n";
      size_t i = 0;
      for (const auto& [key, item] : sorted) {
        *out += indent + json_quote(key, JsonChars::kAscii) + ": ";
        append_python_json(item, depth + 1, out);
        *out += ++i < sorted.size() ? ",\n" : "\n";
      }
      *out += closing + "}";
      return;
    }
    case simdjson::dom::element_type::ARRAY: {
      simdjson::dom::array items;
      if (value.get_array().get(items)) return;
      if (items.size() == 0) {
        *out += "[]";
        return;
      }
      *out += "[\n";
      size_t i = 0;
      for (simdjson::dom::element item : items) {
        *out += indent;
        append_python_json(item, depth + 1, out);
        *out += ++i < items.size() ? ",\n" : "\n";
      }
      *out += closing + "]";
      return;
    }
    case simdjson::dom::element_type::STRING:
      *out += json_quote(value.get_string().value(), JsonChars::kAscii);
      return;
    case simdjson::dom::element_type::INT64:
      *out += std::to_string(value.get_int64().value());
      return;
    case simdjson::dom::element_type::UINT64:
      *out += std::to_string(value.get_uint64().value());
      return;
    case simdjson::dom::element_type::DOUBLE:
      *out += format_json_number(value.get_double().value(), NonFiniteJson::kPythonNames);
      return;
    case simdjson::dom::element_type::BOOL:
      *out += value.get_bool().value() ? "true" : "false";
      return;
    case simdjson::dom::element_type::NULL_VALUE:
      *out += "null";
      return;
  }
}

}  // namespace

BertConfig parse_bert_config(const std::string& json, const std::string& file) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  // Unused fields may hold Python integers above 64 bits, which simdjson would refuse.
  if (auto error = parser.parse(simdjson::padded_string(widen_big_json_integers(json))).get(root)) {
    if (starts_with_utf8_bom(json)) throw_input_error(file, "byte 0", kUtf8BomMessage);
    throw_input_error(file, "", std::string("not valid JSON: ") + simdjson::error_message(error));
  }
  simdjson::dom::object object;
  if (root.get_object().get(object)) throw_input_error(file, "", "expected a JSON object");
  std::set<std::string_view> keys;
  for (auto field : object)
    if (!keys.insert(field.key).second)
      throw_input_error(file, std::string(field.key), "duplicate key");

  const ConfigReader reader(file, object);
  std::string model_type = "bert", position_type = "absolute";
  reader.read_string("model_type", &model_type);
  if (model_type != "bert")
    throw_input_error(file, "model_type", "expected \"bert\", found \"" + model_type + "\"");
  reader.read_string("position_embedding_type", &position_type);
  if (position_type != "absolute")
    throw_input_error(file, "position_embedding_type",
                      "\"" + position_type + "\" is not supported: expected \"absolute\"");
  // A decoder BertModel masks attention causally (and cross-attends with add_cross_attention):
  // not the bidirectional encoder this engine runs, so refused rather than silently run as one.
  for (const char* key : {"is_decoder", "add_cross_attention"}) {
    simdjson::dom::element value;
    if (!reader.lookup(key, &value)) continue;
    if (!value.is_bool()) throw_input_error(file, key, "expected true or false, " + found(value));
    if (value.get_bool().value())
      throw_input_error(file, key,
                        "true is not supported: this engine runs BERT as a bidirectional encoder "
                        "(BertForQuestionAnswering), not as a decoder");
  }

  BertConfig c;
  reader.read_int("vocab_size", &c.vocab_size);
  reader.read_int("hidden_size", &c.hidden_size);
  reader.read_int("num_hidden_layers", &c.num_hidden_layers);
  reader.read_int("num_attention_heads", &c.num_attention_heads);
  reader.read_int("intermediate_size", &c.intermediate_size);
  reader.read_int("max_position_embeddings", &c.max_position_embeddings);
  reader.read_int("type_vocab_size", &c.type_vocab_size);
  reader.read_double("layer_norm_eps", &c.layer_norm_eps);
  reader.read_float("hidden_dropout_prob", &c.hidden_dropout_prob);
  reader.read_float("attention_probs_dropout_prob", &c.attention_probs_dropout_prob);
  reader.read_float("initializer_range", &c.initializer_range);
  reader.read_string("hidden_act", &c.hidden_act);
  simdjson::dom::element pad;
  if (reader.lookup("pad_token_id", &pad) && pad.is_null())
    c.pad_token_id = -1;  // HF allows null: no padding row in the word embeddings
  else {
    reader.read_int("pad_token_id", &c.pad_token_id);
    refuse_negative_pad_token_id(file, c.pad_token_id, c.vocab_size);
  }
  validate_bert_config(c, file);
  for (auto field : object) {
    const std::string key(field.key);
    if (written_or_dropped_keys().count(key)) continue;
    std::string text;
    append_python_json(field.value, 1, &text);
    // An integer of 20 or more digits was read as a float (widen_big_json_integers), which
    // would change its type and digits: such a key is left out rather than altered.
    if (holds_widened_integer(field.value)) continue;
    c.other_fields.emplace(key, std::move(text));
  }
  return c;
}

BertConfig read_bert_config(const std::string& path) {
  return parse_bert_config(read_file(path), path);
}

std::string bert_config_to_json(const BertConfig& c) {
  validate_bert_config(c, "config to write");  // never write a config the reader refuses
  std::map<std::string, std::string> fields = {
      {"architectures", "[\n    \"BertForQuestionAnswering\"\n  ]"},
      {"attention_probs_dropout_prob", float_text(c.attention_probs_dropout_prob)},
      {"classifier_dropout", "null"},
      {"dtype", "\"float32\""},
      {"hidden_act", "\"" + c.hidden_act + "\""},
      {"hidden_dropout_prob", float_text(c.hidden_dropout_prob)},
      {"hidden_size", std::to_string(c.hidden_size)},
      {"initializer_range", float_text(c.initializer_range)},
      {"intermediate_size", std::to_string(c.intermediate_size)},
      {"layer_norm_eps", double_text(c.layer_norm_eps)},
      {"max_position_embeddings", std::to_string(c.max_position_embeddings)},
      {"model_type", "\"bert\""},
      {"num_attention_heads", std::to_string(c.num_attention_heads)},
      {"num_hidden_layers", std::to_string(c.num_hidden_layers)},
      {"pad_token_id", c.pad_token_id < 0 ? std::string("null") : std::to_string(c.pad_token_id)},
      {"position_embedding_type", "\"absolute\""},
      {"torch_dtype", "\"float32\""},
      {"type_vocab_size", std::to_string(c.type_vocab_size)},
      {"use_cache", "true"},
      {"vocab_size", std::to_string(c.vocab_size)}};
  for (const auto& [key, value] : c.other_fields)
    if (!written_or_dropped_keys().count(key)) fields[key] = value;
  // Keys in sorted order, as save_pretrained writes them.
  std::string out = "{\n";
  size_t i = 0;
  for (const auto& [key, value] : fields)
    out += "  " + json_quote(key, JsonChars::kAscii) + ": " + value +
           (++i < fields.size() ? ",\n" : "\n");
  return out + "}\n";
}

bool same_model_fields(const BertConfig& a, const BertConfig& b) {
  BertConfig bare_a = a, bare_b = b;
  bare_a.other_fields.clear();
  bare_b.other_fields.clear();
  return bert_config_to_json(bare_a) == bert_config_to_json(bare_b);
}

}  // namespace bert
