// The op table's vocabulary (tests/ops/op_case.h) and the table itself (tests/ops/op_cases.h).
#include "tests/ops/op_case.h"

#include "core/error.h"
#include "tests/ops/op_cases.h"

namespace bert::test {

const Tensor& OpTensors::operator[](const std::string& name) const {
  const auto found = by_name.find(name);
  BERT_CHECK(found != by_name.end(), "op case: no tensor named " + name);
  return found->second;
}

const TensorSpec& OpCase::spec(const std::string& name) const {
  for (const TensorSpec& tensor : tensors)
    if (tensor.name == name) return tensor;
  throw BertError("op case " + this->name() + ": no tensor named " + name);
}

bool OpCase::has_gradients() const {
  for (const TensorSpec& tensor : tensors)
    if (tensor.use == Use::kGradient) return true;
  return false;
}

TensorSpec input(const std::string& name, BufferRole role, size_t count, float low, float high) {
  TensorSpec spec;
  spec.name = name;
  spec.role = role;
  spec.count = count;
  spec.use = Use::kInput;
  spec.low = low;
  spec.high = high;
  return spec;
}

TensorSpec index_input(const std::string& name, std::vector<int32_t> ids) {
  TensorSpec spec = input(name, BufferRole::kIndex, ids.size(), 0, 0);
  spec.ids = std::move(ids);
  return spec;
}

TensorSpec state(const std::string& name, BufferRole role, size_t count, float low, float high) {
  TensorSpec spec = input(name, role, count, low, high);
  spec.use = Use::kState;
  return spec;
}

namespace {

TensorSpec written(const std::string& name, BufferRole role, size_t count, Use use) {
  TensorSpec spec;
  spec.name = name;
  spec.role = role;
  spec.count = count;
  spec.use = use;
  return spec;
}

}  // namespace

TensorSpec output(const std::string& name, BufferRole role, size_t count) {
  return written(name, role, count, Use::kOutput);
}

TensorSpec saved(const std::string& name, BufferRole role, size_t count) {
  return written(name, role, count, Use::kSaved);
}

TensorSpec scratch(const std::string& name, BufferRole role, size_t count) {
  return written(name, role, count, Use::kScratch);
}

TensorSpec out_grad(const std::string& of, size_t count) {
  TensorSpec spec = input("d_" + of, BufferRole::kActivation, count, -1, 1);
  spec.use = Use::kOutGrad;
  spec.of = of;
  return spec;
}

TensorSpec gradient(const std::string& of, BufferRole role, size_t count, Accumulate mode, float low,
                    float high) {
  TensorSpec spec = input("d_" + of, role, count, low, high);
  spec.use = Use::kGradient;
  spec.of = of;
  spec.mode = mode;
  return spec;
}

TensorSpec with_gpu_tolerance(TensorSpec spec, const Tolerance& bf16, const Tolerance& fp32) {
  spec.bf16_tolerance = bf16;
  spec.fp32_tolerance = fp32;
  return spec;
}

DropoutSpec case_dropout(float probability, uint32_t site) {
  DropoutSpec spec;
  spec.probability = probability;
  spec.seed = 1234;
  spec.micro_step = 9;
  spec.site = site;
  spec.element_offset = 6;
  return spec;
}

std::vector<int32_t> prefix_sums(const std::vector<int>& lengths) {
  std::vector<int32_t> cu{0};
  for (int length : lengths) cu.push_back(cu.back() + length);
  return cu;
}

std::string accumulate_name(Accumulate mode) { return mode == Accumulate::kAdd ? "add" : "overwrite"; }

const std::vector<OpEntry>& op_table() {
  static const std::vector<OpEntry> table{
      {"embeddings", embeddings_cases},      {"matmul", matmul_cases},
      {"bias_gelu", bias_gelu_cases},        {"residual_layernorm", residual_layernorm_cases},
      {"attention", attention_cases},        {"qa_loss", qa_loss_cases},
      {"adamw", adamw_cases}};
  return table;
}

std::vector<OpCase> all_op_cases(OpSize size) {
  std::vector<OpCase> cases;
  for (const OpEntry& entry : op_table())
    for (OpCase& one : entry.cases(size)) cases.push_back(std::move(one));
  return cases;
}

}  // namespace bert::test
