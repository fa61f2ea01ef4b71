#include "apps/hf_trainer_flags.h"

#include <cstdlib>
#include <sstream>

#include "apps/flags.h"

namespace bert {

CudaBackendOptions cuda_options_for(const PrecisionFlags& flags, std::vector<std::string>* notes) {
  if (flags.fp16)
    throw FlagError("--fp16: fp16 mixed precision is not implemented by this engine; use --bf16 (the default "
                    "on CUDA) or --bf16 false for fp32 compute");
  CudaBackendOptions options = cuda_backend_options_from_env();
  if (flags.bf16_given) {
    if (options.fp32_compute == flags.bf16 && std::getenv("BERT_CUDA_COMPUTE") != nullptr)
      notes->push_back(std::string("--bf16 ") + (flags.bf16 ? "true" : "false") + " overrides BERT_CUDA_COMPUTE=" +
                       std::getenv("BERT_CUDA_COMPUTE"));
    options.fp32_compute = !flags.bf16;
  }
  return options;
}

std::vector<std::string> precision_notes(const std::string& backend_name, const PrecisionFlags& flags) {
  std::vector<std::string> notes;
  if (backend_name == "cpu" || backend_name == "cpu-double") {
    notes.push_back(std::string("the CPU backend computes in ") + (backend_name == "cpu" ? "fp32" : "fp64") +
                    " (activations, GEMMs, weights and Adam moments)" +
                    (flags.bf16_given || flags.tf32_given ? "; --bf16 and --tf32 apply to CUDA only and change "
                                                            "nothing here"
                                                          : ""));
    return notes;
  }
  const bool fp32 = backend_name == "cuda-fp32";
  if (fp32) {
    notes.push_back(std::string("CUDA: fp32 compute (") +
                    (flags.bf16_given ? "--bf16 false" : "BERT_CUDA_COMPUTE=fp32") +
                    "): fp32 activations and GEMMs, fp32 master weights and Adam moments");
    if (flags.tf32_given)
      notes.push_back(flags.tf32 ? "--tf32 true is not implemented: the fp32 GEMMs stay full fp32 (cuBLAS "
                                   "CUBLAS_COMPUTE_32F without TF32), exact but slower than TF32"
                                 : "--tf32 false: the fp32 GEMMs run in full fp32 (no TF32), as always here");
  } else {
    notes.push_back(std::string("CUDA: bf16 compute (") + (flags.bf16_given ? "--bf16" : "the default") +
                    "): bf16 activations and GEMM operands with fp32 accumulation, fp32 LayerNorm/softmax "
                    "statistics, loss, master weights and Adam moments");
    if (flags.tf32_given)
      notes.push_back(std::string("--tf32 ") + (flags.tf32 ? "true" : "false") +
                      " changes nothing under bf16 compute: TF32 concerns fp32 GEMMs, and these are bf16");
  }
  return notes;
}

ReportTo parse_report_to(const std::string& value) {
  std::string spaced = value;
  for (char& c : spaced)
    if (c == ',') c = ' ';
  std::istringstream words(spaced);
  std::vector<std::string> names;
  for (std::string name; words >> name;) names.push_back(name);
  if (names.empty()) throw FlagError("--report_to: expected all, none, tensorboard or a list of integrations");
  ReportTo out;
  out.tensorboard = false;
  for (const std::string& name : names) {
    if (name == "none") {
      if (names.size() > 1) throw FlagError("--report_to: 'none' cannot be combined with other integrations");
    } else if (name == "all" || name == "tensorboard") {
      out.tensorboard = true;
    } else {
      out.notes.push_back("--report_to " + name + ": this engine has no " + name +
                          " integration; nothing is reported to it (TensorBoard files and trainer_log.jsonl "
                          "are what it writes)");
    }
  }
  return out;
}

}  // namespace bert
