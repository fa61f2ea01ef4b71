// BertForQuestionAnswering parameter list and initialisation. See param_specs.h.
#include "io/param_specs.h"

#include <algorithm>
#include <cmath>

#include "core/strings.h"

namespace bert {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t fnv1a64(const std::string& text) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

void add(std::vector<ParamSpec>* specs, const std::string& name, std::vector<int64_t> shape,
         InitKind init) {
  ParamSpec spec;
  spec.name = name;
  spec.shape = std::move(shape);
  spec.decay = param_has_decay(name);
  spec.init = init;
  specs->push_back(std::move(spec));
}

// A Linear layer: weight [out, in] ~ N(0, range), bias [out] = 0.
void add_linear(std::vector<ParamSpec>* specs, const std::string& prefix, int64_t out, int64_t in) {
  add(specs, prefix + ".weight", {out, in}, InitKind::kNormal);
  add(specs, prefix + ".bias", {out}, InitKind::kZeros);
}

void add_layer_norm(std::vector<ParamSpec>* specs, const std::string& prefix, int64_t hidden) {
  add(specs, prefix + ".weight", {hidden}, InitKind::kOnes);
  add(specs, prefix + ".bias", {hidden}, InitKind::kZeros);
}

}  // namespace

int64_t ParamSpec::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

bool param_has_decay(const std::string& name) {
  return !ends_with(name, ".bias") && name.find("LayerNorm") == std::string::npos;
}

std::vector<ParamSpec> bert_qa_param_specs(const BertConfig& c) {
  const int64_t hidden = c.hidden_size, inter = c.intermediate_size;
  std::vector<ParamSpec> specs;
  add(&specs, "bert.embeddings.word_embeddings.weight", {c.vocab_size, hidden}, InitKind::kNormal);
  specs.back().zero_row = c.pad_token_id;  // -1 (none) when config has pad_token_id null
  add(&specs, "bert.embeddings.position_embeddings.weight", {c.max_position_embeddings, hidden},
      InitKind::kNormal);
  add(&specs, "bert.embeddings.token_type_embeddings.weight", {c.type_vocab_size, hidden},
      InitKind::kNormal);
  add_layer_norm(&specs, "bert.embeddings.LayerNorm", hidden);
  for (int i = 0; i < c.num_hidden_layers; ++i) {
    const std::string layer = "bert.encoder.layer." + std::to_string(i);
    add_linear(&specs, layer + ".attention.self.query", hidden, hidden);
    add_linear(&specs, layer + ".attention.self.key", hidden, hidden);
    add_linear(&specs, layer + ".attention.self.value", hidden, hidden);
    add_linear(&specs, layer + ".attention.output.dense", hidden, hidden);
    add_layer_norm(&specs, layer + ".attention.output.LayerNorm", hidden);
    add_linear(&specs, layer + ".intermediate.dense", inter, hidden);
    add_linear(&specs, layer + ".output.dense", hidden, inter);
    add_layer_norm(&specs, layer + ".output.LayerNorm", hidden);
  }
  add_linear(&specs, "qa_outputs", 2, hidden);
  return specs;
}

double NormalRng::next() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  // Uniforms in (0, 1) from the top 53 bits; the +0.5 keeps log() away from 0.
  const double scale = 1.0 / 9007199254740992.0;  // 2^-53
  const double u1 = (static_cast<double>(engine_() >> 11) + 0.5) * scale;
  const double u2 = (static_cast<double>(engine_() >> 11) + 0.5) * scale;
  const double radius = std::sqrt(-2.0 * std::log(u1));
  const double angle = 6.283185307179586476925 * u2;
  spare_ = radius * std::sin(angle);
  has_spare_ = true;
  return radius * std::cos(angle);
}

std::vector<float> init_param(const ParamSpec& spec, float initializer_range, uint64_t seed) {
  const size_t n = static_cast<size_t>(spec.numel());
  switch (spec.init) {
    case InitKind::kOnes:
      return std::vector<float>(n, 1.0f);
    case InitKind::kZeros:
      return std::vector<float>(n, 0.0f);
    case InitKind::kNormal:
      break;
  }
  std::vector<float> values(n);
  NormalRng rng(splitmix64(seed ^ fnv1a64(spec.name)));
  for (float& v : values) v = static_cast<float>(initializer_range * rng.next());
  if (spec.zero_row >= 0 && spec.shape.size() == 2 && spec.zero_row < spec.shape[0]) {
    const size_t cols = static_cast<size_t>(spec.shape[1]);
    std::fill(values.begin() + spec.zero_row * cols, values.begin() + (spec.zero_row + 1) * cols,
              0.0f);
  }
  return values;
}

std::map<std::string, std::vector<float>> init_bert_qa_params(const BertConfig& config,
                                                              uint64_t seed) {
  std::map<std::string, std::vector<float>> params;
  for (const ParamSpec& spec : bert_qa_param_specs(config))
    params[spec.name] = init_param(spec, config.initializer_range, seed);
  return params;
}

}  // namespace bert
