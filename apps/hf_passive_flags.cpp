#include "apps/hf_passive_flags.h"

#include "core/json_text.h"

namespace bert {
namespace {

enum class Kind { kBool, kInt, kDouble, kString };
enum class Action {
  kAccept,  // changes no result here: a note says why
  kRefuse,  // asks for what this engine cannot do (when set to a value that asks for it)
};

struct PassiveFlag {
  const char* name;
  Kind kind;
  Action action;
  const char* why;
  // transformers 5.25's default where it is not false, 0 or empty ("None" for a number that
  // defaults to None: held as 0, shown as None). A bool defaulting to true also takes
  // --no_<name>, as HfArgumentParser gives it.
  const char* hf_default = nullptr;
};

constexpr const char* kHostThread = "batches are packed by a host thread one step ahead of the device";
constexpr const char* kDataParallel =
    "data parallelism here is mpirun with NCCL (or the host communicator) and its own gradient buckets";
constexpr const char* kCompiled = "the kernels are compiled ahead of time";
constexpr const char* kHubOnly = "it is used only with --push_to_hub";
constexpr const char* kTracker = "it names a run for an experiment tracker (trackio, wandb), none of which is available here";
constexpr const char* kKeptActivations =
    "activations are kept for the backward pass (the results are the same either way); the memory check before "
    "training says whether a batch fits";
constexpr const char* kRankZeroEval = "evaluation runs on rank 0 over every window, and the metric once over all of them";
constexpr const char* kOwnKernels = "the fused kernels here are this engine's own";
constexpr const char* kNoDownloads =
    "nothing is downloaded: --model_name_or_path is a local directory or a Hub id already in the Hugging Face cache";
constexpr const char* kNoSharding =
    "DeepSpeed and FSDP are not available; several GPUs train here as mpirun ranks, each holding the whole "
    "model (README: several GPUs)";

// transformers 5's TrainingArguments that a run_qa.py command line may carry, run_qa.py's own
// model and data arguments, and transformers 4's that 5 removed, beyond those train_squad
// implements (apps/train_squad.cpp, apps/hf_trainer_flags.cpp).
constexpr PassiveFlag kPassiveFlags[] = {
    {"dataloader_num_workers", Kind::kInt, Action::kAccept, kHostThread},
    {"dataloader_persistent_workers", Kind::kBool, Action::kAccept, kHostThread},
    {"dataloader_prefetch_factor", Kind::kInt, Action::kAccept, kHostThread, "None"},
    {"dataloader_pin_memory", Kind::kBool, Action::kAccept,
     "a CUDA run copies batches from pinned host memory", "true"},
    {"gradient_checkpointing", Kind::kBool, Action::kAccept, kKeptActivations},
    {"gradient_checkpointing_kwargs", Kind::kString, Action::kAccept, kKeptActivations},
    {"activation_checkpointing", Kind::kBool, Action::kAccept, kKeptActivations},
    {"activation_checkpointing_kwargs", Kind::kString, Action::kAccept, kKeptActivations},
    {"dataloader_in_order", Kind::kBool, Action::kAccept, kHostThread, "true"},
    {"dataloader_multiprocessing_context", Kind::kString, Action::kAccept, kHostThread},
    {"length_column_name", Kind::kString, Action::kAccept,
     "--train_sampling_strategy group_by_length groups the windows by their own token counts",
     "length"},
    {"label_names", Kind::kString, Action::kAccept,
     "the labels are the answer's start_positions and end_positions, BertForQuestionAnswering's"},
    {"eval_do_concat_batches", Kind::kBool, Action::kAccept, kRankZeroEval, "true"},
    {"eval_use_gather_object", Kind::kBool, Action::kAccept, kRankZeroEval},
    {"batch_eval_metrics", Kind::kBool, Action::kAccept, kRankZeroEval},
    {"include_for_metrics", Kind::kString, Action::kAccept,
     "run_qa's metric scores the post-processed answers, whatever else compute_metrics is given"},
    {"use_cache", Kind::kBool, Action::kAccept, "BERT keeps no key-value cache"},
    {"enable_jit_checkpoint", Kind::kBool, Action::kAccept,
     "a SIGTERM or SIGINT always saves a checkpoint and stops every rank (exit 143 or 130); the "
     "next run resumes "
     "from it"},
    {"restore_callback_states_from_checkpoint", Kind::kBool, Action::kAccept,
     "there are no callbacks here; a resume restores the whole training state"},
    {"ddp_static_graph", Kind::kBool, Action::kAccept, kDataParallel},
    {"torch_compile", Kind::kBool, Action::kAccept, kCompiled},
    {"torch_compile_backend", Kind::kString, Action::kAccept, kCompiled},
    {"torch_compile_mode", Kind::kString, Action::kAccept, kCompiled},
    {"log_level", Kind::kString, Action::kAccept,
     "rank 0 logs progress and notes, the other ranks only errors", "passive"},
    {"log_level_replica", Kind::kString, Action::kAccept,
     "rank 0 logs progress and notes, the other ranks only errors", "warning"},
    {"full_determinism", Kind::kBool, Action::kAccept,
     "runs are deterministic already: the same seed gives the same bits, also across a resume"},
    {"average_tokens_across_devices", Kind::kBool, Action::kAccept,
     "it weighs losses by token counts, and Trainer passes BertForQuestionAnswering none: its loss "
     "is a mean over "
     "windows",
     "true"},
    {"label_smoothing_factor", Kind::kDouble, Action::kAccept,
     "Trainer smooths only inputs named labels, and BertForQuestionAnswering's are start_positions "
     "and "
     "end_positions: transformers trains the same loss"},
    {"skip_memory_metrics", Kind::kBool, Action::kAccept, "no memory metrics are reported", "true"},
    {"ddp_find_unused_parameters", Kind::kBool, Action::kAccept, kDataParallel},
    {"ddp_broadcast_buffers", Kind::kBool, Action::kAccept, kDataParallel},
    {"ddp_bucket_cap_mb", Kind::kInt, Action::kAccept, kDataParallel, "None"},
    {"ddp_backend", Kind::kString, Action::kAccept, kDataParallel},
    {"local_rank", Kind::kInt, Action::kAccept, "the ranks come from mpirun's environment", "-1"},
    // run_qa.py's own ModelArguments and DataTrainingArguments that change nothing here.
    {"token", Kind::kString, Action::kAccept, kNoDownloads},
    {"use_auth_token", Kind::kBool, Action::kAccept, kNoDownloads},
    {"trust_remote_code", Kind::kBool, Action::kAccept,
     "BERT's code is this engine's own; no remote code runs"},
    {"remove_unused_columns", Kind::kBool, Action::kAccept,
     "the windows hold only the model's inputs", "true"},
    {"logging_nan_inf_filter", Kind::kBool, Action::kAccept,
     "whichever its value, a step with a non-finite loss is skipped here (no update) and left out "
     "of the logged "
     "mean (--max_consecutive_nonfinite)",
     "true"},
    {"eval_accumulation_steps", Kind::kInt, Action::kAccept,
     "evaluation logits go to the host batch by batch", "None"},
    {"use_liger_kernel", Kind::kBool, Action::kAccept, kOwnKernels},
    {"liger_kernel_config", Kind::kString, Action::kAccept, kOwnKernels},
    {"bf16_full_eval", Kind::kBool, Action::kAccept,
     "evaluation computes as training does (--bf16)"},
    {"torch_empty_cache_steps", Kind::kInt, Action::kAccept,
     "device memory is allocated once, before training", "None"},
    {"hub_model_id", Kind::kString, Action::kAccept, kHubOnly},
    {"hub_token", Kind::kString, Action::kAccept, kHubOnly},
    {"hub_strategy", Kind::kString, Action::kAccept, kHubOnly, "every_save"},
    {"hub_revision", Kind::kString, Action::kAccept, kHubOnly},
    {"hub_private_repo", Kind::kBool, Action::kAccept, kHubOnly},
    {"hub_always_push", Kind::kBool, Action::kAccept, kHubOnly},
    {"project", Kind::kString, Action::kAccept, kTracker, "huggingface"},
    {"trackio_space_id", Kind::kString, Action::kAccept, kTracker},
    {"trackio_bucket_id", Kind::kString, Action::kAccept, kTracker},
    {"trackio_static_space_id", Kind::kString, Action::kAccept, kTracker},
    {"log_on_each_node", Kind::kBool, Action::kAccept, "rank 0 logs for the whole job", "true"},
    {"save_on_each_node", Kind::kBool, Action::kRefuse,
     "rank 0 writes the checkpoints and the model to an output_dir that every rank can read (a "
     "shared "
     "filesystem, as the resume reads them on every rank)"},
    {"push_to_hub", Kind::kBool, Action::kRefuse,
     "nothing is uploaded from here; upload output_dir afterwards (huggingface_hub: hf upload "
     "<repo_id> "
     "<output_dir>)"},
    {"deepspeed", Kind::kString, Action::kRefuse, kNoSharding},
    {"fsdp", Kind::kString, Action::kRefuse, kNoSharding},
    {"fsdp_config", Kind::kString, Action::kRefuse, kNoSharding},
    {"parallelism_config", Kind::kString, Action::kRefuse, kNoSharding},
    {"accelerator_config", Kind::kString, Action::kRefuse,
     "there is no Accelerate here: each rank trains its slice of the global batch "
     "(--per_device_train_batch_size "
     "x ranks), in the epoch's order"},
    {"optim_target_modules", Kind::kString, Action::kRefuse,
     "GaLore and APOLLO are not implemented; AdamW trains every parameter"},
    {"debug", Kind::kString, Action::kRefuse,
     "not implemented; a step with a non-finite loss or gradient norm is skipped and reported "
     "(--max_consecutive_nonfinite)"},
    {"neftune_noise_alpha", Kind::kDouble, Action::kRefuse,
     "NEFTune embedding noise is not implemented", "None"},
    {"auto_find_batch_size", Kind::kBool, Action::kRefuse,
     "not implemented: the memory check before training names a batch that does not fit; give "
     "--per_device_train_batch_size (and --gradient_accumulation_steps)"},
    {"optim_args", Kind::kString, Action::kRefuse,
     "the AdamW here takes --adam_beta1, --adam_beta2, --adam_epsilon and --weight_decay"},
    {"ignore_data_skip", Kind::kBool, Action::kRefuse,
     "a resume here always continues the data order exactly"},
    {"prediction_loss_only", Kind::kBool, Action::kRefuse,
     "run_qa's evaluation scores spans and computes no loss"},
    {"fp16_full_eval", Kind::kBool, Action::kRefuse,
     "fp16 is not implemented; evaluation computes as training does (--bf16)"},
    // transformers 4's arguments that transformers 5 removed, which older command lines carry.
    {"save_safetensors", Kind::kBool, Action::kAccept,
     "transformers 4's flag (transformers 5 removed it): the model is always saved as "
     "model.safetensors",
     "true"},
    {"include_tokens_per_second", Kind::kBool, Action::kAccept,
     "transformers 4's flag (transformers 5 removed it): the progress lines give windows/s"},
    {"include_inputs_for_metrics", Kind::kBool, Action::kAccept,
     "transformers 4's flag (transformers 5 removed it); run_qa's metric scores the post-processed "
     "answers"},
    {"split_batches", Kind::kBool, Action::kAccept,
     "transformers 4's flag (transformers 5 removed it): each rank trains its slice of the global "
     "batch"},
    {"dispatch_batches", Kind::kBool, Action::kAccept,
     "transformers 4's flag (transformers 5 removed it): each rank reads the data and takes its "
     "slice"},
    {"jit_mode_eval", Kind::kBool, Action::kAccept,
     "transformers 4's flag (transformers 5 removed it); the kernels are compiled ahead of time"},
    {"use_ipex", Kind::kBool, Action::kAccept,
     "transformers 4's flag (transformers 5 removed it); the CPU backend here is this engine's "
     "own"},
    {"fp16_opt_level", Kind::kString, Action::kAccept,
     "transformers 4's flag (transformers 5 removed it); it concerns --fp16, which is not "
     "implemented"},
    {"half_precision_backend", Kind::kString, Action::kAccept,
     "transformers 4's flag (transformers 5 removed it); --bf16 is this engine's own"},
    {"use_mps_device", Kind::kBool, Action::kRefuse,
     "transformers 4's flag (transformers 5 removed it); Apple GPUs are not supported: --device "
     "cpu or cuda"},
    {"tpu_num_cores", Kind::kInt, Action::kRefuse,
     "transformers 4's flag (transformers 5 removed it); TPUs are not supported: --device cpu or "
     "cuda"},
};

// The value as given, and whether it asks for something (true, non-zero, a non-empty text
// other than an empty JSON object or a no).
std::string value_text(const PassiveFlag& flag, const HfPassiveFlags& values, bool* asks) {
  switch (flag.kind) {
    case Kind::kBool: {
      const bool v = values.bools.at(flag.name);
      *asks = v;
      return v ? "true" : "false";
    }
    case Kind::kInt: {
      const int64_t v = values.ints.at(flag.name);
      *asks = v != 0;
      return std::to_string(v);
    }
    case Kind::kDouble: {
      const double v = values.doubles.at(flag.name);
      *asks = v != 0;
      return format_json_number(v, NonFiniteJson::kPythonNames);
    }
    case Kind::kString: {
      const std::string& v = values.strings.at(flag.name);
      *asks = !v.empty() && v != "{}" && v != "no" && v != "false" && v != "False";
      return v;
    }
  }
  return "";
}

// Every flag at transformers' default as held here (a number defaulting to None as 0): the
// values before the command line, and what a value given equal to them asks for (nothing).
const HfPassiveFlags& passive_defaults() {
  static const HfPassiveFlags defaults = [] {
    HfPassiveFlags d;
    for (const PassiveFlag& flag : kPassiveFlags) {
      const std::string hf_default = flag.hf_default == nullptr ? "" : flag.hf_default;
      const bool number = !hf_default.empty() && hf_default != "None";
      switch (flag.kind) {
        case Kind::kBool:
          d.bools[flag.name] = hf_default == "true";
          break;
        case Kind::kInt:
          d.ints[flag.name] = number ? std::stoll(hf_default) : 0;
          break;
        case Kind::kDouble:
          d.doubles[flag.name] = number ? std::stod(hf_default) : 0.0;
          break;
        case Kind::kString:
          d.strings[flag.name] = hf_default;
          break;
      }
    }
    return d;
  }();
  return defaults;
}

// Whether the flag holds transformers' default: given so (as training_args.json, an arguments
// file of every flag, gives it), it asks for nothing a note would need to answer.
bool holds_hf_default(const PassiveFlag& flag, const HfPassiveFlags& values) {
  const HfPassiveFlags& d = passive_defaults();
  switch (flag.kind) {
    case Kind::kBool:
      return values.bools.at(flag.name) == d.bools.at(flag.name);
    case Kind::kInt:
      return values.ints.at(flag.name) == d.ints.at(flag.name);
    case Kind::kDouble:
      return values.doubles.at(flag.name) == d.doubles.at(flag.name);
    case Kind::kString:
      return values.strings.at(flag.name) == d.strings.at(flag.name);
  }
  return false;
}

}  // namespace

void register_hf_passive_flags(FlagParser* p, HfPassiveFlags* values) {
  *values = passive_defaults();
  for (const PassiveFlag& flag : kPassiveFlags) {
    const std::string help =
        std::string(flag.action == Action::kAccept ? "accepted for compatibility: " : "refused: ") +
        flag.why;
    switch (flag.kind) {
      case Kind::kBool:
        p->add_bool(flag.name, &values->bools[flag.name], help);
        break;
      case Kind::kInt:
        p->add_int64(flag.name, &values->ints[flag.name], help);
        break;
      case Kind::kDouble: p->add_double(flag.name, &values->doubles[flag.name], help); break;
      case Kind::kString:
        p->add_string(flag.name, &values->strings[flag.name], help);
        break;
    }
    if (flag.hf_default != nullptr && std::string(flag.hf_default) == "None")
      p->default_is_none(flag.name);
  }
}

void resolve_hf_passive_flags(const FlagParser& parser, const HfPassiveFlags& values, std::vector<std::string>* notes) {
  for (const PassiveFlag& flag : kPassiveFlags) {
    if (!parser.was_set(flag.name)) continue;
    bool asks = false;
    const std::string given = std::string("--") + flag.name + " " + value_text(flag, values, &asks);
    if (flag.action == Action::kRefuse) {
      if (asks) throw FlagError(given + ": " + flag.why);
    } else if (!holds_hf_default(flag, values)) {
      notes->push_back(given + " changes nothing here: " + flag.why);
    }
  }
}

}  // namespace bert
