// Hugging Face TrainingArguments flags whose effect this engine decides in one place, with the
// line the log prints for each, so that a flag accepted for compatibility never passes silently:
//   --bf16 / --fp16 / --tf32   precision of the backend (CUDA: bf16 compute by default, fp32 with
//                              --bf16 false or BERT_CUDA_COMPUTE=fp32; fp16 is refused; TF32 is
//                              never used; the CPU backend always computes in fp32);
//   --report_to                where metrics go: "all" / "tensorboard" (TensorBoard event files),
//                              "none"; other integrations (wandb, mlflow, ...) are not available
//                              here and the log says so.
#pragma once

#include <string>
#include <vector>

#include "engine/backend_registry.h"

namespace bert {

struct PrecisionFlags {
  bool bf16_given = false, bf16 = true;
  bool fp16 = false;
  bool tf32_given = false, tf32 = false;
};

// CUDA options from BERT_CUDA_COMPUTE, then --bf16 when given (it wins; *notes says so when
// they disagree). Throws FlagError for --fp16 true (not implemented).
CudaBackendOptions cuda_options_for(const PrecisionFlags& flags, std::vector<std::string>* notes);

// What the backend (Backend::name(): cpu, cpu-double, cuda, cuda-fp32) computes in, and what
// --bf16 / --tf32 do or do not do on it: one or two lines for the log.
std::vector<std::string> precision_notes(const std::string& backend_name, const PrecisionFlags& flags);

struct ReportTo {
  bool tensorboard = true;
  std::vector<std::string> notes;  // integrations asked for that are not available here
};
// Comma- or space-separated names as --report_to takes them ("all", "none", "tensorboard",
// "wandb", ...). Throws FlagError for an empty list or "none" mixed with other names.
ReportTo parse_report_to(const std::string& value);

}  // namespace bert
