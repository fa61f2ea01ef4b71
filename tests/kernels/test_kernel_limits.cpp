// The CUDA kernels' size bounds as the apps check them before any device work
// (kernels/kernel_limits.h): which config.json field a model is refused for, and why.
#include <catch2/catch.hpp>

#include "kernels/kernel_limits.h"

namespace bert {

TEST_CASE("the CUDA kernels run BERT sizes from bert-tiny to bert-large and TinyBERT's heads", "[kernels]") {
  CHECK_FALSE(cuda_kernels_model_size_problem(768, 12));   // bert-base: head_dim 64
  CHECK_FALSE(cuda_kernels_model_size_problem(1024, 16));  // bert-large: the widest LayerNorm row
  CHECK_FALSE(cuda_kernels_model_size_problem(384, 12));   // all-MiniLM-L6-v2: 32
  CHECK_FALSE(cuda_kernels_model_size_problem(312, 12));   // TinyBERT: 26
  CHECK_FALSE(cuda_kernels_model_size_problem(128, 2));    // bert-tiny: 64
  CHECK_FALSE(cuda_kernels_model_size_problem(32, 4));     // a tiny test model: 8
  CHECK_FALSE(cuda_kernels_model_size_problem(4, 4));      // head_dim 1
}

TEST_CASE("a size the CUDA kernels cannot run names its config.json field and the bound", "[kernels]") {
  const auto wide_heads = cuda_kernels_model_size_problem(1024, 8);
  REQUIRE(wide_heads);
  CHECK(wide_heads->field == "num_attention_heads");
  CHECK_THAT(wide_heads->reason, Catch::Contains("heads of 128 dimensions") && Catch::Contains("head_dim 1 to 64"));
  const auto just_over = cuda_kernels_model_size_problem(130, 2);  // 65: not a multiple of 4 first
  REQUIRE(just_over);
  CHECK(just_over->field == "hidden_size");
  const auto head_65 = cuda_kernels_model_size_problem(260, 4);
  REQUIRE(head_65);
  CHECK(head_65->field == "num_attention_heads");
  CHECK_THAT(head_65->reason, Catch::Contains("heads of 65 dimensions"));

  const auto odd_width = cuda_kernels_model_size_problem(30, 3);
  REQUIRE(odd_width);
  CHECK(odd_width->field == "hidden_size");
  CHECK_THAT(odd_width->reason, Catch::Contains("30 is not a multiple of 4"));
  const auto too_wide = cuda_kernels_model_size_problem(2048, 32);  // head_dim 64, row 2048
  REQUIRE(too_wide);
  CHECK(too_wide->field == "hidden_size");
  CHECK_THAT(too_wide->reason, Catch::Contains("above 1024"));
}

}  // namespace bert
