// The feed-forward activations a BERT checkpoint's config.json may name (`hidden_act`), as
// transformers' ACT2FN computes them. Here in core because the config reader (io/) checks the
// name and the kernels (kernels/gelu.*) compute the function.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <type_traits>

namespace bert {

enum class Activation : uint8_t {
  kGeluErf,    // "gelu", "gelu_python": x·Φ(x) = 0.5·x·(1 + erf(x/√2))
  kGeluTanh,   // "gelu_new", "gelu_pytorch_tanh", "gelu_fast": 0.5·x·(1 + tanh(√(2/π)·(x +
               // 0.044715·x³)))
  kQuickGelu,  // "quick_gelu": x·σ(1.702·x)
  kRelu,       // "relu": max(x, 0)
  kSilu,       // "silu", "swish": x·σ(x)
};

// The activation transformers' ACT2FN[name] computes; nullopt for a name this engine lacks.
std::optional<Activation> activation_from_hf_name(std::string_view name);

// The names activation_from_hf_name accepts, for messages: "\"gelu\", \"gelu_python\", ...".
const char* supported_activation_names();

// Calls f(std::integral_constant<Activation, act>{}): code templated on the activation (one
// kernel or loop per function) chosen once per call, not per element.
template <typename F>
void with_activation(Activation act, F&& f) {
  switch (act) {
    case Activation::kGeluErf:
      return f(std::integral_constant<Activation, Activation::kGeluErf>{});
    case Activation::kGeluTanh:
      return f(std::integral_constant<Activation, Activation::kGeluTanh>{});
    case Activation::kQuickGelu:
      return f(std::integral_constant<Activation, Activation::kQuickGelu>{});
    case Activation::kRelu:
      return f(std::integral_constant<Activation, Activation::kRelu>{});
    case Activation::kSilu:
      return f(std::integral_constant<Activation, Activation::kSilu>{});
  }
}

}  // namespace bert
