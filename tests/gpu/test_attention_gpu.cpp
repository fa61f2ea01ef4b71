// GPU vs CPU reference: packed variable-length attention forward (ctx, lse) and backward (d_qkv),
// with and without attention-probability dropout. The backward reference is fed the kernel's
// own ctx and lse, so it checks the backward math rather than forward rounding twice.
// Every bf16 implementation (kernels/attention_variants.h: tensor-core MMA, its one-pass
// backward, their register-lean builds, and scalar) runs every case explicitly, whatever
// BERT_ATTENTION_KERNEL says, for head_dim 64 (bert-base) and 32 (all-MiniLM-L6-v2: 12 heads
// of 32), and for head dimensions the tensor-core kernels are not built for (16, 26: the scalar
// kernels' generic instantiation, which every implementation falls back to).
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <string>
#include <utility>

#include "kernels/attention.h"
#include "kernels/attention_variants.h"
#include "tests/gpu/gpu_test_util.h"

namespace bert::test {
namespace {

struct Case {
  std::vector<int> lengths;
  int heads;
  int max_positions;
  int head_dim;
  // 0 with max_positions a multiple of 16: each run of 16 keys is one Philox call (the training
  // layout); 1: every run straddles two calls.
  uint64_t element_offset;
};

// A packed batch of sequences of the given lengths: its shape and cumulative offsets.
struct PackedBatch {
  AttentionShape shape;
  std::vector<int32_t> cu_seqlens{0};
};
PackedBatch packed_batch(const std::vector<int>& lengths, int heads, int max_positions,
                         int head_dim) {
  PackedBatch packed;
  packed.shape.batch = static_cast<int>(lengths.size());
  packed.shape.heads = heads;
  packed.shape.head_dim = head_dim;
  packed.shape.max_positions = max_positions;
  for (const int length : lengths) packed.cu_seqlens.push_back(packed.cu_seqlens.back() + length);
  packed.shape.tokens = packed.cu_seqlens.back();
  return packed;
}

DropoutSpec attention_dropout(float probability, uint64_t seed, int layer) {
  DropoutSpec spec;
  spec.probability = probability;
  spec.seed = seed;
  spec.micro_step = 5;
  spec.site = dropout_site(layer, DropoutKind::kAttentionProbs);
  return spec;
}

struct Outputs {
  std::vector<float> ctx, lse, d_qkv;
};

// One implementation's forward and then backward (d_ctx_values the gradient of ctx) on the
// given inputs, the backward's workspace filled with NaN first.
Outputs run_impl(const AttentionShape& shape, const std::vector<int32_t>& cu_seqlens,
                 const DropoutSpec& spec, const std::vector<float>& qkv,
                 const std::vector<float>& d_ctx_values, AttentionImpl impl) {
  const int hidden = shape.heads * shape.head_dim;
  DeviceBf16 d_qkv(qkv), d_ctx(static_cast<size_t>(shape.tokens) * hidden), d_grad(d_ctx_values),
      d_qkv_grad(qkv.size());
  DeviceBuffer<float> d_lse(static_cast<size_t>(shape.tokens) * shape.heads);
  DeviceBuffer<int32_t> d_cu_seqlens = to_device(cu_seqlens);
  // Misaligned tensors would silently take the scalar kernels.
  if (impl != AttentionImpl::kScalar)
    REQUIRE(attention::mma_supported(d_qkv.get(), d_ctx.get(), d_grad.get(), d_qkv_grad.get()));
  attention_forward_cuda(d_ctx.get(), d_lse.data(), d_qkv.get(), d_cu_seqlens.data(), shape, spec,
                         nullptr, impl);
  DeviceBuffer<unsigned char> scratch(attention_backward_workspace_bytes(shape));
  // NaN bytes: scratch that a kernel reads before writing shows up in d_qkv.
  const std::vector<unsigned char> nan_bytes(scratch.size(), 0xFF);
  scratch.upload(nan_bytes.data(), nan_bytes.size());
  attention_backward_cuda(d_qkv_grad.get(), d_grad.get(), d_qkv.get(), d_ctx.get(), d_lse.data(),
                          d_cu_seqlens.data(), shape, spec,
                          GpuWorkspace{scratch.data(), scratch.size()}, nullptr, impl);
  return Outputs{d_ctx.download(), to_host(d_lse), d_qkv_grad.download()};
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

void run_case(const Case& c, float probability, AttentionImpl impl, std::mt19937& rng) {
  PackedBatch packed = packed_batch(c.lengths, c.heads, c.max_positions, c.head_dim);
  // With dropout the grids are sized by the batch's longest sequence, as the model launches
  // them; without, by max_positions: both ways are checked for every case.
  if (probability > 0.0f)
    packed.shape.longest = *std::max_element(c.lengths.begin(), c.lengths.end());
  const AttentionShape& shape = packed.shape;
  const std::vector<int32_t>& cu_seqlens = packed.cu_seqlens;
  DropoutSpec spec = attention_dropout(probability, 2024, 0);
  spec.element_offset = c.element_offset;
  const std::string kernel = attention_impl_name(impl);
  CAPTURE(kernel, shape.tokens, shape.heads, shape.head_dim, shape.max_positions, shape.longest,
          probability, c.element_offset);

  const int hidden = shape.heads * shape.head_dim;
  const size_t qkv_count = static_cast<size_t>(shape.tokens) * 3 * hidden;
  const size_t ctx_count = static_cast<size_t>(shape.tokens) * hidden;
  const size_t lse_count = static_cast<size_t>(shape.tokens) * shape.heads;
  const std::vector<float> qkv = random_bf16_values(qkv_count, -2.0f, 2.0f, rng);
  const std::vector<float> d_ctx_values = random_bf16_values(ctx_count, -1.0f, 1.0f, rng);
  const Outputs gpu = run_impl(shape, cu_seqlens, spec, qkv, d_ctx_values, impl);

  std::vector<float> ctx(ctx_count), lse(lse_count);
  attention_forward_ref(ctx.data(), lse.data(), qkv.data(), cu_seqlens.data(), shape, spec);
  require_close("attention ctx", gpu.ctx, ctx, 2e-2, 1e-2);
  require_close("attention lse", gpu.lse, lse, 1e-4, 0.0, 1e-4);

  std::vector<float> ref_grad(qkv_count);
  attention_backward_ref(ref_grad.data(), d_ctx_values.data(), qkv.data(), gpu.ctx.data(),
                         gpu.lse.data(), cu_seqlens.data(), shape, spec);
  // Compare q, k and v slices separately so a failure names the part that is wrong.
  for (int part = 0; part < 3; ++part) {
    std::vector<float> got_part, ref_part;
    for (int t = 0; t < shape.tokens; ++t) {
      const size_t base = static_cast<size_t>(t) * 3 * hidden + static_cast<size_t>(part) * hidden;
      got_part.insert(got_part.end(), gpu.d_qkv.begin() + base, gpu.d_qkv.begin() + base + hidden);
      ref_part.insert(ref_part.end(), ref_grad.begin() + base, ref_grad.begin() + base + hidden);
    }
    require_close(std::string("attention d_") + "qkv"[part], got_part, ref_part, 2e-2, 1e-2);
  }
}

}  // namespace

TEST_CASE("attention forward/backward match the reference", "[gpu][attention]") {
  std::mt19937 rng(41);
  const std::vector<Case> cases = {
      {{1}, 2, 512, 64, 1},
      {{1, 17, 64, 130, 384}, 2, 512, 64, 0},  // the golden model's head count, mixed lengths
      {{65, 3, 128}, 12, 128, 64, 1},          // bert-base heads; a length equal to max_positions
      // Tile edges (63/64/65, 127) and an odd max_positions: Philox calls of 16 straddle rows.
      {{63, 64, 65, 127, 200, 3}, 1, 201, 64, 0},
      // head_dim 32 (smaller shapes: the CPU emulation of these kernels is slow).
      {{1}, 2, 64, 32, 0},
      {{1, 17, 64, 130}, 2, 160, 32, 1},        // mixed lengths, several key/query tiles
      {{63, 65, 3, 20}, 12, 67, 32, 0},         // MiniLM's 12 heads; tile edges, odd max_positions
      // Other head dimensions (small models: bert-tiny-like 16, TinyBERT's 312/12 = 26, which
      // leaves heads at 52-byte offsets and a depth that is not a multiple of 4).
      {{1, 17, 70}, 2, 80, 16, 0},
      {{5, 64, 65}, 3, 67, 26, 1},
  };
  for (const AttentionImpl impl : kAttentionImpls)
    for (const Case& c : cases)
      for (const float probability : {0.0f, 0.1f}) run_case(c, probability, impl, rng);
}

// The lean builds read the same fragments from shared memory instead of registers and form the
// backward's score tiles in halves; every accumulator receives the same products in the same
// order, so kMmaLean must equal kMma and kMmaOnePassLean kMmaOnePass bit for bit.
TEST_CASE("the register-lean attention kernels compute the default's bits", "[gpu][attention]") {
  std::mt19937 rng(43);
  struct Shape {
    std::vector<int> lengths;
    int heads, max_positions, head_dim;
  };
  const std::vector<Shape> shapes = {{{63, 130, 1}, 2, 160, 64}, {{17, 64, 130}, 3, 136, 32}};
  for (const Shape& c : shapes)
    for (const float probability : {0.0f, 0.1f}) {
      const PackedBatch packed = packed_batch(c.lengths, c.heads, c.max_positions, c.head_dim);
      const AttentionShape& shape = packed.shape;
      const std::vector<int32_t>& cu_seqlens = packed.cu_seqlens;
      const DropoutSpec spec = attention_dropout(probability, 7, 1);
      CAPTURE(shape.head_dim, probability);
      const int hidden = shape.heads * shape.head_dim;
      const std::vector<float> qkv =
          random_bf16_values(static_cast<size_t>(shape.tokens) * 3 * hidden, -2.0f, 2.0f, rng);
      const std::vector<float> d_ctx =
          random_bf16_values(static_cast<size_t>(shape.tokens) * hidden, -1.0f, 1.0f, rng);
      const std::pair<AttentionImpl, AttentionImpl> builds[] = {
          {AttentionImpl::kMma, AttentionImpl::kMmaLean},
          {AttentionImpl::kMmaOnePass, AttentionImpl::kMmaOnePassLean}};
      for (const auto& [plain_impl, lean_impl] : builds) {
        const std::string kernel = attention_impl_name(lean_impl);
        CAPTURE(kernel);
        const Outputs plain = run_impl(shape, cu_seqlens, spec, qkv, d_ctx, plain_impl);
        const Outputs lean = run_impl(shape, cu_seqlens, spec, qkv, d_ctx, lean_impl);
        CHECK(same_bits(lean.ctx, plain.ctx));
        CHECK(same_bits(lean.lse, plain.lse));
        CHECK(same_bits(lean.d_qkv, plain.d_qkv));
      }
    }
}

TEST_CASE("attention refuses a head_dim above 64, naming what it runs", "[gpu][attention]") {
  for (const int head_dim : {65, 96, 128}) {
    CAPTURE(head_dim);
    AttentionShape shape{4, 1, 2, head_dim, 8};
    const int hidden = shape.heads * head_dim;
    const std::vector<int32_t> cu_seqlens{0, 4};
    DeviceBf16 qkv(std::vector<float>(4 * 3 * hidden, 0.5f)), ctx(4 * hidden), d_ctx(4 * hidden),
        d_qkv(4 * 3 * hidden);
    DeviceBuffer<float> lse(4 * shape.heads), qkv_f(4 * 3 * hidden), ctx_f(4 * hidden);
    DeviceBuffer<int32_t> d_cu_seqlens = to_device(cu_seqlens);
    DeviceBuffer<unsigned char> scratch(attention_backward_workspace_bytes(shape));
    const GpuWorkspace workspace{scratch.data(), scratch.size()};
    const DropoutSpec spec;
    // (Catch's && keeps references: the matchers it combines must outlive the assertion.)
    const auto names_head_dim = Catch::Contains("head_dim " + std::to_string(head_dim));
    const auto names_built = Catch::Contains("head_dim 1 to 64");
    for (const AttentionImpl impl : kAttentionImpls) {
      const std::string kernel = attention_impl_name(impl);
      CAPTURE(kernel);
      REQUIRE_THROWS_WITH(attention_forward_cuda(ctx.get(), lse.data(), qkv.get(), d_cu_seqlens.data(),
                                                 shape, spec, nullptr, impl),
                          names_head_dim && names_built);
      REQUIRE_THROWS_WITH(attention_backward_cuda(d_qkv.get(), d_ctx.get(), qkv.get(), ctx.get(), lse.data(),
                                                  d_cu_seqlens.data(), shape, spec, workspace, nullptr, impl),
                          names_head_dim && names_built);
    }
    REQUIRE_THROWS_WITH(attention_forward_cuda(ctx_f.data(), lse.data(), qkv_f.data(), d_cu_seqlens.data(),
                                               shape, spec, nullptr),
                        names_head_dim && names_built);
  }
}

TEST_CASE("attention refuses a longest sequence bound above max_positions", "[gpu][attention]") {
  AttentionShape shape{4, 1, 2, 64, 8, 9};
  const int hidden = shape.heads * shape.head_dim;
  const std::vector<int32_t> cu_seqlens{0, 4};
  DeviceBf16 qkv(std::vector<float>(4 * 3 * hidden, 0.5f)), ctx(4 * hidden), d_ctx(4 * hidden),
      d_qkv(4 * 3 * hidden);
  DeviceBuffer<float> lse(4 * shape.heads);
  DeviceBuffer<int32_t> d_cu_seqlens = to_device(cu_seqlens);
  DeviceBuffer<unsigned char> scratch(attention_backward_workspace_bytes(shape));
  const GpuWorkspace workspace{scratch.data(), scratch.size()};
  const auto names_longest = Catch::Contains("max_positions 8, longest 9");
  for (const AttentionImpl impl : kAttentionImpls) {
    const std::string kernel = attention_impl_name(impl);
    CAPTURE(kernel);
    REQUIRE_THROWS_WITH(
        attention_forward_cuda(ctx.get(), lse.data(), qkv.get(), d_cu_seqlens.data(), shape,
                               DropoutSpec{}, nullptr, impl),
        names_longest);
    REQUIRE_THROWS_WITH(attention_backward_cuda(d_qkv.get(), d_ctx.get(), qkv.get(), ctx.get(),
                                                lse.data(), d_cu_seqlens.data(), shape,
                                                DropoutSpec{}, workspace, nullptr, impl),
                        names_longest);
  }
}

TEST_CASE("attention kernel choice defaults to the tensor-core kernels", "[gpu][attention]") {
  const char* value = std::getenv("BERT_ATTENTION_KERNEL");
  const std::string chosen = value == nullptr || *value == '\0' ? "mma" : value;
  CHECK(attention_impl_name(default_attention_impl()) == chosen);
}

}  // namespace bert::test
