// GPU vs CPU reference: embeddings forward, and the deterministic sort-based backward (long runs
// of one id crossing many 32-entry chunks, ids repeated in and across sequences).
#include <cmath>
#include <cstring>

#include "kernels/embedding.h"
#include "tests/gpu/gpu_test_util.h"

namespace bert::test {
namespace {

struct Batch {
  std::vector<int32_t> input_ids, token_type_ids, position_ids;
  int tokens = 0;
};

// Sequences packed back to back; ids drawn mostly from a few "frequent words" so several runs
// span many chunks, token type 0 for the first half of each sequence.
Batch make_batch(const std::vector<int>& lengths, int vocab, std::mt19937& rng) {
  Batch batch;
  std::uniform_int_distribution<int> frequent(0, 5), any(0, vocab - 1), coin(0, 2);
  for (const int length : lengths) {
    for (int p = 0; p < length; ++p) {
      batch.input_ids.push_back(coin(rng) == 0 ? any(rng) : frequent(rng));
      batch.token_type_ids.push_back(p < length / 2 ? 0 : 1);
      batch.position_ids.push_back(p);
    }
    batch.tokens += length;
  }
  return batch;
}

}  // namespace

TEST_CASE("embedding forward/backward match the reference", "[gpu][embedding]") {
  std::mt19937 rng(31);
  const EmbeddingTableSizes sizes{1000, 512, 2};
  for (const int hidden : {96, 768}) {
    for (const std::vector<int>& lengths :
         {std::vector<int>{1}, std::vector<int>{1, 17, 64, 130}, std::vector<int>{384, 130, 64}}) {
      const Batch batch = make_batch(lengths, sizes.vocab, rng);
      const int tokens = batch.tokens;
      // Id 0 is one of the frequent ids, so at hidden 96 the padding row's runs (which get no
      // gradient) cross chunk ends too; hidden 768 runs without a padding row.
      const int padding_idx = hidden == 96 ? 0 : -1;
      CAPTURE(hidden, tokens, padding_idx);
      const std::vector<float> word = random_bf16_values(size_t(sizes.vocab) * hidden, -1, 1, rng);
      const std::vector<float> position =
          random_bf16_values(size_t(sizes.max_positions) * hidden, -1, 1, rng);
      const std::vector<float> token_type =
          random_bf16_values(size_t(sizes.type_vocab) * hidden, -1, 1, rng);
      DeviceBf16 d_word(word), d_position(position), d_token_type(token_type);
      DeviceBuffer<int32_t> d_input_ids = to_device(batch.input_ids);
      DeviceBuffer<int32_t> d_type_ids = to_device(batch.token_type_ids);
      DeviceBuffer<int32_t> d_position_ids = to_device(batch.position_ids);
      const size_t count = static_cast<size_t>(tokens) * hidden;
      DeviceBf16 d_out(count);
      embedding_forward_cuda(d_out.get(), d_input_ids.data(), d_type_ids.data(),
                             d_position_ids.data(), d_word.get(), d_position.get(),
                             d_token_type.get(), tokens, hidden, nullptr);
      std::vector<float> out(count);
      embedding_forward_ref(out.data(), batch.input_ids.data(), batch.token_type_ids.data(),
                            batch.position_ids.data(), word.data(), position.data(),
                            token_type.data(), tokens, hidden);
      require_close("embedding forward", d_out.download(), out, 8e-3, 1e-3);

      const std::vector<float> grad = random_bf16_values(count, -1, 1, rng);
      DeviceBf16 d_grad(grad);
      std::vector<float> word_grad = random_floats(word.size(), -1, 1, rng);
      std::vector<float> position_grad = random_floats(position.size(), -1, 1, rng);
      std::vector<float> type_grad = random_floats(token_type.size(), -1, 1, rng);
      DeviceBuffer<float> d_word_grad = to_device(word_grad);
      DeviceBuffer<float> d_position_grad = to_device(position_grad);
      DeviceBuffer<float> d_type_grad = to_device(type_grad);
      DeviceBuffer<unsigned char> scratch(
          embedding_backward_workspace_bytes(tokens, hidden, sizes));
      const auto run_backward = [&] {
        embedding_backward_cuda(d_word_grad.data(), d_position_grad.data(), d_type_grad.data(),
                                d_grad.get(), d_input_ids.data(), d_type_ids.data(),
                                d_position_ids.data(), tokens, hidden, sizes, padding_idx,
                                GpuWorkspace{scratch.data(), scratch.size()}, nullptr);
      };
      run_backward();
      const std::vector<float> first_word = to_host(d_word_grad);
      embedding_backward_ref(word_grad.data(), position_grad.data(), type_grad.data(), grad.data(),
                             batch.input_ids.data(), batch.token_type_ids.data(),
                             batch.position_ids.data(), tokens, hidden, padding_idx);
      require_close("d_word", first_word, word_grad, 1e-5, 1e-5);
      require_close("d_position", to_host(d_position_grad), position_grad, 1e-5, 1e-5);
      require_close("d_token_type", to_host(d_type_grad), type_grad, 1e-5, 1e-5);

      // Determinism: the same accumulation from the same start is bit-identical.
      d_word_grad.upload(first_word.data(), first_word.size());
      run_backward();
      const std::vector<float> second = to_host(d_word_grad);
      d_word_grad.upload(first_word.data(), first_word.size());
      run_backward();
      const std::vector<float> third = to_host(d_word_grad);
      REQUIRE(std::memcmp(second.data(), third.data(), second.size() * sizeof(float)) == 0);
    }
  }
}

TEST_CASE("embedding backward: one id over hundreds of chunks, odd hidden, a skipped table",
          "[gpu][embedding]") {
  // Every token has word 7 and type 0, so those runs cross more chunk ends than the merge pass
  // has threads to count them in one stride. Gradients are multiples of 1/64 whose sums are
  // exact in fp32 in any order: a missing or doubled chunk shows as an error, not as rounding.
  std::mt19937 rng(32);
  const EmbeddingTableSizes sizes{50, 512, 2};
  const int tokens = 9000, hidden = 30;  // hidden not a multiple of 4: scalar columns
  const std::vector<int32_t> input_ids(tokens, 7), type_ids(tokens, 0);
  std::vector<int32_t> position_ids(tokens);
  for (int t = 0; t < tokens; ++t) position_ids[t] = t % sizes.max_positions;
  const size_t count = static_cast<size_t>(tokens) * hidden;
  std::vector<float> grad = random_bf16_values(count, -1, 1, rng);
  for (float& value : grad) value = std::round(value * 64.0f) / 64.0f;
  std::vector<float> word_grad(size_t(sizes.vocab) * hidden, 0.5f);
  std::vector<float> type_grad(size_t(sizes.type_vocab) * hidden, -0.5f);
  std::vector<float> position_grad(size_t(sizes.max_positions) * hidden, 0.0f);
  DeviceBf16 d_grad(grad);
  DeviceBuffer<int32_t> d_input_ids = to_device(input_ids), d_type_ids = to_device(type_ids);
  DeviceBuffer<int32_t> d_position_ids = to_device(position_ids);
  DeviceBuffer<float> d_word_grad = to_device(word_grad), d_type_grad = to_device(type_grad);
  DeviceBuffer<unsigned char> scratch(embedding_backward_workspace_bytes(tokens, hidden, sizes));
  embedding_backward_cuda(d_word_grad.data(), nullptr, d_type_grad.data(), d_grad.get(),
                          d_input_ids.data(), d_type_ids.data(), d_position_ids.data(), tokens,
                          hidden, sizes, /*padding_idx=*/-1, GpuWorkspace{scratch.data(), scratch.size()},
                          nullptr);
  embedding_backward_ref(word_grad.data(), position_grad.data(), type_grad.data(), grad.data(),
                         input_ids.data(), type_ids.data(), position_ids.data(), tokens, hidden, -1);
  require_close("d_word (one long run)", to_host(d_word_grad), word_grad, 0.0, 0.0, 0.0);
  require_close("d_token_type (one long run)", to_host(d_type_grad), type_grad, 0.0, 0.0, 0.0);

  // The same long run as the padding row: neither the chunk sums nor the merge of its
  // partials touch it, while the token-type run is summed as before.
  const std::vector<float> word_before = to_host(d_word_grad);
  embedding_backward_cuda(d_word_grad.data(), nullptr, d_type_grad.data(), d_grad.get(),
                          d_input_ids.data(), d_type_ids.data(), d_position_ids.data(), tokens,
                          hidden, sizes, /*padding_idx=*/7, GpuWorkspace{scratch.data(), scratch.size()},
                          nullptr);
  embedding_backward_ref(word_grad.data(), position_grad.data(), type_grad.data(), grad.data(),
                         input_ids.data(), type_ids.data(), position_ids.data(), tokens, hidden, 7);
  REQUIRE(word_grad == word_before);
  require_close("d_word (padding row)", to_host(d_word_grad), word_before, 0.0, 0.0, 0.0);
  require_close("d_token_type (beside a padding row)", to_host(d_type_grad), type_grad, 0.0, 0.0, 0.0);
}

}  // namespace bert::test
