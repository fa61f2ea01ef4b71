// C entry points to our dropout masks (kernels/dropout_mask_ref.h) for step_parity.py, which
// compiles this file into a shared library and loads it with ctypes: Hugging Face then drops
// exactly what train_squad drops, at C speed (numpy's Philox costs seconds per batch-32 step).
// Index layouts as engine/bert_qa_model.cpp dropout_spec and kernels/attention.h define them.
#include <cstddef>
#include <cstdint>

#include "kernels/dropout_mask_ref.h"

namespace {

bert::DropoutSpec spec_of(float probability, uint64_t seed, uint32_t micro_step, uint32_t site) {
  bert::DropoutSpec spec;
  spec.probability = probability;
  spec.seed = seed;
  spec.micro_step = micro_step;
  spec.site = site;
  return spec;
}

}  // namespace

extern "C" {

// keep[t·width + w] for the `tokens` tokens of one window starting at packed token `first_token`
// of the batch: a hidden-sized site (embeddings, attention output, FFN output).
void our_hidden_keep(uint8_t* keep, float probability, uint64_t seed, uint32_t micro_step, uint32_t site,
                     uint64_t first_token, uint64_t tokens, uint64_t width) {
  bert::dropout_keep_flags(keep, spec_of(probability, seed, micro_step, site), first_token * width,
                           static_cast<size_t>(tokens * width));
}

// keep[(h·tokens + q)·tokens + k] for one window's attention probabilities: element
// ((token·heads + h)·max_positions + key), token = first_token + q, drawn with 8 bits each.
void our_attention_keep(uint8_t* keep, float probability, uint64_t seed, uint32_t micro_step, uint32_t site,
                        uint64_t first_token, uint64_t tokens, uint64_t heads, uint64_t max_positions) {
  const bert::DropoutSpec spec = spec_of(probability, seed, micro_step, site);
  for (uint64_t h = 0; h < heads; ++h)
    for (uint64_t q = 0; q < tokens; ++q)
      bert::attention_dropout_keep_flags(keep + (h * tokens + q) * tokens, spec,
                               ((first_token + q) * heads + h) * max_positions, static_cast<size_t>(tokens));
}

// The factor of a kept attention probability: 1 / (1 − p rounded to a multiple of 1/256).
float our_attention_keep_scale(float probability) { return bert::attention_keep_scale(probability); }

}  // extern "C"
