// trainer_state.json, the data fingerprint and training_state.safetensors. See training_state.h;
// the checkpoint directories (temporary names, rename, rotation) are in checkpoint_dirs.cpp.
#include "engine/training_state.h"

#include <simdjson.h>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <limits>
#include <set>

#include "core/error.h"
#include "core/file_io.h"
#include "core/json_text.h"
#include "engine/checkpoint_checksums.h"
#include "io/safetensors.h"

namespace bert {
namespace {

// AdamW's settings as the checkpoint records them (field name = the flag's): written, read
// (absent: NaN, not recorded), compared on resume and filled in, all from this one list.
struct AdamWSetting {
  const char* name;
  double TrainerState::*member;
};
constexpr AdamWSetting kAdamWSettings[] = {{"adam_beta1", &TrainerState::adam_beta1},
                                           {"adam_beta2", &TrainerState::adam_beta2},
                                           {"adam_epsilon", &TrainerState::adam_epsilon},
                                           {"weight_decay", &TrainerState::weight_decay}};

std::string format_hex64(uint64_t value) {
  char buffer[24];
  std::snprintf(buffer, sizeof buffer, "%016" PRIx64, value);
  return buffer;
}

// Reads the fields of trainer_state.json; every field is required but those added later, which
// have the value older checkpoints implied.
class StateReader {
 public:
  StateReader(const std::string& file, simdjson::dom::object object) : file_(file), object_(object) {}

  simdjson::dom::element field(const char* key) const {
    simdjson::dom::element value;
    if (object_[key].get(value)) throw_input_error(file_, key, "missing (required)");
    return value;
  }
  int64_t integer(const char* key, int64_t min, int64_t max) const {
    const simdjson::dom::element value = field(key);
    int64_t out = 0;
    if (value.type() != simdjson::dom::element_type::INT64 || value.get_int64().get(out))
      throw_input_error(file_, key, "expected an integer, found " + simdjson::minify(value));
    if (out < min || out > max)
      throw_input_error(file_, key, "expected an integer in [" + std::to_string(min) + ", " +
                                        std::to_string(max) + "], found " + std::to_string(out));
    return out;
  }
  uint64_t unsigned_integer(const char* key) const {
    const simdjson::dom::element value = field(key);
    uint64_t out = 0;
    if (value.get_uint64().get(out))
      throw_input_error(file_, key, "expected a non-negative integer, found " + simdjson::minify(value));
    return out;
  }
  double number(const char* key) const {
    double out = 0;
    const simdjson::dom::element value = field(key);
    if (value.get_double().get(out) || !std::isfinite(out))
      throw_input_error(file_, key, "expected a finite number, found " + simdjson::minify(value));
    return out;
  }
  // A field added later: false when absent.
  bool lookup(const char* key, simdjson::dom::element* value) const { return object_[key].get(*value) == simdjson::SUCCESS; }
  bool optional_boolean(const char* key, bool absent) const {
    simdjson::dom::element value;
    if (!lookup(key, &value)) return absent;
    bool out = false;
    if (value.get_bool().get(out)) throw_input_error(file_, key, "expected true or false, found " + simdjson::minify(value));
    return out;
  }
  int64_t optional_integer(const char* key, int64_t min, int64_t max, int64_t absent) const {
    simdjson::dom::element value;
    return lookup(key, &value) ? integer(key, min, max) : absent;
  }
  uint64_t optional_unsigned(const char* key, uint64_t absent) const {
    simdjson::dom::element value;
    return lookup(key, &value) ? unsigned_integer(key) : absent;
  }
  std::string optional_string(const char* key, const std::string& absent) const {
    simdjson::dom::element value;
    if (!lookup(key, &value)) return absent;
    std::string_view out;
    if (value.get_string().get(out)) throw_input_error(file_, key, "expected a string, found " + simdjson::minify(value));
    return std::string(out);
  }
  // Absent, or null where null_allowed: `absent`.
  double optional_number(const char* key, double absent, bool null_allowed = false) const {
    simdjson::dom::element value;
    if (!lookup(key, &value) || (null_allowed && value.is_null())) return absent;
    return number(key);
  }
  uint64_t hex64(const char* key) const {
    std::string_view text;
    const simdjson::dom::element value = field(key);
    if (value.get_string().get(text) || text.size() != 16 ||
        text.find_first_not_of("0123456789abcdef") != std::string_view::npos)
      throw_input_error(file_, key, "expected 16 lower-case hex digits, found " + simdjson::minify(value));
    return std::stoull(std::string(text), nullptr, 16);
  }

 private:
  std::string file_;
  simdjson::dom::object object_;
};

constexpr int64_t kMaxInt64 = std::numeric_limits<int64_t>::max();

// The epochs' order: train_sampling_strategy, or in checkpoints written before it the
// group_by_length flag (absent before that: the shuffled order).
std::string read_train_sampling(const StateReader& r, const std::string& file) {
  simdjson::dom::element value;
  if (!r.lookup("train_sampling_strategy", &value))
    return r.optional_boolean("group_by_length", false) ? "group_by_length" : "random";
  std::string_view name;
  TrainSampling sampling;
  if (value.get_string().get(name) || !parse_train_sampling(std::string(name), &sampling))
    throw_input_error(file, "train_sampling_strategy",
                      "expected \"random\", \"group_by_length\" or \"sequential\", found " + simdjson::minify(value));
  return std::string(name);
}

void fnv_bytes(uint64_t* hash, const void* data, size_t bytes) {
  const unsigned char* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < bytes; ++i) {
    *hash ^= p[i];
    *hash *= 0x100000001b3ull;
  }
}

template <typename T>
void fnv_value(uint64_t* hash, const T& value) {
  fnv_bytes(hash, &value, sizeof value);
}

template <typename T>
void fnv_vector(uint64_t* hash, const std::vector<T>& values) {
  fnv_value(hash, static_cast<uint64_t>(values.size()));
  if (!values.empty()) fnv_bytes(hash, values.data(), values.size() * sizeof(T));
}

const char* const kTensorGroups[] = {"master/", "exp_avg/", "exp_avg_sq/"};

// The three flat buffers in the order of kTensorGroups.
std::vector<Tensor> state_buffers(BertQaModel& model, AdamWOptimizer& optimizer) {
  return {model.master_params(), optimizer.exp_avg(), optimizer.exp_avg_sq()};
}

}  // namespace

std::string trainer_state_to_json(const TrainerState& s) {
  std::string out = "{\n";
  auto add = [&](const char* key, const std::string& value, bool last = false) {
    out += std::string("  \"") + key + "\": " + value + (last ? "\n" : ",\n");
  };
  add("format", "\"bert-squad trainer state\"");
  add("version", std::to_string(kTrainerStateVersion));
  add("global_step", std::to_string(s.global_step));
  add("optimizer_steps", std::to_string(s.optimizer_steps));
  add("epoch", format_json_number(s.epoch));
  add("data_epoch", std::to_string(s.data.epoch));
  add("data_index", std::to_string(s.data.index));
  add("micro_step", std::to_string(s.micro_step));
  add("skipped_updates", std::to_string(s.skipped_updates));
  add("consecutive_nonfinite", std::to_string(s.consecutive_nonfinite));
  add("interval_loss", format_json_number(s.interval_loss));
  add("interval_steps", std::to_string(s.interval_steps));
  add("total_loss", format_json_number(s.total_loss));
  add("total_loss_steps", std::to_string(s.total_loss_steps));
  add("total_flos", format_json_number(s.total_flos));
  add("best_metric", std::isnan(s.best_metric) ? "null" : format_json_number(s.best_metric));
  add("best_global_step", std::to_string(s.best_global_step));
  add("num_input_tokens_seen", std::to_string(s.num_input_tokens_seen));
  add("seed", std::to_string(s.seed));
  add("data_seed", std::to_string(s.data_seed));
  add("dataloader_drop_last", s.dataloader_drop_last ? "true" : "false");
  add("total_steps", std::to_string(s.total_steps));
  add("warmup_steps", std::to_string(s.warmup_steps));
  add("learning_rate", format_json_number(s.learning_rate));
  add("lr_scheduler_type", "\"" + s.lr_scheduler_type + "\"");
  add("lr_scheduler_kwargs", json_quote(s.lr_scheduler_kwargs));
  add("plateau_learning_rate", format_json_number(s.plateau.learning_rate));
  add("plateau_best", format_json_number(s.plateau.best));  // +-infinity (none yet): null
  add("plateau_bad_evaluations", std::to_string(s.plateau.bad_evaluations));
  add("plateau_cooldown", std::to_string(s.plateau.cooldown));
  add("plateau_evaluations", std::to_string(s.plateau.evaluations));
  for (const AdamWSetting& setting : kAdamWSettings)
    add(setting.name, format_json_number(s.*setting.member));
  add("per_device_train_batch_size", std::to_string(s.batch_size));
  add("gradient_accumulation_steps", std::to_string(s.gradient_accumulation_steps));
  add("num_windows", std::to_string(s.num_windows));
  add("data_fingerprint", "\"" + format_hex64(s.data_fingerprint) + "\"");
  add("train_sampling_strategy", "\"" + s.train_sampling_strategy + "\"", true);
  return out + "}\n";
}

TrainerState parse_trainer_state(const std::string& json, const std::string& file) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (const auto error = parser.parse(simdjson::padded_string(json)).get(root))
    throw_input_error(file, "", std::string("not valid JSON: ") + simdjson::error_message(error));
  simdjson::dom::object object;
  if (root.get_object().get(object)) throw_input_error(file, "", "expected a JSON object");
  const StateReader r(file, object);
  std::string_view format;
  if (r.field("format").get_string().get(format) || format != "bert-squad trainer state")
    throw_input_error(file, "format", "expected \"bert-squad trainer state\"");
  const int64_t version = r.integer("version", 0, kMaxInt64);
  if (version != kTrainerStateVersion && version != 1)
    throw_input_error(file, "version", "expected 1 or " + std::to_string(kTrainerStateVersion) + ", found " +
                                           std::to_string(version) + " (written by another version)");
  TrainerState s;
  s.global_step = r.integer("global_step", 0, kMaxInt64);
  s.optimizer_steps = r.integer("optimizer_steps", 0, s.global_step);
  s.epoch = r.number("epoch");
  s.data.epoch = r.integer("data_epoch", 0, kMaxInt64);
  s.data.index = r.integer("data_index", 0, kMaxInt64);
  s.micro_step = static_cast<uint32_t>(r.integer("micro_step", 0, std::numeric_limits<uint32_t>::max()));
  s.skipped_updates = r.integer("skipped_updates", 0, s.global_step);
  s.consecutive_nonfinite = r.integer("consecutive_nonfinite", 0, s.skipped_updates);
  s.interval_loss = r.number("interval_loss");
  s.interval_steps = r.integer("interval_steps", 0, s.global_step);
  if (version >= 2) {
    s.total_loss = r.number("total_loss");
    s.total_loss_steps = r.integer("total_loss_steps", -1, s.global_step);
    std::string_view schedule;
    if (r.field("lr_scheduler_type").get_string().get(schedule))
      throw_input_error(file, "lr_scheduler_type", "expected a string");
    s.lr_scheduler_type = std::string(schedule);
  } else {
    s.total_loss_steps = -1;
    s.lr_scheduler_type = "linear";
  }
  s.lr_scheduler_kwargs = r.optional_string("lr_scheduler_kwargs", "{}");
  s.plateau.learning_rate = r.optional_number("plateau_learning_rate", 0.0);
  s.plateau.best = r.optional_number("plateau_best", std::numeric_limits<double>::quiet_NaN(), /*null_allowed=*/true);
  s.plateau.bad_evaluations = r.optional_integer("plateau_bad_evaluations", 0, kMaxInt64, 0);
  s.plateau.cooldown = r.optional_integer("plateau_cooldown", 0, kMaxInt64, 0);
  s.plateau.evaluations = r.optional_integer("plateau_evaluations", 0, kMaxInt64, 0);
  s.seed = r.unsigned_integer("seed");
  s.data_seed = r.optional_unsigned("data_seed", s.seed);
  s.dataloader_drop_last = r.optional_boolean("dataloader_drop_last", false);
  s.total_steps = r.integer("total_steps", 1, kMaxInt64);
  s.warmup_steps = r.integer("warmup_steps", 0, kMaxInt64);
  s.learning_rate = r.number("learning_rate");
  for (const AdamWSetting& setting : kAdamWSettings)
    s.*setting.member = r.optional_number(setting.name, std::numeric_limits<double>::quiet_NaN());
  s.batch_size = static_cast<int32_t>(r.integer("per_device_train_batch_size", 1, std::numeric_limits<int32_t>::max()));
  s.gradient_accumulation_steps =
      static_cast<int32_t>(r.integer("gradient_accumulation_steps", 1, std::numeric_limits<int32_t>::max()));
  s.num_windows = static_cast<uint64_t>(r.integer("num_windows", 1, kMaxInt64));
  s.data_fingerprint = r.hex64("data_fingerprint");
  s.train_sampling_strategy = read_train_sampling(r, file);
  s.total_flos = r.optional_number("total_flos", 0.0);
  s.best_global_step = r.optional_integer("best_global_step", 0, s.global_step, 0);
  s.best_metric = r.optional_number("best_metric", s.best_metric, /*null_allowed=*/true);
  s.num_input_tokens_seen = r.optional_integer("num_input_tokens_seen", 0, kMaxInt64, 0);
  if (s.global_step > s.total_steps)
    throw_input_error(file, "global_step", std::to_string(s.global_step) + " exceeds total_steps " +
                                               std::to_string(s.total_steps));
  if (static_cast<uint64_t>(s.data.index) > s.num_windows)
    throw_input_error(file, "data_index", std::to_string(s.data.index) + " exceeds num_windows " +
                                              std::to_string(s.num_windows));
  return s;
}

void check_resume_compatible(const TrainerState& checkpoint, const TrainerState& run, const std::string& source) {
  auto refuse = [&](const char* field, const std::string& saved, const std::string& now,
                    const std::string& hint) {
    throw_input_error(source, field,
                      "the checkpoint was trained with " + saved + " but this run has " + now +
                          "; resuming would not continue the same run (" + hint +
                          ", or start afresh with --overwrite_output_dir)");
  };
  const char* same_data = "give the same --train_file, --max_train_samples, --max_seq_length, --doc_stride, "
                          "vocabulary and --do_lower_case";
  if (checkpoint.num_windows != run.num_windows)
    refuse("num_windows", std::to_string(checkpoint.num_windows) + " training windows",
           std::to_string(run.num_windows), same_data);
  if (checkpoint.data_fingerprint != run.data_fingerprint)
    refuse("data_fingerprint", "windows with fingerprint " + format_hex64(checkpoint.data_fingerprint),
           format_hex64(run.data_fingerprint), same_data);
  if (checkpoint.train_sampling_strategy != run.train_sampling_strategy)
    refuse("train_sampling_strategy", "--train_sampling_strategy " + checkpoint.train_sampling_strategy,
           run.train_sampling_strategy,
           "give the same --train_sampling_strategy (group_by_length: also --group_by_length)");
  if (checkpoint.seed != run.seed)
    refuse("seed", "--seed " + std::to_string(checkpoint.seed), std::to_string(run.seed), "give the same --seed");
  if (checkpoint.dataloader_drop_last != run.dataloader_drop_last)
    refuse("dataloader_drop_last", checkpoint.dataloader_drop_last ? "--dataloader_drop_last" : "every batch",
           run.dataloader_drop_last ? "--dataloader_drop_last" : "every batch", "give the same --dataloader_drop_last");
  if (checkpoint.data_seed != run.data_seed)
    refuse("data_seed", "--data_seed " + std::to_string(checkpoint.data_seed), std::to_string(run.data_seed),
           "give the same --data_seed (without it, the data order follows --seed)");
  if (checkpoint.batch_size != run.batch_size)  // both global: per-device batch x ranks
    refuse("per_device_train_batch_size",
           "a global batch of " + std::to_string(checkpoint.batch_size) +
               " windows (--per_device_train_batch_size x ranks)",
           std::to_string(run.batch_size),
           "give a --per_device_train_batch_size and a number of ranks whose product is " +
               std::to_string(checkpoint.batch_size));
  if (checkpoint.gradient_accumulation_steps != run.gradient_accumulation_steps)
    refuse("gradient_accumulation_steps", std::to_string(checkpoint.gradient_accumulation_steps),
           std::to_string(run.gradient_accumulation_steps), "give the same --gradient_accumulation_steps");
  const char* same_schedule = "give the same --max_steps / --num_train_epochs, --warmup_* and --learning_rate";
  if (checkpoint.total_steps != run.total_steps)
    refuse("total_steps", std::to_string(checkpoint.total_steps) + " total steps",
           std::to_string(run.total_steps), same_schedule);
  if (checkpoint.warmup_steps != run.warmup_steps)
    refuse("warmup_steps", std::to_string(checkpoint.warmup_steps) + " warmup steps",
           std::to_string(run.warmup_steps), same_schedule);
  if (checkpoint.learning_rate != run.learning_rate)
    refuse("learning_rate", format_json_number(checkpoint.learning_rate),
           format_json_number(run.learning_rate), same_schedule);
  for (const AdamWSetting& setting : kAdamWSettings) {
    const char* field = setting.name;
    const double saved = checkpoint.*setting.member, now = run.*setting.member;
    if (!std::isnan(saved) && saved != now)
      refuse(field, std::string("--") + field + " " + format_json_number(saved),
             format_json_number(now),
             std::string("give the same --") + field +
                 " (transformers restores AdamW's settings from the checkpoint, whatever the flags "
                 "say)");
  }
  if (checkpoint.lr_scheduler_type != run.lr_scheduler_type)
    refuse("lr_scheduler_type", "--lr_scheduler_type " + checkpoint.lr_scheduler_type, run.lr_scheduler_type,
           "give the same --lr_scheduler_type");
  if (checkpoint.lr_scheduler_kwargs != run.lr_scheduler_kwargs)
    refuse("lr_scheduler_kwargs", "--lr_scheduler_kwargs " + checkpoint.lr_scheduler_kwargs, run.lr_scheduler_kwargs,
           "give the same --lr_scheduler_kwargs");
}

void record_unrecorded_settings(TrainerState* checkpoint, const TrainerState& run) {
  for (const AdamWSetting& setting : kAdamWSettings)
    if (std::isnan(checkpoint->*setting.member)) checkpoint->*setting.member = run.*setting.member;
}

uint64_t windows_fingerprint(const std::vector<Window>& windows) {
  uint64_t hash = 0xcbf29ce484222325ull;
  fnv_value(&hash, static_cast<uint64_t>(windows.size()));
  for (const Window& w : windows) {
    fnv_value(&hash, w.example_index);
    fnv_vector(&hash, w.input_ids);
    fnv_vector(&hash, w.token_type_ids);
    fnv_value(&hash, w.start_position);
    fnv_value(&hash, w.end_position);
  }
  return hash;
}

NonFiniteParameter find_nonfinite_parameter(BertQaModel& model) {
  // Before every checkpoint: fp32 master weights are read as floats into one reused buffer (no
  // double staging, no allocation per tensor); the cpu-double oracle's are read as doubles.
  const bool floats = model.master_params().dtype == ScalarType::kF32;
  std::vector<float> values;
  for (const ParamSlot& slot : model.layout().slots()) {
    const Tensor part = slice(model.master_params(), slot.offset, slot.numel);
    size_t bad = 0;
    if (floats) {
      values.resize(slot.numel);
      model.backend().download_f32(part, values.data());
      bad = static_cast<size_t>(
          std::count_if(values.begin(), values.end(), [](float v) { return !std::isfinite(v); }));
    } else {
      const std::vector<double> exact = model.backend().download(part);
      bad = static_cast<size_t>(
          std::count_if(exact.begin(), exact.end(), [](double v) { return !std::isfinite(v); }));
    }
    if (bad > 0) return {slot.name, bad};
  }
  return {};
}

void check_checkpointable(Backend& backend) {
  if (backend.dtype_for(BufferRole::kMasterParam) != ScalarType::kF32 ||
      backend.dtype_for(BufferRole::kOptimizerState) != ScalarType::kF32)
    throw BertError("checkpoints store fp32 master weights and Adam moments, but the " + backend.name() +
                    " backend keeps them in " + scalar_name(backend.dtype_for(BufferRole::kMasterParam)) +
                    " (use --save_steps 0 with it)");
}

void capture_training_tensors(BertQaModel& model, AdamWOptimizer& optimizer, bool with_moments,
                              TrainingTensors* out) {
  check_checkpointable(model.backend());
  out->slots = model.layout().slots();
  const std::vector<Tensor> buffers = state_buffers(model, optimizer);
  std::vector<float>* copies[] = {&out->master, &out->exp_avg, &out->exp_avg_sq};
  for (size_t group = 0; group < buffers.size(); ++group) {
    if (group > 0 && !with_moments) {
      copies[group]->clear();  // keeps the memory for the next capture with moments
      continue;
    }
    copies[group]->resize(buffers[group].numel);
    model.backend().download_f32(buffers[group], copies[group]->data());
  }
}

TrainingTensors capture_training_tensors(BertQaModel& model, AdamWOptimizer& optimizer,
                                         bool with_moments) {
  TrainingTensors out;
  capture_training_tensors(model, optimizer, with_moments, &out);
  return out;
}

std::map<std::string, std::vector<float>> TrainingTensors::master_by_name() const {
  std::map<std::string, std::vector<float>> out;
  for (const ParamSlot& slot : slots)
    out[slot.name].assign(master.begin() + slot.offset, master.begin() + slot.offset + slot.numel);
  return out;
}

void write_training_tensors(const std::string& path, const TrainingTensors& tensors) {
  const std::vector<float>* groups[] = {&tensors.master, &tensors.exp_avg, &tensors.exp_avg_sq};
  std::vector<TensorToWrite> views;
  views.reserve(std::size(groups) * tensors.slots.size());
  for (size_t group = 0; group < std::size(groups); ++group) {
    BERT_CHECK(!groups[group]->empty(), "write_training_tensors: the moments were not captured");
    for (const ParamSlot& slot : tensors.slots)
      views.push_back({kTensorGroups[group] + slot.name, slot.shape,
                       groups[group]->data() + slot.offset, Dtype::kF32});
  }
  // The update count is trainer_state.json's (optimizer_steps); it is not repeated here.
  write_safetensors(path, views, {{"format", "bert-squad training state"}});
}

void write_training_tensors(const std::string& path, BertQaModel& model,
                            AdamWOptimizer& optimizer) {
  write_training_tensors(path, capture_training_tensors(model, optimizer));
}

void read_training_tensors(const std::string& path, BertQaModel& model, AdamWOptimizer& optimizer) {
  check_checkpointable(model.backend());
  const SafetensorsFile file = SafetensorsFile::open(path);
  const std::vector<Tensor> buffers = state_buffers(model, optimizer);
  model.backend().join_side_updates();  // an update still running beside would overwrite these
  const std::vector<ParamSlot>& slots = model.layout().slots();
  std::set<std::string> expected;
  for (const char* group : kTensorGroups)
    for (const ParamSlot& slot : slots) expected.insert(group + slot.name);
  for (const std::string& name : file.names())
    if (!expected.count(name))
      throw_input_error(path, "tensor \"" + name + "\"",
                        "not a parameter of this model's configuration (expected master/, exp_avg/ and "
                        "exp_avg_sq/ entries for the " + std::to_string(slots.size()) + " parameters)");
  for (size_t group = 0; group < buffers.size(); ++group) {
    for (const ParamSlot& slot : slots) {
      const std::string name = kTensorGroups[group] + slot.name;
      const TensorInfo& info = file.info(name);  // InputError naming the tensor when missing
      if (info.dtype != Dtype::kF32)
        throw_input_error(path, "tensor \"" + name + "\"",
                          std::string("expected dtype F32, found ") + dtype_name(info.dtype));
      if (info.shape != slot.shape)
        throw_input_error(path, "tensor \"" + name + "\"",
                          "shape " + shape_to_string(info.shape) + " does not match " +
                              shape_to_string(slot.shape) + " from config.json");
      const std::vector<float> values = to_float32(file.view(name));
      const size_t bad = static_cast<size_t>(
          std::count_if(values.begin(), values.end(), [](float v) { return !std::isfinite(v); }));
      if (bad > 0)
        throw_input_error(path, "tensor \"" + name + "\"",
                          "holds " + std::to_string(bad) + " non-finite values (NaN or infinity): training "
                          "cannot continue from it; resume from an earlier checkpoint");
      model.backend().upload(slice(buffers[group], slot.offset, slot.numel), values.data(), slot.numel);
    }
  }
  model.refresh_working_params();
}

namespace {

// A checkpoint Hugging Face's Trainer saved: its optimizer, scheduler and RNG state in PyTorch
// pickles, and a trainer_state.json of its own (log_history, no "format"; state_text, "" when
// the directory has none).
bool is_transformers_checkpoint(const std::string& dir, const std::string& state_text) {
  for (const char* name : {"optimizer.pt", "scheduler.pt", "rng_state.pth", "training_args.bin"})
    if (path_exists(join_path(dir, name))) return true;
  // Ours hold a trainer_state.json in Hugging Face's format too, but always with checksums.json.
  return state_text.find("\"log_history\"") != std::string::npos &&
         state_text.find("\"format\"") == std::string::npos &&
         !path_exists(join_path(dir, kChecksumsFile));
}

// This engine's TrainerState as a checkpoint written before 2026-12-07 held it, under
// Hugging Face's file name.
bool holds_engine_state(const std::string& text) {
  return text.find("\"format\": \"bert-squad trainer state\"") != std::string::npos;
}

// The names checksums.json lists (its text searched for "name"); "" when it is absent or
// unreadable.
std::string checksum_listing(const std::string& checkpoint_dir) {
  try {
    const std::string checksums = join_path(checkpoint_dir, kChecksumsFile);
    return path_exists(checksums) ? read_file(checksums) : std::string();
  } catch (const std::exception&) {
    return "";  // unreadable: judged by the files alone
  }
}

bool lists(const std::string& listing, const char* name) {
  return listing.find(std::string("\"") + name + "\"") != std::string::npos;
}

}  // namespace

std::string engine_state_file(const std::string& checkpoint_dir) {
  const std::string current = join_path(checkpoint_dir, kEngineStateFile);
  if (path_exists(current)) return current;
  const std::string legacy = join_path(checkpoint_dir, kTrainerStateFile);
  try {
    if (path_exists(legacy) && holds_engine_state(read_file(legacy))) return legacy;
  } catch (const std::exception&) {
    // unreadable: judged by checksums.json below
  }
  // A checkpoint written before 2026-12-07 with training state whose trainer_state.json is gone
  // or damaged: that file is its state, so the errors name it.
  const std::string listing = checksum_listing(checkpoint_dir);
  if (lists(listing, kTrainerStateFile) && lists(listing, kTrainingTensorsFile) &&
      !lists(listing, kEngineStateFile))
    return legacy;
  return "";
}

bool checkpoint_written_with_state(const std::string& checkpoint_dir) {
  if (!engine_state_file(checkpoint_dir).empty() ||
      path_exists(join_path(checkpoint_dir, kTrainingTensorsFile)))
    return true;
  const std::string listing = checksum_listing(checkpoint_dir);
  return lists(listing, kEngineStateFile) || lists(listing, kTrainingTensorsFile);
}

TrainerState read_trainer_state(const std::string& checkpoint_dir) {
  if (!path_exists(checkpoint_dir)) throw_input_error(checkpoint_dir, "", "checkpoint directory does not exist");
  const std::string found = engine_state_file(checkpoint_dir);
  const bool has_state = !found.empty() && path_exists(found);
  const std::string path = found.empty() ? join_path(checkpoint_dir, kEngineStateFile) : found;
  const std::string text = has_state ? read_file(path) : std::string();
  const std::string hf_state = join_path(checkpoint_dir, kTrainerStateFile);
  if (!has_state &&
      is_transformers_checkpoint(checkpoint_dir, path_exists(hf_state) ? read_file(hf_state) : ""))
    throw_input_error(checkpoint_dir, "", "a checkpoint of Hugging Face's Trainer (optimizer.pt, scheduler.pt, its "
                                          "own trainer_state.json): its optimizer and scheduler state are PyTorch "
                                          "pickles this engine does not read, so it cannot be resumed here; to "
                                          "fine-tune on from its weights (new optimizer and schedule), give it as "
                                          "--model_name_or_path");
  if (!has_state && checkpoint_written_with_state(checkpoint_dir))
    throw_input_error(
        path, "",
        "missing, though the checkpoint was written with it (its " + std::string(kChecksumsFile) +
            " or " + kTrainingTensorsFile +
            " says so): the checkpoint is damaged; move it out of the way to resume from "
            "an older one");
  if (!has_state)
    throw_input_error(path, "", "missing: not a checkpoint with training state (saved with --save_only_model "
                                "or by an older version, or not a checkpoint-N directory); it cannot be resumed: "
                                "start afresh, or from its weights with --model_name_or_path");
  // Before its text is parsed.
  verify_checkpoint_checksums(checkpoint_dir, {std::filesystem::path(path).filename().string()});
  return parse_trainer_state(text, path);
}

TrainerState load_checkpoint(const std::string& dir, BertQaModel& model, AdamWOptimizer& optimizer) {
  // The state first: it refuses what is no checkpoint of ours (and verifies its own checksum).
  const TrainerState state = read_trainer_state(dir);
  verify_checkpoint_checksums(dir);  // every file, before the tensors are used
  const std::string tensors = join_path(dir, kTrainingTensorsFile);
  if (!path_exists(tensors)) throw_input_error(tensors, "", "missing (required to resume)");
  read_training_tensors(tensors, model, optimizer);
  optimizer.set_steps_done(state.optimizer_steps);
  return state;
}

}  // namespace bert
