// MatmulContext and the running of one GEMM (kernels/matmul_gemm.cuh): the cuBLASLt handle, its
// workspace and the algorithm cache. One cublasLtMatmulAlgoGetHeuristic query per distinct
// problem (shape, leading dimensions, types, epilogue, pointer alignments, beta ≠ 0, and the
// choice in force), cached. Training runs the heuristic's first candidate;
// MatmulContext::choose_algorithm selects another rank, or forces a split-K factor, per GEMM
// role (bench_kernels' survey of the algorithms); BERT_GEMM_SPLIT_K (kernels/matmul_split_k.h,
// a candidate, off by default) splits k of the weight-gradient GEMMs.
#include <cublasLt.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "kernels/cuda_common.cuh"
#include "kernels/matmul.h"
#include "kernels/matmul_gemm.cuh"
#include "kernels/matmul_split_k.h"

namespace bert {

using matmul_detail::Gemm;

using AlgoKey = std::array<int64_t, 20>;

struct CachedAlgorithm {
  cublasLtMatmulAlgo_t algo;
  std::string description;  // describe_algorithm's, made once when the algorithm is found
};

struct MatmulContext::Impl {
  cublasLtHandle_t handle = nullptr;
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
  mutable std::mutex mutex;  // guards cache, choice, last
  std::map<AlgoKey, CachedAlgorithm> cache;
  std::array<GemmAlgorithmChoice, kGemmRoles> choice{};
  SplitKPolicy weight_grad_split_k;  // BERT_GEMM_SPLIT_K's
  int sms = 0;                       // the device's multiprocessors (split_k_for_tiles)
  bool split_k_fallback_said = false;
  // Each role's last GEMM's algorithm (map nodes do not move), for last_algorithm().
  std::array<const CachedAlgorithm*, kGemmRoles> last{};
};

const char* gemm_role_name(GemmRole role) {
  switch (role) {
    case GemmRole::kForward: return "fwd";
    case GemmRole::kInputGrad: return "d_inp";
    case GemmRole::kWeightGrad: return "d_weight";
  }
  return "?";
}

namespace {
// BERT_GEMM_SPLIT_K, parsed once per process (InputError on a bad value, at every context).
SplitKPolicy split_k_policy_from_env() {
  static const SplitKPolicy policy = parse_split_k_policy(std::getenv("BERT_GEMM_SPLIT_K"));
  return policy;
}
}  // namespace

MatmulContext::MatmulContext(size_t workspace_bytes) : impl_(std::make_unique<Impl>()) {
  impl_->weight_grad_split_k = split_k_policy_from_env();
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  CUDA_CHECK(cudaDeviceGetAttribute(&impl_->sms, cudaDevAttrMultiProcessorCount, device));
  CUBLAS_CHECK(cublasLtCreate(&impl_->handle));
  impl_->workspace_bytes = workspace_bytes;
  if (workspace_bytes > 0) {
    const cudaError_t status = cudaMalloc(&impl_->workspace, workspace_bytes);
    if (status != cudaSuccess) {
      cublasLtDestroy(impl_->handle);
      throw_cuda_error(static_cast<int>(status), "cudaMalloc(matmul workspace)", __FILE__,
                       __LINE__);
    }
  }
}

MatmulContext::~MatmulContext() {
  if (impl_->workspace != nullptr) cudaFree(impl_->workspace);
  if (impl_->handle != nullptr) cublasLtDestroy(impl_->handle);
}

size_t MatmulContext::cached_algorithms() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->cache.size();
}

void MatmulContext::choose_algorithm(GemmRole role, GemmAlgorithmChoice choice) {
  BERT_CHECK(choice.rank >= 0 && choice.split_k >= 0,
             "MatmulContext::choose_algorithm: rank " + std::to_string(choice.rank) + ", split_k " +
                 std::to_string(choice.split_k) + " (both must be >= 0)");
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->choice[static_cast<int>(role)] = choice;
}

void MatmulContext::set_weight_grad_split_k(SplitKPolicy policy) {
  BERT_CHECK(policy.mode != SplitKPolicy::Mode::kFixed ||
                 (policy.factor >= kMinSplitK && policy.factor <= kMaxSplitK),
             "MatmulContext::set_weight_grad_split_k: factor " + std::to_string(policy.factor) + " (expected " +
                 std::to_string(kMinSplitK) + " to " + std::to_string(kMaxSplitK) + ")");
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->weight_grad_split_k = policy;
}

std::string MatmulContext::last_algorithm(GemmRole role) const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  const CachedAlgorithm* last = impl_->last[static_cast<int>(role)];
  return last != nullptr ? last->description : "";
}

namespace {

// RAII holders for the cuBLASLt descriptors of one call.
struct OperationDesc {
  cublasLtMatmulDesc_t value = nullptr;
  ~OperationDesc() {
    if (value != nullptr) cublasLtMatmulDescDestroy(value);
  }
};
struct LayoutDesc {
  cublasLtMatrixLayout_t value = nullptr;
  ~LayoutDesc() {
    if (value != nullptr) cublasLtMatrixLayoutDestroy(value);
  }
};
struct PreferenceDesc {
  cublasLtMatmulPreference_t value = nullptr;
  ~PreferenceDesc() {
    if (value != nullptr) cublasLtMatmulPreferenceDestroy(value);
  }
};

uint32_t alignment_of(const void* pointer) {
  const uintptr_t address = reinterpret_cast<uintptr_t>(pointer);
  uint32_t alignment = 256;
  while (alignment > 1 && address % alignment != 0) alignment /= 2;
  return alignment;
}

void create_layout(LayoutDesc& layout, cudaDataType_t type, int rows, int cols, int ld) {
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&layout.value, type, static_cast<uint64_t>(rows),
                                          static_cast<uint64_t>(cols), static_cast<int64_t>(ld)));
}

// "id 31, tile 20, stages 7, cluster 0, split-K 1, reduction 0, swizzle 0, option 0, waves
// 0.82": the algorithm's configuration in cuBLASLt's enum values (cublasLtMatmulTile_t,
// cublasLtMatmulStages_t, cublasLtClusterShape_t, cublasLtReductionScheme_t); waves is the
// heuristic's (or AlgoCheck's) estimate of its grid in waves of the GPU.
std::string describe_algorithm(const cublasLtMatmulAlgo_t& algo, float waves) {
  int32_t id = 0, split_k = 0;
  uint32_t tile = 0, stages = 0, reduction = 0, swizzle = 0, option = 0;
  uint16_t cluster = 0;
  // An attribute this cuBLASLt version does not report stays 0.
  const auto read = [&](cublasLtMatmulAlgoConfigAttributes_t attribute, auto& value) {
    size_t written = 0;
    cublasLtMatmulAlgoConfigGetAttribute(&algo, attribute, &value, sizeof value, &written);
  };
  read(CUBLASLT_ALGO_CONFIG_ID, id);
  read(CUBLASLT_ALGO_CONFIG_TILE_ID, tile);
  read(CUBLASLT_ALGO_CONFIG_STAGES_ID, stages);
  read(CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID, cluster);
  read(CUBLASLT_ALGO_CONFIG_SPLITK_NUM, split_k);
  read(CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME, reduction);
  read(CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING, swizzle);
  read(CUBLASLT_ALGO_CONFIG_CUSTOM_OPTION, option);
  char text[160];
  std::snprintf(text, sizeof text,
                "id %d, tile %u, stages %u, cluster %u, split-K %d, reduction %u, swizzle %u, option %u, "
                "waves %.2f",
                id, tile, stages, static_cast<unsigned>(cluster), split_k, reduction, swizzle, option, waves);
  return text;
}

// The descriptors of one GEMM call, as the heuristic and AlgoCheck take them.
struct GemmOperands {
  cublasLtMatmulDesc_t operation;
  cublasLtMatrixLayout_t a, b, d;  // C aliases D
  std::array<uint32_t, 3> alignment;  // of A, B, D (and C)
};

// The algorithm of `choice` for this problem into `chosen`. False when g.optional and the
// heuristic offers nothing; throws when it offers nothing otherwise, and
// GemmAlgorithmUnavailable when the choice (a rank past the candidates, a split-K cuBLASLt
// rejects or whose workspace exceeds ours) does not exist.
bool query_algorithm(MatmulContext::Impl& impl, const Gemm& g, const GemmOperands& operands,
                     GemmAlgorithmChoice choice, CachedAlgorithm& chosen) {
  PreferenceDesc preference;
  CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&preference.value));
  const uint64_t workspace_bytes = impl.workspace_bytes;
  CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(preference.value,
                                                    CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                    &workspace_bytes, sizeof(workspace_bytes)));
  const std::array<std::pair<cublasLtMatmulPreferenceAttributes_t, uint32_t>, 4> alignments = {
      {{CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, operands.alignment[0]},
       {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, operands.alignment[1]},
       {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, operands.alignment[2]},
       {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, operands.alignment[2]}}};
  for (const auto& [attribute, value] : alignments)
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(preference.value, attribute, &value,
                                                      sizeof(value)));
  constexpr int kMaxCandidates = 32;
  const int wanted = std::min(choice.rank + 1, kMaxCandidates);
  std::array<cublasLtMatmulHeuristicResult_t, kMaxCandidates> results = {};
  int found_count = 0;
  CUBLAS_CHECK(cublasLtMatmulAlgoGetHeuristic(impl.handle, operands.operation, operands.a, operands.b,
                                              operands.d, operands.d, preference.value, wanted,
                                              results.data(), &found_count));
  if (found_count == 0 && g.optional) return false;
  BERT_CHECK(found_count > 0, "cuBLASLt has no algorithm for " + describe(g));
  if (choice.rank >= found_count)
    throw GemmAlgorithmUnavailable("cuBLASLt's heuristic offers " + std::to_string(found_count) +
                                   " algorithms for " + describe(g) + ", rank " +
                                   std::to_string(choice.rank) + " was chosen");
  chosen.algo = results[choice.rank].algo;
  if (choice.split_k == 0) {
    chosen.description = describe_algorithm(chosen.algo, results[choice.rank].wavesCount);
    return true;
  }
  // Forced split-K: the partial products reduced in fp32 in the workspace (a fixed order, so
  // still reproducible), then checked by cuBLASLt for this problem.
  const int32_t split_k = choice.split_k;
  const uint32_t reduction = split_k > 1 ? CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE : CUBLASLT_REDUCTION_SCHEME_NONE;
  CUBLAS_CHECK(cublasLtMatmulAlgoConfigSetAttribute(&chosen.algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &split_k,
                                                    sizeof split_k));
  CUBLAS_CHECK(cublasLtMatmulAlgoConfigSetAttribute(&chosen.algo, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME,
                                                    &reduction, sizeof reduction));
  cublasLtMatmulHeuristicResult_t checked = {};
  const cublasStatus_t status = cublasLtMatmulAlgoCheck(impl.handle, operands.operation, operands.a, operands.b,
                                                        operands.d, operands.d, &chosen.algo, &checked);
  if (status != CUBLAS_STATUS_SUCCESS || checked.workspaceSize > impl.workspace_bytes)
    throw GemmAlgorithmUnavailable("cuBLASLt rejects split-K " + std::to_string(split_k) + " of candidate " +
                                   std::to_string(choice.rank) + " for " + describe(g) + " (status " +
                                   std::to_string(static_cast<int>(status)) + ", workspace " +
                                   std::to_string(checked.workspaceSize) + " bytes)");
  chosen.description = describe_algorithm(chosen.algo, checked.wavesCount);
  return true;
}

// The algorithm of g from the context's cache, found on first use: the role's explicit choice,
// else for a weight gradient the split-K policy's factor (falling back to the heuristic's first
// where cuBLASLt rejects it), else the heuristic's first. Nothing when g.optional and cuBLASLt
// has no algorithm.
std::optional<cublasLtMatmulAlgo_t> find_algorithm(MatmulContext::Impl& impl, const Gemm& g,
                                                   const GemmOperands& operands) {
  std::lock_guard<std::mutex> lock(impl.mutex);
  GemmAlgorithmChoice choice = impl.choice[static_cast<int>(g.role)];
  // The split-K policy of the weight gradients, unless a choice was made explicitly.
  const bool by_policy = g.role == GemmRole::kWeightGrad && choice.rank == 0 && choice.split_k == 0;
  if (by_policy) {
    const int factor = split_k_factor(impl.weight_grad_split_k, g.m, g.n, g.k, impl.sms);
    if (factor > 1) choice.split_k = factor;
  }
  const AlgoKey key = {g.trans_a,
                       g.trans_b,
                       g.m,
                       g.n,
                       g.k,
                       g.lda,
                       g.ldb,
                       g.ldd,
                       g.ab_type,
                       g.d_type,
                       static_cast<int64_t>(g.epilogue),
                       operands.alignment[0],
                       operands.alignment[1],
                       operands.alignment[2],
                       g.bias != nullptr ? alignment_of(g.bias) : 0,
                       g.aux != nullptr ? alignment_of(g.aux) : 0,
                       g.aux_ld,
                       g.beta != 0.0f ? 1 : 0,
                       choice.rank,
                       // A policy's split apart from an explicit one: only the policy's falls back.
                       by_policy ? -choice.split_k : choice.split_k};
  auto found = impl.cache.find(key);
  if (found == impl.cache.end()) {
    CachedAlgorithm chosen;
    try {
      if (!query_algorithm(impl, g, operands, choice, chosen)) return std::nullopt;
    } catch (const GemmAlgorithmUnavailable& rejected) {
      if (!by_policy || choice.split_k == 0) throw;
      // The policy's factor does not exist for this shape: the heuristic's first, cached
      // under the same key; said once per context.
      if (!impl.split_k_fallback_said)
        std::fprintf(stderr,
                     "[matmul] BERT_GEMM_SPLIT_K: %s; the heuristic's first algorithm runs there and "
                     "wherever else a split is rejected\n",
                     rejected.what());
      impl.split_k_fallback_said = true;
      if (!query_algorithm(impl, g, operands, GemmAlgorithmChoice{}, chosen)) return std::nullopt;
    }
    found = impl.cache.emplace(key, std::move(chosen)).first;
  }
  impl.last[static_cast<int>(g.role)] = &found->second;
  return found->second.algo;
}

}  // namespace

// Queues the GEMM; false (nothing queued) when g.optional and cuBLASLt has no algorithm for it.
bool matmul_detail::run_gemm(MatmulContext::Impl& impl, const Gemm& g, cudaStream_t stream) {
  OperationDesc operation;
  CUBLAS_CHECK(cublasLtMatmulDescCreate(&operation.value, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  const int32_t trans_a = g.trans_a, trans_b = g.trans_b;
  CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(operation.value, CUBLASLT_MATMUL_DESC_TRANSA,
                                              &trans_a, sizeof(trans_a)));
  CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(operation.value, CUBLASLT_MATMUL_DESC_TRANSB,
                                              &trans_b, sizeof(trans_b)));
  const uint32_t epilogue = g.epilogue;
  CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(operation.value, CUBLASLT_MATMUL_DESC_EPILOGUE,
                                              &epilogue, sizeof(epilogue)));
  if (g.bias != nullptr)
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(operation.value, CUBLASLT_MATMUL_DESC_BIAS_POINTER,
                                                &g.bias, sizeof(g.bias)));
  if (g.aux != nullptr) {
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(
        operation.value, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &g.aux, sizeof(g.aux)));
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(
        operation.value, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, &g.aux_ld, sizeof(g.aux_ld)));
  }

  // Stored (pre-op) shapes: op N keeps rows × cols, op T stores the transpose.
  LayoutDesc layout_a, layout_b, layout_d;
  if (g.trans_a == CUBLAS_OP_N)
    create_layout(layout_a, g.ab_type, g.m, g.k, g.lda);
  else
    create_layout(layout_a, g.ab_type, g.k, g.m, g.lda);
  if (g.trans_b == CUBLAS_OP_N)
    create_layout(layout_b, g.ab_type, g.k, g.n, g.ldb);
  else
    create_layout(layout_b, g.ab_type, g.n, g.k, g.ldb);
  create_layout(layout_d, g.d_type, g.m, g.n, g.ldd);

  const GemmOperands operands{operation.value, layout_a.value, layout_b.value, layout_d.value,
                              {alignment_of(g.a), alignment_of(g.b), alignment_of(g.d)}};
  const std::optional<cublasLtMatmulAlgo_t> algo = find_algorithm(impl, g, operands);
  if (!algo) return false;
  CUBLAS_CHECK(cublasLtMatmul(impl.handle, operation.value, &g.alpha, g.a, layout_a.value, g.b,
                              layout_b.value, &g.beta, g.d, layout_d.value, g.d, layout_d.value,
                              &*algo, impl.workspace, impl.workspace_bytes, stream));
  return true;
}

std::string matmul_detail::describe(const Gemm& g) {
  return std::string(g.what) + " (m " + std::to_string(g.m) + ", n " + std::to_string(g.n) +
         ", k " + std::to_string(g.k) + ", lda " + std::to_string(g.lda) + ", ldb " +
         std::to_string(g.ldb) + ", ldd " + std::to_string(g.ldd) + ")";
}

}  // namespace bert
