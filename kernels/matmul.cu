// Linear layers through cuBLASLt (kernels/matmul.h).
//
// Row-major ↔ column-major. cuBLASLt is column-major; a row-major X [r, c] is the same memory
// as a column-major matrix Xᶜ = Xᵀ of shape c × r with leading dimension c. So every product
// is computed transposed, D ᶜ = op(A)·op(B) with:
//   forward   outᶜ [out, rows]  = weightᶜᵀ [out, in] · inpᶜ [in, rows]
//             A = weight (stored in × out, ld in), op T;  B = inp (in × rows, ld in), op N;
//             m = out_features, n = rows, k = in_features; bias (length m) is the epilogue's
//             per-row-of-D vector, i.e. per output feature.
//   d_inp     d_inpᶜ [in, rows] = weightᶜ [in, out] · d_outᶜ [out, rows]
//             A = weight (in × out, ld in), N;  B = d_out (out × rows, ld out), N;
//             m = in, n = rows, k = out; beta = 1 to accumulate.
//   d_weight  d_weightᶜ [in, out] = inpᶜ [in, rows] · (d_outᶜ)ᵀ [rows, out]
//             A = inp (in × rows, ld in), N;  B = d_out (out × rows, ld out), T;
//             m = in, n = out, k = rows; D fp32, beta = 0 on a step's first micro-batch (so
//             the weight gradients are never zeroed), 1 on the next ones (they add up).
// Types: bf16 A/B with bf16 D (activations) or fp32 D (weight gradients); under the fp32 compute
// switch every operand is fp32. The compute type is CUBLAS_COMPUTE_32F in both cases: with fp32
// inputs that is true fp32 arithmetic (TF32 needs CUBLAS_COMPUTE_32F_FAST_TF32, never asked for).
// Algorithms: one cublasLtMatmulAlgoGetHeuristic query per distinct problem (shape, leading
// dimensions, types, epilogue, pointer alignments, beta ≠ 0), cached in the context. Training
// runs the heuristic's first candidate; MatmulContext::choose_algorithm selects another rank,
// or forces a split-K factor, per GEMM role, for bench_kernels' survey of the algorithms; and
// BERT_GEMM_SPLIT_K (kernels/matmul_split_k.h, a candidate, off by default) splits k of the
// weight-gradient GEMMs.
#include <cublasLt.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <type_traits>
#include <utility>

#include "kernels/column_reduce.cuh"
#include "kernels/cuda_common.cuh"
#include "kernels/matmul.h"
#include "kernels/matmul_split_k.h"

namespace bert {

using AlgoKey = std::array<int64_t, 20>;

struct CachedAlgorithm {
  cublasLtMatmulAlgo_t algo;
  float waves = 0;  // the heuristic's (or AlgoCheck's) estimate of the grid in waves of the GPU
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
  BERT_CHECK(policy.mode != SplitKPolicy::Mode::kFixed || (policy.factor >= 2 && policy.factor <= 16),
             "MatmulContext::set_weight_grad_split_k: factor " + std::to_string(policy.factor) +
                 " (expected 2 to 16)");
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

// One column-major GEMM: D = alpha·op(A)·op(B) + beta·D (C aliases D).
struct Gemm {
  cublasOperation_t trans_a = CUBLAS_OP_N, trans_b = CUBLAS_OP_N;
  int m = 0, n = 0, k = 0;
  const void* a = nullptr;
  int lda = 0;
  const void* b = nullptr;
  int ldb = 0;
  void* d = nullptr;
  int ldd = 0;
  cudaDataType_t ab_type = CUDA_R_16BF, d_type = CUDA_R_16BF;
  float alpha = 1.0f, beta = 0.0f;
  cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;
  const void* bias = nullptr;
  void* aux = nullptr;
  int64_t aux_ld = 0;
  const char* what = "";
  GemmRole role = GemmRole::kForward;
  bool optional = false;  // run_gemm returns false instead of throwing when no algorithm exists
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

std::string describe(const Gemm& g) {
  return std::string(g.what) + " (m " + std::to_string(g.m) + ", n " + std::to_string(g.n) +
         ", k " + std::to_string(g.k) + ", lda " + std::to_string(g.lda) + ", ldb " +
         std::to_string(g.ldb) + ", ldd " + std::to_string(g.ldd) + ")";
}

// "id 31, tile 20, stages 7, cluster 0, split-K 1, reduction 0, swizzle 0, option 0, waves
// 0.82": the algorithm's configuration in cuBLASLt's enum values (cublasLtMatmulTile_t,
// cublasLtMatmulStages_t, cublasLtClusterShape_t, cublasLtReductionScheme_t).
std::string describe_algorithm(const CachedAlgorithm& chosen) {
  int32_t id = 0, split_k = 0;
  uint32_t tile = 0, stages = 0, reduction = 0, swizzle = 0, option = 0;
  uint16_t cluster = 0;
  size_t written = 0;
  const cublasLtMatmulAlgo_t* algo = &chosen.algo;
  // An attribute this cuBLASLt version does not report stays 0.
  cublasLtMatmulAlgoConfigGetAttribute(algo, CUBLASLT_ALGO_CONFIG_ID, &id, sizeof id, &written);
  cublasLtMatmulAlgoConfigGetAttribute(algo, CUBLASLT_ALGO_CONFIG_TILE_ID, &tile, sizeof tile, &written);
  cublasLtMatmulAlgoConfigGetAttribute(algo, CUBLASLT_ALGO_CONFIG_STAGES_ID, &stages, sizeof stages, &written);
  cublasLtMatmulAlgoConfigGetAttribute(algo, CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID, &cluster, sizeof cluster,
                                       &written);
  cublasLtMatmulAlgoConfigGetAttribute(algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &split_k, sizeof split_k, &written);
  cublasLtMatmulAlgoConfigGetAttribute(algo, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME, &reduction, sizeof reduction,
                                       &written);
  cublasLtMatmulAlgoConfigGetAttribute(algo, CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING, &swizzle, sizeof swizzle,
                                       &written);
  cublasLtMatmulAlgoConfigGetAttribute(algo, CUBLASLT_ALGO_CONFIG_CUSTOM_OPTION, &option, sizeof option,
                                       &written);
  char text[160];
  std::snprintf(text, sizeof text,
                "id %d, tile %u, stages %u, cluster %u, split-K %d, reduction %u, swizzle %u, option %u, "
                "waves %.2f",
                id, tile, stages, static_cast<unsigned>(cluster), split_k, reduction, swizzle, option,
                chosen.waves);
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
  chosen.waves = results[choice.rank].wavesCount;
  if (choice.split_k == 0) return true;
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
  chosen.waves = checked.wavesCount;
  return true;
}

// Queues the GEMM; false (nothing queued) when g.optional and cuBLASLt has no algorithm for it.
bool run_gemm(MatmulContext::Impl& impl, const Gemm& g, cudaStream_t stream) {
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

  const uint32_t align_a = alignment_of(g.a), align_b = alignment_of(g.b),
                 align_d = alignment_of(g.d);
  cublasLtMatmulAlgo_t algo;
  {
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
                         align_a,
                         align_b,
                         align_d,
                         g.bias != nullptr ? alignment_of(g.bias) : 0,
                         g.aux != nullptr ? alignment_of(g.aux) : 0,
                         g.aux_ld,
                         g.beta != 0.0f ? 1 : 0,
                         choice.rank,
                         // A policy's split apart from an explicit one: only the policy's falls back.
                         by_policy ? -choice.split_k : choice.split_k};
    auto found = impl.cache.find(key);
    if (found == impl.cache.end()) {
      const GemmOperands operands{operation.value, layout_a.value, layout_b.value, layout_d.value,
                                  {align_a, align_b, align_d}};
      CachedAlgorithm chosen;
      try {
        if (!query_algorithm(impl, g, operands, choice, chosen)) return false;
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
        if (!query_algorithm(impl, g, operands, GemmAlgorithmChoice{}, chosen)) return false;
      }
      chosen.description = describe_algorithm(chosen);
      found = impl.cache.emplace(key, std::move(chosen)).first;
    }
    algo = found->second.algo;
    impl.last[static_cast<int>(g.role)] = &found->second;
  }
  CUBLAS_CHECK(cublasLtMatmul(impl.handle, operation.value, &g.alpha, g.a, layout_a.value, g.b,
                              layout_b.value, &g.beta, g.d, layout_d.value, g.d, layout_d.value,
                              &algo, impl.workspace, impl.workspace_bytes, stream));
  return true;
}

void check_dims(int rows, int in_features, int out_features, const char* op) {
  BERT_CHECK(rows >= 0 && in_features > 0 && out_features > 0,
             std::string(op) + ": rows " + std::to_string(rows) + ", in_features " +
                 std::to_string(in_features) + ", out_features " + std::to_string(out_features));
}

// Storage type of T for cuBLASLt.
template <typename T>
constexpr cudaDataType_t kDataType = std::is_same_v<T, float> ? CUDA_R_32F : CUDA_R_16BF;

// Element op of the d_bias column sum: the d_out value itself.
template <typename T>
struct LoadOp {
  const T* values;
  int width;
  __device__ float operator()(int row, int col) const {
    return to_float(values[static_cast<size_t>(row) * width + col]);
  }
};

template <typename T>
void matmul_forward(MatmulContext& context, T* out, const T* inp, const T* weight, const T* bias,
                    int rows, int in_features, int out_features, GpuStream stream) {
  check_dims(rows, in_features, out_features, "matmul_forward_cuda");
  if (rows == 0) return;
  Gemm g;
  g.what = "matmul forward";
  g.trans_a = CUBLAS_OP_T;
  g.trans_b = CUBLAS_OP_N;
  g.m = out_features;
  g.n = rows;
  g.k = in_features;
  g.a = weight;
  g.lda = in_features;
  g.b = inp;
  g.ldb = in_features;
  g.d = out;
  g.ldd = out_features;
  g.ab_type = g.d_type = kDataType<T>;
  if (bias != nullptr) {
    g.epilogue = CUBLASLT_EPILOGUE_BIAS;
    g.bias = bias;
  }
  run_gemm(context.impl(), g, stream);
}

// d_weightᶜ [in, out] = inpᶜ · (d_outᶜ)ᵀ (the header's d_weight layout), D fp32, beta 0.
template <typename T>
Gemm weight_grad_gemm(float* d_weight, const T* d_out, const T* inp, int rows, int in_features,
                      int out_features) {
  Gemm g;
  g.what = "matmul backward d_weight";
  g.role = GemmRole::kWeightGrad;
  g.trans_b = CUBLAS_OP_T;
  g.m = in_features;
  g.n = out_features;
  g.k = rows;
  g.a = inp;
  g.lda = in_features;
  g.b = d_out;
  g.ldb = out_features;
  g.d = d_weight;
  g.ldd = in_features;
  g.ab_type = kDataType<T>;
  g.d_type = CUDA_R_32F;
  return g;
}

// d_inpᶜ [in, rows] = weightᶜ [in, out] · d_outᶜ [out, rows] (the header's d_inp layout).
template <typename T>
void input_grad(MatmulContext& context, T* d_inp, const T* d_out, const T* weight, int rows,
                int in_features, int out_features, Accumulate mode, GpuStream stream) {
  Gemm g;
  g.what = "matmul backward d_inp";
  g.role = GemmRole::kInputGrad;
  g.m = in_features;
  g.n = rows;
  g.k = out_features;
  g.a = weight;
  g.lda = in_features;
  g.b = d_out;
  g.ldb = out_features;
  g.d = d_inp;
  g.ldd = in_features;
  g.ab_type = g.d_type = kDataType<T>;
  g.beta = mode == Accumulate::kAdd ? 1.0f : 0.0f;
  run_gemm(context.impl(), g, stream);
}

template <typename T>
void weight_grad(MatmulContext& context, float* d_weight, const T* d_out, const T* inp, int rows,
                 int in_features, int out_features, Accumulate mode, GpuStream stream) {
  Gemm g = weight_grad_gemm(d_weight, d_out, inp, rows, in_features, out_features);
  g.beta = mode == Accumulate::kAdd ? 1.0f : 0.0f;
  run_gemm(context.impl(), g, stream);
}

template <typename T>
void matmul_backward(MatmulContext& context, T* d_inp, float* d_weight, float* d_bias,
                     const T* d_out, const T* inp, const T* weight, int rows, int in_features,
                     int out_features, Accumulate d_inp_mode, Accumulate d_weight_mode,
                     GpuWorkspace workspace, GpuStream stream) {
  check_dims(rows, in_features, out_features, "matmul_backward_cuda");
  if (rows == 0) {  // d_inp has no rows; a sum over no rows is 0
    if (d_weight_mode == Accumulate::kOverwrite)
      CUDA_CHECK(cudaMemsetAsync(d_weight, 0, static_cast<size_t>(out_features) * in_features * sizeof(float),
                                 stream));
    return;
  }
  if (d_inp != nullptr)
    input_grad(context, d_inp, d_out, weight, rows, in_features, out_features, d_inp_mode, stream);
  weight_grad(context, d_weight, d_out, inp, rows, in_features, out_features, d_weight_mode, stream);
  if (d_bias != nullptr) {
    check_workspace(workspace, matmul_backward_workspace_bytes(rows, out_features),
                    "matmul_backward_cuda");
    launch_column_sum(d_bias, rows, out_features, LoadOp<T>{d_out, out_features},
                      static_cast<float*>(workspace.data), stream, "matmul_bias_grad_kernel");
  }
}

}  // namespace

void matmul_forward_cuda(MatmulContext& context, bf16* out, const bf16* inp, const bf16* weight,
                         const bf16* bias, int rows, int in_features, int out_features,
                         GpuStream stream) {
  matmul_forward(context, out, inp, weight, bias, rows, in_features, out_features, stream);
}
void matmul_forward_cuda(MatmulContext& context, float* out, const float* inp, const float* weight,
                         const float* bias, int rows, int in_features, int out_features,
                         GpuStream stream) {
  matmul_forward(context, out, inp, weight, bias, rows, in_features, out_features, stream);
}

size_t matmul_backward_workspace_bytes(int rows, int out_features) {
  return column_partial_bytes(rows, out_features);
}

void matmul_backward_cuda(MatmulContext& context, bf16* d_inp, float* d_weight, float* d_bias,
                          const bf16* d_out, const bf16* inp, const bf16* weight, int rows,
                          int in_features, int out_features, Accumulate d_inp_mode,
                          Accumulate d_weight_mode, GpuWorkspace workspace, GpuStream stream) {
  matmul_backward(context, d_inp, d_weight, d_bias, d_out, inp, weight, rows, in_features,
                  out_features, d_inp_mode, d_weight_mode, workspace, stream);
}
void matmul_backward_cuda(MatmulContext& context, float* d_inp, float* d_weight, float* d_bias,
                          const float* d_out, const float* inp, const float* weight, int rows,
                          int in_features, int out_features, Accumulate d_inp_mode,
                          Accumulate d_weight_mode, GpuWorkspace workspace, GpuStream stream) {
  matmul_backward(context, d_inp, d_weight, d_bias, d_out, inp, weight, rows, in_features,
                  out_features, d_inp_mode, d_weight_mode, workspace, stream);
}

void matmul_input_grad_cuda(MatmulContext& context, bf16* d_inp, const bf16* d_out, const bf16* weight,
                            int rows, int in_features, int out_features, Accumulate mode,
                            GpuStream stream) {
  check_dims(rows, in_features, out_features, "matmul_input_grad_cuda");
  if (rows == 0) return;
  input_grad(context, d_inp, d_out, weight, rows, in_features, out_features, mode, stream);
}

void matmul_weight_grad_cuda(MatmulContext& context, float* d_weight, const bf16* d_out, const bf16* inp,
                             int rows, int in_features, int out_features, Accumulate mode,
                             GpuStream stream) {
  // Through matmul_backward for its rows == 0 case (a sum over no rows is 0).
  matmul_backward(context, static_cast<bf16*>(nullptr), d_weight, nullptr, d_out, inp,
                  static_cast<const bf16*>(nullptr), rows, in_features, out_features, Accumulate::kOverwrite,
                  mode, GpuWorkspace{}, stream);
}

void matmul_bias_gelu_forward_cuda(MatmulContext& context, bf16* out, bf16* pre_gelu,
                                   const bf16* inp, const bf16* weight, const bf16* bias, int rows,
                                   int in_features, int out_features, GpuStream stream) {
  check_dims(rows, in_features, out_features, "matmul_bias_gelu_forward_cuda");
  BERT_CHECK(out_features % 8 == 0 && bias != nullptr && pre_gelu != nullptr,
             "matmul_bias_gelu_forward_cuda: needs bias, pre_gelu and out_features % 8 == 0, got " +
                 std::to_string(out_features));
  if (rows == 0) return;
  Gemm g;
  g.what = "matmul forward with bias+GELU epilogue";
  g.trans_a = CUBLAS_OP_T;
  g.m = out_features;
  g.n = rows;
  g.k = in_features;
  g.a = weight;
  g.lda = in_features;
  g.b = inp;
  g.ldb = in_features;
  g.d = out;
  g.ldd = out_features;
  g.epilogue = CUBLASLT_EPILOGUE_GELU_AUX_BIAS;
  g.bias = bias;
  g.aux = pre_gelu;
  g.aux_ld = out_features;
  run_gemm(context.impl(), g, stream);
}

bool matmul_weight_bias_grad_epilogue_cuda(MatmulContext& context, float* d_weight, float* d_bias,
                                           const bf16* d_out, const bf16* inp, int rows, int in_features,
                                           int out_features, GpuStream stream) {
  check_dims(rows, in_features, out_features, "matmul_weight_bias_grad_epilogue_cuda");
  BERT_CHECK(d_weight != nullptr && d_bias != nullptr && rows > 0,
             "matmul_weight_bias_grad_epilogue_cuda: needs d_weight, d_bias and rows > 0");
  // matmul_backward's d_weight GEMM (overwriting), with the bias gradient of B = d_out.
  Gemm g = weight_grad_gemm(d_weight, d_out, inp, rows, in_features, out_features);
  g.what = "matmul backward d_weight with bias-gradient epilogue";
  g.epilogue = CUBLASLT_EPILOGUE_BGRADB;
  g.bias = d_bias;  // for the BGRAD epilogues the bias pointer receives the gradient
  g.optional = true;
  return run_gemm(context.impl(), g, stream);
}

}  // namespace bert
