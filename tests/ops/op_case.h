// The op table's vocabulary. One case = one Backend op (engine/backend.h) at one shape, written
// once as the tensors it takes and the calls of its forward and backward. Runners over the table
// (tests/ops/op_cases.h): tests/ops/test_op_cases.cpp checks the cpu-double backward against
// central differences of its forward and the float CPU backend against cpu-double;
// tests/gpu/test_op_cases_gpu.cpp checks the CUDA backend against the CPU backend; bench_kernels
// times a case only after that check passed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "tests/tolerance.h"

namespace bert::test {

// What a tensor is to the runners.
enum class Use {
  kInput,     // uploaded before forward: random in [low, high), or `ids` (role kIndex)
  kState,     // uploaded before forward, updated in place by it and compared (AdamW's weights)
  kOutput,    // written by forward and compared; in the projected loss L = Σ d_<name>·<name>
  kSaved,     // written by forward, compared, read by backward; not in the loss
  kOutGrad,   // uploaded before backward: ∂L/∂(the output `of`), random
  kGradient,  // ∂L/∂(the input `of`): prefilled with random values, then written per `mode`
  kScratch,   // allocated (zeroed) for the op, never compared (the CUDA working weights)
};

struct TensorSpec {
  std::string name;
  BufferRole role = BufferRole::kActivation;
  size_t count = 0;
  Use use = Use::kInput;
  std::string of;                  // kOutGrad: its output; kGradient: its input
  float low = -1, high = 1;        // random values (inputs, states, out-grads, prefills)
  std::vector<int32_t> ids;        // index inputs
  bool read_by_backward = false;   // an output that backward reads too (attention's ctx)
  Accumulate mode = Accumulate::kOverwrite;  // kGradient: kAdd when the op adds onto the buffer
  double loss_weight = 0;          // an output of a fused loss, which has no kOutGrad: L += w·Σ out
  std::optional<Tolerance> bf16_tolerance, fp32_tolerance;  // CUDA vs CPU, when not the default

  bool saved() const { return use == Use::kSaved || (use == Use::kOutput && read_by_backward); }
  bool compared_after_forward() const {
    return use == Use::kOutput || use == Use::kSaved || use == Use::kState;
  }
};

// The backend's tensors of one case, by name.
class OpTensors {
 public:
  const Tensor& operator[](const std::string& name) const;
  std::map<std::string, Tensor> by_name;
};

using OpCall = std::function<void(Backend&, const OpTensors&)>;

struct OpCase {
  std::string op;     // the Backend method family, e.g. "matmul"
  std::string shape;  // what distinguishes this case, e.g. "rows 37, in 96, out 2, bias, add"
  std::vector<TensorSpec> tensors;
  OpCall forward;
  OpCall backward;  // empty when the op has none, or when forward writes the gradients (QA loss)
  std::string name() const { return op + " [" + shape + "]"; }
  const TensorSpec& spec(const std::string& name) const;
  bool has_gradients() const;
};

// Tensor specs in the words of the cases.
TensorSpec input(const std::string& name, BufferRole role, size_t count, float low, float high);
TensorSpec index_input(const std::string& name, std::vector<int32_t> ids);
TensorSpec state(const std::string& name, BufferRole role, size_t count, float low, float high);
TensorSpec output(const std::string& name, BufferRole role, size_t count);
TensorSpec saved(const std::string& name, BufferRole role, size_t count);
TensorSpec scratch(const std::string& name, BufferRole role, size_t count);
// d_<of>, random in [-1, 1).
TensorSpec out_grad(const std::string& of, size_t count);
// d_<of>, prefilled with random values in [low, high).
TensorSpec gradient(const std::string& of, BufferRole role, size_t count, Accumulate mode,
                    float low = -1, float high = 1);

// A CUDA-vs-CPU tolerance for one tensor (returns the spec for chaining in a list).
TensorSpec with_gpu_tolerance(TensorSpec spec, const Tolerance& bf16, const Tolerance& fp32);

// Sizes of the table: kCheck is small and odd (central differences run a forward per input
// element); kDevice takes the kernels' paths (widths that allow vector accesses and widths that
// do not, tiles that split, sequences of 1 token, heads of 32, 64 and 26).
enum class OpSize { kCheck, kDevice };

}  // namespace bert::test
