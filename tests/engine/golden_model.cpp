#include "tests/engine/golden_model.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "core/error.h"
#include "core/file_io.h"
#include "io/model_dir.h"
#include "io/safetensors.h"
#include "tests/test_support.h"

namespace bert::test {

DataDir golden_dir() {
  const char* env = std::getenv("BERT_GOLDEN_DIR");
  if (env && *env) return {env, "BERT_GOLDEN_DIR"};
  const DataDir shared = shared_dir();
  return {join_path(shared.path, "golden/tiny-bert-qa"), shared.named_by};
}

bool have_golden() { return have_data_file(golden_dir(), "golden.safetensors", "golden parity"); }

std::vector<double> GoldenModel::packed(const std::string& name, int width) const {
  const std::vector<double>& padded = tensors.at(name);
  std::vector<double> out;
  out.reserve(real_rows.size() * width);
  for (int row : real_rows)
    out.insert(out.end(), padded.begin() + size_t(row) * width, padded.begin() + size_t(row + 1) * width);
  return out;
}

double GoldenModel::gradient_max(const std::string& name) const {
  double largest = 0;
  for (double g : tensors.at("grad." + name)) largest = std::max(largest, std::fabs(g));
  return largest;
}

bool GoldenModel::zero_gradient(const std::string& name) const {
  return gradient_max(name) <= 1e-12 * tensors.at("out.grad_norm_steps").at(0);
}

std::vector<double> GoldenModel::adam_update_atol(const std::string& name, double atol, double noise_fraction) const {
  const std::vector<double>& grad = tensors.at("grad." + name);
  const double largest = gradient_max(name);
  const bool all_noise = zero_gradient(name);
  const double lr_steps = optimizer.learning_rate * steps;
  std::vector<double> out(grad.size(), atol);
  for (size_t i = 0; i < grad.size(); ++i)
    if (all_noise || std::fabs(grad[i]) <= noise_fraction * largest) out[i] = std::max(atol, lr_steps);
  return out;
}

namespace {
double metadata_number(const GoldenModel& golden, const std::string& key) {
  auto found = golden.metadata.find(key);
  if (found == golden.metadata.end()) throw BertError(golden.dir + ": golden metadata lacks " + key);
  return std::stod(found->second);
}
}  // namespace

GoldenModel read_golden_model(const std::string& dir) {
  GoldenModel golden;
  golden.dir = dir;
  golden.config = read_bert_config(join_path(dir, "config.json"));
  const SafetensorsFile weights = SafetensorsFile::open(join_path(dir, "model.safetensors"));
  for (const std::string& name : weights.names())
    golden.initial_params[canonical_param_name(name)] = weights.read_f32(name);

  const SafetensorsFile file = SafetensorsFile::open(join_path(dir, "golden.safetensors"));
  golden.metadata = file.metadata();
  for (const std::string& name : file.names()) {
    const Dtype dtype = file.info(name).dtype;
    if (dtype == Dtype::kF64 || dtype == Dtype::kF32) golden.tensors[name] = file.read_f64(name);
  }
  golden.steps = static_cast<int>(metadata_number(golden, "steps"));
  golden.optimizer.learning_rate = metadata_number(golden, "lr");
  golden.optimizer.eps = metadata_number(golden, "eps");
  golden.optimizer.weight_decay = metadata_number(golden, "weight_decay");
  golden.optimizer.max_grad_norm = metadata_number(golden, "max_grad_norm");
  const std::string betas = golden.metadata.at("betas");
  golden.optimizer.beta1 = std::stod(betas.substr(0, betas.find(',')));
  golden.optimizer.beta2 = std::stod(betas.substr(betas.find(',') + 1));

  const std::vector<int64_t> ids = file.read_i64("input.input_ids");
  const std::vector<int64_t> types = file.read_i64("input.token_type_ids");
  const std::vector<int64_t> mask = file.read_i64("input.attention_mask");
  const std::vector<int64_t> starts = file.read_i64("input.start_positions");
  const std::vector<int64_t> ends = file.read_i64("input.end_positions");
  const std::vector<int64_t> shape = file.info("input.input_ids").shape;
  const int batch = static_cast<int>(shape.at(0)), seq = static_cast<int>(shape.at(1));
  PackedBatch& packed = golden.batch;
  packed.cu_seqlens.push_back(0);
  for (int b = 0; b < batch; ++b) {
    int length = 0;
    for (int s = 0; s < seq; ++s) {
      if (!mask[size_t(b) * seq + s]) continue;
      // The mask must be a prefix of ones: packing drops the padded tail.
      BERT_CHECK(s == length, dir + ": attention_mask row " + std::to_string(b) + " is not left-aligned");
      packed.input_ids.push_back(static_cast<int32_t>(ids[size_t(b) * seq + s]));
      packed.token_type_ids.push_back(static_cast<int32_t>(types[size_t(b) * seq + s]));
      packed.position_ids.push_back(length);
      golden.real_rows.push_back(b * seq + s);
      ++length;
    }
    packed.cu_seqlens.push_back(packed.cu_seqlens.back() + length);
    packed.start_positions.push_back(static_cast<int32_t>(starts[b]));
    packed.end_positions.push_back(static_cast<int32_t>(ends[b]));
  }
  return golden;
}

void check_golden_activations(BertQaModel& model, const GoldenModel& golden, const Tolerance& tol) {
  const int H = golden.config.hidden_size;
  for (int layer = 0; layer <= golden.config.num_hidden_layers; ++layer) {
    const std::string name = "act.hidden_states." + std::to_string(layer);
    REQUIRE_CLOSE(name, within(model.hidden_state(layer), golden.packed(name, H), tol));
  }
  const std::vector<double> logits = model.logits();  // [T, 2]
  std::vector<double> start(logits.size() / 2), end(logits.size() / 2);
  for (size_t t = 0; t < start.size(); ++t) {
    start[t] = logits[2 * t];
    end[t] = logits[2 * t + 1];
  }
  REQUIRE_CLOSE("start_logits", within(start, golden.packed("out.start_logits", 1), tol));
  REQUIRE_CLOSE("end_logits", within(end, golden.packed("out.end_logits", 1), tol));
}

}  // namespace bert::test
