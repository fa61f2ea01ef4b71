#include "core/activation.h"

#include <utility>

namespace bert {
namespace {

// transformers' activations.py ACT2CLS names and the functions they compute (gelu_fast's
// constant 0.7978845608 is √(2/π) to 10 digits: the same function to fp32 rounding).
constexpr std::pair<std::string_view, Activation> kHfNames[] = {
    {"gelu", Activation::kGeluErf},       {"gelu_python", Activation::kGeluErf},
    {"gelu_new", Activation::kGeluTanh},  {"gelu_pytorch_tanh", Activation::kGeluTanh},
    {"gelu_fast", Activation::kGeluTanh}, {"quick_gelu", Activation::kQuickGelu},
    {"relu", Activation::kRelu},          {"silu", Activation::kSilu},
    {"swish", Activation::kSilu},
};

}  // namespace

std::optional<Activation> activation_from_hf_name(std::string_view name) {
  for (const auto& [hf_name, activation] : kHfNames)
    if (hf_name == name) return activation;
  return std::nullopt;
}

const char* supported_activation_names() {
  return "\"gelu\", \"gelu_python\", \"gelu_new\", \"gelu_pytorch_tanh\", \"gelu_fast\", "
         "\"quick_gelu\", \"relu\", \"silu\", \"swish\"";
}

}  // namespace bert
