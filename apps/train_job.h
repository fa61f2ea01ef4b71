// train_squad's job once its flags are checked and its backend and communicator exist: the
// output_dir claimed, the model directory and tokenizer read, the checkpoint to resume from
// found, the data prepared (every rank checked to run the same job), the model built, trained
// (engine/training_run.h), evaluated and predicted, and the run's state and model card written.
#pragma once

#include "apps/train_options.h"

namespace bert {

class Backend;
class Communicator;

// Returns 0 when the job ran to its end, or the exit status of a run stopped early
// (--stop_after_steps: 0; a signal: 128 + its number; engine/training_run.h's run_training).
// Throws FlagError for what the command line got wrong (exit 2), TrainingDiverged, and the
// errors of files and data (exit 1).
int run_train_job(const TrainOptions& o, Backend& backend, Communicator& comm, int argc, char** argv);

}  // namespace bert
