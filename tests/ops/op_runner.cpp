// Running op cases on a backend and the shared checks (tests/ops/op_runner.h).
#include "tests/ops/op_runner.h"

#include <random>
#include <sstream>

#include "core/error.h"
#include "engine/cuda/bf16_host.h"

namespace bert::test {
namespace {

// Central-difference step: the truncation error is O(h²) ≈ 1e-12 and the rounding error about
// 1e-16·|L|/h ≈ 1e-9 for the losses of the small cases.
constexpr double kFdStep = 1e-6;
const Tolerance kFdTolerance{1e-6, 0, 1e-8};

bool uploaded_before_forward(const TensorSpec& spec) {
  return spec.use == Use::kInput || spec.use == Use::kState || spec.use == Use::kOutGrad ||
         spec.use == Use::kGradient;
}

std::vector<double> minus(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> out(a.size());
  for (size_t i = 0; i < a.size(); ++i) out[i] = a[i] - b[i];
  return out;
}

}  // namespace

Representable representable_in_float() {
  return [](BufferRole, std::vector<double> values) {
    for (double& value : values) value = static_cast<float>(value);
    return values;
  };
}

Representable representable_on(const Backend& backend) {
  return [&backend](BufferRole role, std::vector<double> values) {
    const bool bf16 = backend.dtype_for(role) == ScalarType::kBF16;
    for (double& value : values) {
      value = static_cast<float>(value);
      if (bf16) value = float_from_bf16_bits(bf16_bits_from_float(static_cast<float>(value)));
    }
    return values;
  };
}

OpValues draw_values(const OpCase& op, uint32_t seed, const Representable& representable) {
  std::mt19937 rng(seed);
  OpValues values;
  for (const TensorSpec& spec : op.tensors) {
    if (!uploaded_before_forward(spec)) continue;
    if (spec.role == BufferRole::kIndex) {
      values[spec.name] = std::vector<double>(spec.ids.begin(), spec.ids.end());
      continue;
    }
    std::uniform_real_distribution<float> distribution(spec.low, spec.high);
    std::vector<double> drawn(spec.count);
    for (double& value : drawn) value = distribution(rng);
    values[spec.name] = representable(spec.role, std::move(drawn));
  }
  return values;
}

OpInstance::OpInstance(Backend& backend, const OpCase& op, const OpValues& values)
    : backend_(backend), op_(op), values_(values) {
  for (const TensorSpec& spec : op.tensors) {
    const Tensor tensor = backend.allocate(spec.count, spec.role);
    tensors_.by_name[spec.name] = tensor;
    const auto found = values.find(spec.name);
    if (found == values.end()) continue;
    if (spec.role == BufferRole::kIndex) {
      backend.upload(tensor, spec.ids.data(), spec.ids.size());
    } else {
      BERT_CHECK(found->second.size() == spec.count, "op case " + op.name() + ": values of " + spec.name);
      backend.upload(tensor, found->second.data(), found->second.size());
    }
  }
}

std::vector<double> OpInstance::get(const std::string& name) { return backend_.download(tensors_[name]); }

void OpInstance::set(const std::string& name, const std::vector<double>& values) {
  backend_.upload(tensors_[name], values.data(), values.size());
}

double OpInstance::projected_loss() {
  double loss = 0;
  for (const TensorSpec& spec : op_.tensors) {
    if (spec.use != Use::kOutput) continue;
    const std::vector<double> out = get(spec.name);
    const auto weights = values_.find("d_" + spec.name);
    for (size_t i = 0; i < out.size(); ++i)
      loss += (weights != values_.end() ? weights->second[i] : spec.loss_weight) * out[i];
  }
  return loss;
}

std::vector<TensorCheck> check_finite_differences(Backend& backend, const OpCase& op, uint32_t seed) {
  const OpValues values = draw_values(op, seed, [](BufferRole, std::vector<double> v) { return v; });
  OpInstance instance(backend, op, values);
  instance.forward();
  instance.backward();
  std::vector<std::pair<const TensorSpec*, std::vector<double>>> analytic;
  for (const TensorSpec& spec : op.tensors) {
    if (spec.use != Use::kGradient) continue;
    std::vector<double> written = instance.get(spec.name);
    if (spec.mode == Accumulate::kAdd) written = minus(written, values.at(spec.name));
    analytic.emplace_back(&spec, std::move(written));
  }
  std::vector<TensorCheck> checks;
  for (const auto& [spec, gradient] : analytic) {
    std::vector<double> x = values.at(spec->of), numeric(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      const double saved = x[i];
      x[i] = saved + kFdStep;
      instance.set(spec->of, x);
      instance.forward();
      const double plus = instance.projected_loss();
      x[i] = saved - kFdStep;
      instance.set(spec->of, x);
      instance.forward();
      const double minus_loss = instance.projected_loss();
      x[i] = saved;
      numeric[i] = (plus - minus_loss) / (2 * kFdStep);
    }
    instance.set(spec->of, x);
    checks.push_back({spec->name, within(gradient, numeric, kFdTolerance)});
  }
  return checks;
}

std::vector<TensorCheck> check_against(Backend& backend, Backend& reference, const OpCase& op, uint32_t seed,
                                       const std::function<Tolerance(const TensorSpec&)>& tolerance_of) {
  const OpValues values = draw_values(op, seed, representable_on(backend));
  OpInstance got(backend, op, values), want(reference, op, values);
  std::vector<TensorCheck> checks;
  auto compare = [&](const TensorSpec& spec) {
    checks.push_back({spec.name, within(got.get(spec.name), want.get(spec.name), tolerance_of(spec))});
  };
  got.forward();
  want.forward();
  for (const TensorSpec& spec : op.tensors)
    if (spec.compared_after_forward()) compare(spec);
  if (op.backward) {
    for (const TensorSpec& spec : op.tensors)
      if (spec.saved()) want.set(spec.name, got.get(spec.name));
    got.backward();
    want.backward();
  }
  for (const TensorSpec& spec : op.tensors)
    if (spec.use == Use::kGradient) compare(spec);
  return checks;
}

Tolerance gpu_tolerance(const TensorSpec& spec, bool fp32) {
  if (fp32) return spec.fp32_tolerance.value_or(Tolerance{1e-4, 1e-5, 1e-7});
  return spec.bf16_tolerance.value_or(Tolerance{2e-2, 1e-2, 1e-6});
}

bool all_ok(const std::vector<TensorCheck>& checks) {
  for (const TensorCheck& check : checks)
    if (!check.report.ok) return false;
  return true;
}

std::string describe_failures(const std::string& case_name, const std::vector<TensorCheck>& checks) {
  std::ostringstream out;
  for (const TensorCheck& check : checks)
    if (!check.report.ok) out << case_name << ": " << check.report.describe(check.tensor) << "\n";
  return out.str();
}

}  // namespace bert::test
