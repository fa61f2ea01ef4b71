// Evaluation: the model's start/end logits for every window (no dropout, batches of packed
// windows), then Hugging Face's span selection and the official SQuAD v1.1 EM/F1 (v2.0's scores
// with PostprocessConfig::version_2_with_negative).
#pragma once

#include <functional>
#include <vector>

#include "data/postprocess.h"
#include "data/squad.h"
#include "data/squad_metric.h"
#include "data/windows.h"
#include "engine/bert_qa_model.h"
#include "logging/progress.h"  // ProgressPace

namespace bert {

struct WindowPredictions {
  std::vector<std::vector<float>> start_logits;  // [windows][length]
  std::vector<std::vector<float>> end_logits;
};

// Runs forward over all windows, `batch_size` windows at a time (the model must have room
// for batch_size · longest window tokens). `progress(done, total)` is called each time logits
// come back (every BertQaModel::kLogitStages batches, and at the end).
WindowPredictions predict_windows(BertQaModel& model, const std::vector<Window>& windows, int batch_size,
                                  const std::function<void(size_t, size_t)>& progress = {});

struct EvalOutcome {
  PostprocessResult predictions;
  bool scored = true;  // false: some question has no answers (a v1.1 test set), scores stay empty
  SquadScores scores;
  double seconds = 0;  // the whole evaluation: predictions, span selection and scoring
  // Of which the model's forward passes and the logits' download: eval_runtime, which Trainer's
  // speed_metrics takes right after its evaluation loop, before post-processing and the metric.
  double model_seconds = 0;
  // Trainer's <K>_model_preparation_time: an evaluation that no training came before first puts
  // the model on its device; set by the caller to that time (negative: not reported).
  double model_preparation_seconds = -1;
};

// Predicts and selects spans for every question; scores them when every question has answers.
EvalOutcome evaluate_model(BertQaModel& model, const SquadDataset& dataset, const std::vector<Window>& windows,
                           int batch_size, const PostprocessConfig& postprocess,
                           const std::function<void(size_t, size_t)>& progress = {});

// evaluate_model with its progress on stderr under `label` ("eval", "predict"), as a run shows
// it (logging/progress.h's CountProgress: a bar on a terminal, else a line every
// pace.line_seconds for a long one); none when !show (--disable_tqdm).
EvalOutcome evaluate_with_progress(BertQaModel& model, const SquadDataset& dataset,
                                   const std::vector<Window>& windows, int batch_size,
                                   const PostprocessConfig& postprocess, const char* label,
                                   bool show, const ProgressPace& pace);

}  // namespace bert
