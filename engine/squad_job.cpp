#include "engine/squad_job.h"

#include <chrono>
#include <cstdio>

#include "data/predictions_io.h"
#include "data/window_cache.h"
#include "engine/backend_registry.h"
#include "core/error.h"
#include "core/file_io.h"
#include "engine/hf_outputs.h"

namespace bert {

PreparedSquad prepare_squad(const std::string& path, const Tokenizer& tokenizer, const PrepareOptions& options,
                            const std::string& label) {
  const auto started = std::chrono::steady_clock::now();
  PreparedSquad out;
  out.dataset = read_squad(path);
  check_squad_v1(out.dataset, path, false);
  if (options.max_samples > 0 && out.dataset.examples.size() > static_cast<size_t>(options.max_samples))
    out.dataset.examples.resize(static_cast<size_t>(options.max_samples));
  if (out.dataset.examples.empty()) throw_input_error(path, "", "the " + label + " dataset holds no questions");

  bool from_cache = false;
  if (!options.cache_file.empty()) {
    const WindowCacheKey key = make_window_cache_key(out.dataset, tokenizer, options.do_lower_case, options.window);
    if (path_exists(options.cache_file) && options.overwrite_cache && !options.quiet)
      std::fprintf(stderr, "[%s] --overwrite_cache: rebuilding %s\n", label.c_str(), options.cache_file.c_str());
    if (path_exists(options.cache_file) && !options.overwrite_cache) {
      out.windows = load_window_cache(options.cache_file, key, out.dataset).windows;
      from_cache = true;
    } else {
      out.windows = build_windows(out.dataset, tokenizer, options.window);
      save_window_cache(options.cache_file, key, out.dataset, out.windows);
    }
  } else {
    out.windows = build_windows(out.dataset, tokenizer, options.window);
  }
  if (options.max_samples > 0 && out.windows.size() > static_cast<size_t>(options.max_samples))
    out.windows.resize(static_cast<size_t>(options.max_samples));
  size_t labelled = 0, tokens = 0;
  for (const Window& window : out.windows) {
    labelled += window.start_position != 0 || window.end_position != 0;
    tokens += window.input_ids.size();
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!options.quiet)
    std::fprintf(stderr,
               "[%s] %s: %zu questions -> %zu windows (%zu with the answer inside, mean %.1f tokens)%s in %.2f s\n",
               label.c_str(), path.c_str(), out.dataset.examples.size(), out.windows.size(), labelled,
               out.windows.empty() ? 0.0 : double(tokens) / out.windows.size(),
               from_cache ? " from the window cache" : "", seconds);
  return out;
}

std::unique_ptr<Backend> make_backend(const std::string& device) {
  const bool may_use_cuda = device == "cuda" || device == "auto";
  return make_backend(device, may_use_cuda ? cuda_backend_options_from_env() : CudaBackendOptions{});
}

std::unique_ptr<Backend> make_backend(const std::string& device, const CudaBackendOptions& cuda_options) {
  if (device == "cpu") return make_cpu_backend(false);
  if (device == "cpu-double") return make_cpu_backend(true);
  if (device != "cuda" && device != "auto")
    throw InputError("--device: expected auto, cpu or cuda, got '" + device + "'");
  // The factory exists when the executable links bert_engine_cuda (engine/backend_registry.h).
  const CudaBackendFactory factory = registered_cuda_backend_factory();
  std::string note = "this build has no CUDA backend (built without nvcc)";
  std::unique_ptr<Backend> backend = factory != nullptr ? factory(cuda_options, &note) : nullptr;
  if (device == "cuda") {
    if (!backend) throw InputError("--device cuda: " + note + "; use --device cpu");
    return backend;
  }
  if (backend) {
    std::fprintf(stderr, "[device] auto: %s on %s\n", backend->name().c_str(), note.c_str());
    return backend;
  }
  std::fprintf(stderr, "[device] auto: cpu (%s)\n", note.c_str());
  return make_cpu_backend(false);
}

std::string describe_memory_shortfall(Backend& backend, const BertConfig& config, int64_t max_tokens,
                                      int64_t max_batch, bool training, bool* batch_to_blame) {
  const double loaded = 4.0 * bert_qa_parameter_count(config);  // float32 weights from model.safetensors
  ModelMemory model;
  if (backend.native_stream() == nullptr) model = model_memory_needed(backend, config, max_tokens, max_batch, training);
  const double needed = loaded + model.total(), available = double(physical_memory_bytes());
  *batch_to_blame = model.activation_bytes > loaded + model.parameter_bytes;
  if (needed <= available) return "";
  return "needs about " + format_bytes(needed) + " of memory (" + format_bytes(loaded + model.parameter_bytes) +
         " for the parameters" + (training ? " and optimizer state" : "") + ", " +
         format_bytes(model.activation_bytes) + " for the activations of " + std::to_string(max_tokens) +
         " tokens), more than this machine's " + format_bytes(available);
}

void write_eval_outputs(const std::string& output_dir, const EvalOutcome& outcome, size_t windows, int batch_size,
                        double epoch) {
  make_directories(output_dir);
  write_predictions(join_path(output_dir, "eval_predictions.json"), outcome.predictions);
  write_nbest_predictions(join_path(output_dir, "eval_nbest_predictions.json"), outcome.predictions);
  save_metrics(output_dir, "eval", eval_metrics(outcome, windows, batch_size, epoch));
}

void check_squad_v1(const SquadDataset& dataset, const std::string& path, bool version_2_with_negative) {
  if (version_2_with_negative)
    throw InputError("--version_2_with_negative: SQuAD v2 (unanswerable questions) is not implemented yet; "
                     "this engine trains and evaluates SQuAD v1.1 only");
  size_t impossible = 0;
  for (const SquadExample& example : dataset.examples) impossible += example.is_impossible;
  const bool v2_version = dataset.version.rfind("v2", 0) == 0 || dataset.version.rfind("2", 0) == 0;
  if (impossible > 0 || v2_version)
    throw_input_error(path, impossible > 0 ? "is_impossible" : "version",
                      "SQuAD v2 data (version '" + dataset.version + "', " + std::to_string(impossible) +
                          " unanswerable questions): run_qa.py needs --version_2_with_negative for it, which "
                          "this engine does not implement yet; give SQuAD v1.1 files");
}

}  // namespace bert
