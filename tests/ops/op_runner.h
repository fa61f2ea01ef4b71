// Running op cases (tests/ops/op_case.h) on a backend, and the checks every runner shares. Plain
// functions returning reports (no Catch2), so bench_kernels can check before it times.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "tests/ops/op_case.h"
#include "tests/tolerance.h"

namespace bert::test {

// Host values of everything a case uploads (inputs, states, out-grads, gradient prefills).
using OpValues = std::map<std::string, std::vector<double>>;

// Rounds values to what a backend stores for a role (bf16, float), so that two backends start
// from the same numbers.
using Representable = std::function<std::vector<double>(BufferRole role, std::vector<double> values)>;
Representable representable_in_float();
// The storage type `backend` gives each role: bf16 roles rounded to nearest even.
Representable representable_on(const Backend& backend);

// Draws the case's uploads from `seed`, each made representable.
OpValues draw_values(const OpCase& op, uint32_t seed, const Representable& representable);

// One case's tensors on one backend, uploaded from `values` when made.
class OpInstance {
 public:
  OpInstance(Backend& backend, const OpCase& op, const OpValues& values);
  void forward() { op_.forward(backend_, tensors_); }
  void backward() {
    if (op_.backward) op_.backward(backend_, tensors_);
  }
  std::vector<double> get(const std::string& name);
  void set(const std::string& name, const std::vector<double>& values);
  // L = Σ over the outputs of Σ weight·out: the weight is d_<output> (the out-grad values) or
  // the output's loss_weight.
  double projected_loss();
  Backend& backend() { return backend_; }
  const OpTensors& tensors() const { return tensors_; }

 private:
  Backend& backend_;
  const OpCase& op_;
  OpValues values_;
  OpTensors tensors_;
};

// One tensor's comparison.
struct TensorCheck {
  std::string tensor;
  CloseReport report;
};

// The backward of `op` on `backend` (cpu-double) against central differences of its forward:
// for each kGradient tensor, the gradient the op wrote (less the prefill when it accumulates)
// against (L(x+h) − L(x−h)) / 2h for every element x of its input. Empty for an op without
// gradients.
std::vector<TensorCheck> check_finite_differences(Backend& backend, const OpCase& op, uint32_t seed);

// `op` on `backend` against `reference` from the same inputs: what forward writes, then, after
// `reference` takes `backend`'s saved tensors (so only the backward math is compared), what
// backward writes. Tolerance per tensor from `tolerance_of`.
std::vector<TensorCheck> check_against(Backend& backend, Backend& reference, const OpCase& op, uint32_t seed,
                                       const std::function<Tolerance(const TensorSpec&)>& tolerance_of);

// The CUDA runner's tolerance of a tensor: its own, else 2e-2 relative and 1e-2 of the largest
// value in bf16, 1e-4 and 1e-5 under the fp32 compute switch.
Tolerance gpu_tolerance(const TensorSpec& spec, bool fp32);

// "ok" or the failing tensors' reports, one per line.
bool all_ok(const std::vector<TensorCheck>& checks);
std::string describe_failures(const std::string& case_name, const std::vector<TensorCheck>& checks);

}  // namespace bert::test
