// The op table: every Backend op (engine/backend.h) written once as cases (tests/ops/op_case.h),
// at the sizes of OpSize. Dropout has no op of its own in the Backend: it is the probability of
// the cases of embeddings, attention and residual + LayerNorm, each run with it off and on.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tests/ops/op_case.h"

namespace bert::test {

struct OpEntry {
  std::string op;
  std::vector<OpCase> (*cases)(OpSize size);
};

// embeddings, matmul, bias_gelu, residual_layernorm, attention, qa_loss, adamw.
const std::vector<OpEntry>& op_table();
// Every case of every entry at `size`.
std::vector<OpCase> all_op_cases(OpSize size);

// The entries (tests/ops/op_cases_dense.cpp, tests/ops/op_cases_sequence.cpp).
std::vector<OpCase> embeddings_cases(OpSize size);
std::vector<OpCase> matmul_cases(OpSize size);
std::vector<OpCase> bias_gelu_cases(OpSize size);
std::vector<OpCase> residual_layernorm_cases(OpSize size);
std::vector<OpCase> attention_cases(OpSize size);
std::vector<OpCase> qa_loss_cases(OpSize size);
std::vector<OpCase> adamw_cases(OpSize size);

// Shared by the entries: a dropout spec whose element offset (6, not a multiple of 4) makes
// Philox groups straddle rows; prefix sums of sequence lengths (cu_seqlens).
DropoutSpec case_dropout(float probability, uint32_t site);
std::vector<int32_t> prefix_sums(const std::vector<int>& lengths);
std::string accumulate_name(Accumulate mode);

}  // namespace bert::test
