// Model directory loading and saving. See model_dir.h.
#include "io/model_dir.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "core/error.h"
#include "core/file_io.h"
#include "core/strings.h"
#include "io/checkpoint_tensors.h"
#include "io/safetensors.h"

namespace bert {
namespace {

// Tensors of HF BERT checkpoints that a QA model has no use for.
bool is_known_unused(const std::string& canonical) {
  return starts_with(canonical, "bert.pooler.") || starts_with(canonical, "cls.") ||
         canonical == "bert.embeddings.position_ids" ||
         canonical == "bert.embeddings.token_type_ids";
}

bool is_qa_head(const std::string& name) { return starts_with(name, "qa_outputs."); }

// Lines as read_lines counts them: a last line without '\n' counts too.
int64_t count_lines(const std::string& text) {
  int64_t lines = 0;
  for (char c : text) lines += c == '\n';
  if (!text.empty() && text.back() != '\n') ++lines;
  return lines;
}

// A vocab.txt may be shorter than the word embeddings (padded rows), never longer.
void check_vocab_lines(const std::string& vocab_path, int64_t lines, int64_t vocab_size, const std::string& config_says) {
  if (lines > vocab_size)
    throw_input_error(vocab_path, "",
                      "has " + std::to_string(lines) + " lines but " + config_says + " vocab_size " +
                          std::to_string(vocab_size) + ": token ids would fall outside the word embeddings");
}

// Chooses which file tensor provides each canonical parameter; notes renames and leftovers.
std::map<std::string, std::string> match_tensors(const CheckpointTensors& file,
                                                 const std::vector<ParamSpec>& specs,
                                                 std::vector<std::string>* notes,
                                                 std::vector<std::string>* unexpected_names) {
  std::set<std::string> wanted;
  for (const ParamSpec& spec : specs) wanted.insert(spec.name);
  std::map<std::string, std::string> source;  // canonical -> name in the file
  std::vector<std::string> unused, unexpected;
  size_t prefixed = 0, layer_norm_renamed = 0;
  for (const std::string& name : file.names()) {
    const std::string canonical = canonical_param_name(name);
    if (wanted.count(canonical)) {
      auto [it, inserted] = source.emplace(canonical, name);
      if (!inserted)
        throw_input_error(file.path(), "tensor \"" + name + "\"",
                          "duplicates tensor \"" + it->second + "\" (both name \"" + canonical + "\")");
      if (!starts_with(name, "bert.") && starts_with(canonical, "bert.")) ++prefixed;
      if (ends_with(name, ".gamma") || ends_with(name, ".beta")) ++layer_norm_renamed;
    } else if (is_known_unused(canonical)) {
      unused.push_back(name);
    } else {
      unexpected.push_back(name);
    }
  }
  if (prefixed) notes->push_back("added the \"bert.\" prefix to " + std::to_string(prefixed) +
                                 " tensor names from " + file.path());
  if (layer_norm_renamed)
    notes->push_back("renamed " + std::to_string(layer_norm_renamed) +
                     " LayerNorm gamma/beta tensors to weight/bias");
  if (!unused.empty())
    notes->push_back("ignored " + std::to_string(unused.size()) +
                     " tensors a QA model does not use: " + joined(unused));
  if (!unexpected.empty())
    notes->push_back("ignored " + std::to_string(unexpected.size()) +
                     " unexpected tensors (not part of BertForQuestionAnswering for this config): " +
                     joined(unexpected));
  *unexpected_names = unexpected;
  return source;
}

// Why nothing or too little matched, for the "missing" error: what the file holds instead.
std::string describe_unmatched(const CheckpointTensors& file, size_t matched,
                               const std::vector<std::string>& unexpected) {
  std::string out;
  if (matched == 0) {
    const size_t total = file.names().size();
    out = "; none of the checkpoint's " + std::to_string(total) + " tensors is a BERT parameter";
  }
  if (!unexpected.empty()) {
    std::vector<std::string> sample(unexpected.begin(), unexpected.begin() + std::min<size_t>(4, unexpected.size()));
    out += "; tensors it holds that no BERT parameter is named like: " + joined(sample) +
           (unexpected.size() > sample.size() ? ", ..." : "") +
           " (names are expected as \"bert.embeddings.word_embeddings.weight\" or without \"bert.\")";
  }
  const std::string format = file.format();
  if (!format.empty() && format != "pt")
    out += "; its metadata says format \"" + format + "\": a PyTorch checkpoint (\"pt\") is expected, "
           "e.g. BertForQuestionAnswering.from_pretrained(dir, from_" + format + "=True).save_pretrained(dir)";
  return out;
}

void load_weights(const CheckpointTensors& file, uint64_t seed, LoadedModel* model) {
  const std::string& path = file.path();
  const std::vector<ParamSpec> specs = bert_qa_param_specs(model->config);
  std::vector<std::string> unexpected;
  const std::map<std::string, std::string> source = match_tensors(file, specs, &model->notes, &unexpected);

  std::vector<std::string> missing;
  for (const ParamSpec& spec : specs)
    if (!source.count(spec.name) && !is_qa_head(spec.name)) missing.push_back(spec.name);
  if (!missing.empty())
    throw_input_error(path, "", "missing " + std::to_string(missing.size()) +
                                    " tensors that config.json requires (accepted with or "
                                    "without the \"bert.\" prefix): " + joined(missing) +
                                    describe_unmatched(file, source.size(), unexpected));

  std::map<std::string, size_t> converted;  // dtype name -> tensor count
  std::vector<std::string> initialised;
  for (const ParamSpec& spec : specs) {
    auto it = source.find(spec.name);
    if (it == source.end()) {
      model->tensors[spec.name] = init_param(spec, model->config.initializer_range, seed);
      initialised.push_back(spec.name);
      continue;
    }
    const TensorInfo& info = file.info(it->second);
    if (info.shape != spec.shape)
      throw_input_error(file.file_of(it->second), "tensor \"" + it->second + "\"",
                        "shape " + shape_to_string(info.shape) + " does not match " +
                            shape_to_string(spec.shape) + " expected for \"" + spec.name +
                            "\" from config.json");
    if (info.dtype != Dtype::kF32) ++converted[dtype_name(info.dtype)];
    std::vector<float>& values = model->tensors[spec.name] =
        file.read_f32(it->second);  // InputError for non-float dtypes
    // A NaN or an infinity would only surface later, as non-finite losses or logits.
    const size_t bad = static_cast<size_t>(
        std::count_if(values.begin(), values.end(), [](float v) { return !std::isfinite(v); }));
    if (bad > 0)
      throw_input_error(file.file_of(it->second), "tensor \"" + it->second + "\"",
                        "holds " + std::to_string(bad) +
                            " non-finite values (NaN or infinity) of " +
                            std::to_string(values.size()) +
                            ": the weights are damaged or come from a run that diverged");
  }
  for (const auto& [dtype, count] : converted)
    model->notes.push_back("converted " + std::to_string(count) + " " + dtype +
                           " tensors to float32");
  if (file.file_count() > 1)
    model->notes.push_back("read " + std::to_string(file.file_count()) + " shards listed in " + path);
  if (!initialised.empty()) {
    // A head whose weight was there and only its bias missing is the trained head with bias 0
    // (what transformers makes of it too), not a random one.
    const auto drawn = [&](const char* suffix) {
      return std::any_of(initialised.begin(), initialised.end(),
                         [&](const std::string& name) { return ends_with(name, suffix); });
    };
    const bool weight_drawn = drawn(".weight"), bias_zero = drawn(".bias");
    model->qa_head_initialised = weight_drawn;
    // Each missing tensor says what it became; one that was there is kept as it is.
    std::string made;
    if (weight_drawn) made = "weight N(0, initializer_range), seed " + std::to_string(seed);
    if (bias_zero) made += std::string(made.empty() ? "" : ", ") + "bias 0";
    model->notes.push_back("initialised " + joined(initialised) + " (not in " + path +
                           "): " + made +
                           (weight_drawn && !bias_zero ? "; its qa_outputs.bias is kept" : ""));
  }
}

}  // namespace

std::string canonical_param_name(const std::string& name) {
  std::string out = name;
  if (starts_with(out, "embeddings.") || starts_with(out, "encoder.") || starts_with(out, "pooler."))
    out = "bert." + out;
  if (out.find("LayerNorm.") != std::string::npos) {
    if (ends_with(out, ".gamma")) out = out.substr(0, out.size() - 6) + ".weight";
    else if (ends_with(out, ".beta")) out = out.substr(0, out.size() - 5) + ".bias";
  }
  return out;
}

int64_t count_vocab_lines(const std::string& path) {
  return count_lines(read_file(path));
}

namespace {
constexpr const char* kSentencePieceNames[] = {"spiece.model", "sentencepiece.bpe.model", "tokenizer.model"};
}  // namespace

std::string vocab_file_in(const std::string& dir) {
  if (path_exists(join_path(dir, "vocab.txt"))) return join_path(dir, "vocab.txt");
  for (const char* name : kSentencePieceNames)
    if (path_exists(join_path(dir, name))) return join_path(dir, name);
  if (path_exists(join_path(dir, "tokenizer.json"))) return join_path(dir, "tokenizer.json");
  return "";
}

std::string find_vocab_file(const std::string& dir) {
  const std::string found = vocab_file_in(dir);
  if (!found.empty()) return found;
  throw_input_error(join_path(dir, "vocab.txt"), "",
                    "missing (required), and no SentencePiece model (spiece.model, "
                    "sentencepiece.bpe.model or tokenizer.model) or tokenizer.json either");
}

bool is_saved_model_file_name(const std::string& name) {
  if (name == "config.json" || name == "model.safetensors" || name == "tokenizer_config.json" ||
      name == "vocab.txt" || name == "tokenizer.json")
    return true;
  return std::any_of(std::begin(kSentencePieceNames), std::end(kSentencePieceNames),
                     [&](const char* known) { return name == known; });
}

bool is_wordpiece_vocab(const std::string& vocab_path) {
  return std::filesystem::path(vocab_path).extension() != ".model";
}

bool is_vocab_txt(const std::string& vocab_path) {
  return is_wordpiece_vocab(vocab_path) && std::filesystem::path(vocab_path).filename() != "tokenizer.json";
}

void check_tokenizer_fits(int64_t tokenizer_vocab_size, const BertConfig& config, const std::string& vocab_path) {
  if (tokenizer_vocab_size > config.vocab_size)
    throw_input_error(vocab_path, "",
                      "has " + std::to_string(tokenizer_vocab_size) + " tokens but the model's config.json says "
                      "vocab_size " + std::to_string(config.vocab_size) + ": token ids would fall outside the "
                      "word embeddings");
}

LoadedModel load_model_dir(const std::string& dir, uint64_t seed) {
  const std::string config_path = join_path(dir, "config.json");
  if (!path_exists(dir)) throw_input_error(dir, "", "model directory does not exist");
  if (!path_exists(config_path)) throw_input_error(config_path, "", "missing (required)");
  const std::string vocab_path = find_vocab_file(dir);

  LoadedModel model;
  model.vocab_file = vocab_path;
  model.config = read_bert_config(config_path);
  // The float32 copy of every parameter made below must fit before any of it is allocated.
  check_config_fits_memory(model.config, config_path, 4.0, double(physical_memory_bytes()));
  if (is_vocab_txt(vocab_path)) {
    const int64_t vocab_lines = count_vocab_lines(vocab_path);
    check_vocab_lines(vocab_path, vocab_lines, model.config.vocab_size, config_path + " says");
    if (vocab_lines < model.config.vocab_size)
      model.notes.push_back(vocab_path + " has " + std::to_string(vocab_lines) + " tokens, config.json's vocab_size is " +
                            std::to_string(model.config.vocab_size) + ": the last " +
                            std::to_string(model.config.vocab_size - vocab_lines) +
                            " rows of the word embeddings are never looked up (padding, as transformers allows)");
  }

  const std::string checkpoint = find_checkpoint(dir);
  if (ends_with(checkpoint, ".index.json")) {
    load_weights(CheckpointTensors::from_index(checkpoint), seed, &model);
    return model;
  }
  if (!checkpoint.empty()) {
    load_weights(CheckpointTensors::from_file(checkpoint), seed, &model);
    return model;
  }
  // No checkpoint this engine reads. Weights in another form must not be mistaken for a
  // config-only directory (which trains from random weights).
  const std::vector<std::string> others = unreadable_weight_files(dir);
  if (!others.empty())
    throw_input_error(join_path(dir, others.front()), "",
                      "the directory has no model.safetensors, pytorch_model.bin (nor their .index.json) but holds " +
                          joined(others) +
                          ", a form of weights not supported here: this engine reads the checkpoints save_pretrained "
                          "writes (safetensors, or torch.save's pytorch_model.bin); convert with e.g. "
                          "BertForQuestionAnswering.from_pretrained(dir).save_pretrained(dir) in Python, or rename a "
                          "single BERT safetensors file to model.safetensors");
  model.tensors = init_bert_qa_params(model.config, seed);
  model.random_init = true;
  model.notes.push_back("no model.safetensors or pytorch_model.bin in " + dir + ": all " +
                        std::to_string(model.tensors.size()) +
                        " parameters randomly initialised (weights N(0, initializer_range), "
                        "LayerNorm 1/0, biases 0) with seed " + std::to_string(seed));
  return model;
}

void save_model_dir(const std::string& dir, const BertConfig& config,
                    const std::map<std::string, std::vector<float>>& tensors,
                    const std::string& vocab_path, const SavedTokenizer& tokenizer) {
  const std::string config_json = bert_config_to_json(config);  // validates the config
  const std::vector<ParamSpec> specs = bert_qa_param_specs(config);
  std::vector<TensorToWrite> to_write;
  for (const ParamSpec& spec : specs) {
    auto it = tensors.find(spec.name);
    if (it == tensors.end()) throw BertError(dir + ": cannot save: tensor \"" + spec.name + "\" missing");
    if (static_cast<int64_t>(it->second.size()) != spec.numel())
      throw BertError(dir + ": cannot save: tensor \"" + spec.name + "\" has " +
                      std::to_string(it->second.size()) + " values, shape " +
                      shape_to_string(spec.shape) + " needs " + std::to_string(spec.numel()));
    to_write.push_back({spec.name, spec.shape, it->second.data(), Dtype::kF32});
  }
  if (tensors.size() != specs.size()) {
    std::set<std::string> known;
    for (const ParamSpec& spec : specs) known.insert(spec.name);
    std::vector<std::string> extra;
    for (const auto& entry : tensors)
      if (!known.count(entry.first)) extra.push_back(entry.first);
    throw BertError(dir + ": cannot save: tensors not in BertForQuestionAnswering: " +
                    joined(extra));
  }
  const std::string vocab = read_file(vocab_path);
  const bool wordpiece = is_wordpiece_vocab(vocab_path);
  if (is_vocab_txt(vocab_path)) check_vocab_lines(vocab_path, count_lines(vocab), config.vocab_size, "the config to save says");

  make_directories(dir);
  // Every file is written before any is renamed into place, config.json last: a save that fails
  // (disk full, ulimit -f) never leaves a config.json that a later run would load without its
  // weights (and so initialise randomly).
  StagedFiles staged;
  write_safetensors(staged.staged_path(join_path(dir, "model.safetensors")), to_write, {{"format", "pt"}});
  const std::string vocab_name =
      is_vocab_txt(vocab_path) ? "vocab.txt" : std::filesystem::path(vocab_path).filename().string();
  write_file_atomic(staged.staged_path(join_path(dir, vocab_name)), vocab);
  // The class the tokenizers here follow: BertTokenizer, or for a SentencePiece model
  // AlbertTokenizer with its keep_accents (what read_tokenizer_config reads back).
  const std::string tokenizer_config =
      std::string("{\n  \"do_lower_case\": ") + (tokenizer.do_lower_case ? "true" : "false") +
      (wordpiece
           ? ""
           : std::string(",\n  \"keep_accents\": ") + (tokenizer.keep_accents ? "true" : "false")) +
      ",\n  \"model_max_length\": " +
      std::to_string(tokenizer.model_max_length > 0 ? tokenizer.model_max_length
                                                    : config.max_position_embeddings) +
      ",\n  \"tokenizer_class\": " + (wordpiece ? "\"BertTokenizer\"" : "\"AlbertTokenizer\"") +
      "\n}\n";
  write_file_atomic(staged.staged_path(join_path(dir, "tokenizer_config.json")), tokenizer_config);
  write_file_atomic(staged.staged_path(join_path(dir, "config.json")), config_json);
  staged.commit();
}

}  // namespace bert
