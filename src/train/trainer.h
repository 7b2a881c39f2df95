// Trains a GptNeox on a Megatron token dataset the way Pythia was trained, at
// toy scale: step s reads sequences [B·s, B·(s+1)) (one pass, no shuffling;
// the dataset file is already in training order), AdamW with warmup + cosine
// decay and global-norm clipping, and checkpoints at Pythia-style steps
// written as DIR/step<k>/{config.json, model.safetensors}.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/gpt_neox.h"
#include "model/token_batches.h"
#include "train/adamw.h"

namespace llcpress {

// Pythia's checkpoint steps, scaled: 0, then powers of two below `interval`,
// then every multiple of `interval`, and always the last step. Pythia itself is
// pythia_checkpoint_steps(143000, 1000): 0, 1, 2, 4, ..., 512, 1000, 2000, ...
std::vector<std::int64_t> pythia_checkpoint_steps(std::int64_t total_steps, std::int64_t interval);

// Pythia's "small_init" (Nguyen & Salazar): std = √(2 / (5H)) for the
// embeddings and the weights that are not output projections.
float small_init_std(int hidden_size);

struct TrainerConfig {
  std::string model_name = "model";
  std::int64_t steps = 400;
  int batch = 16;
  int seq_len = 128;
  double peak_learning_rate = 3e-3;
  double min_learning_rate_ratio = 0.1;
  double warmup_fraction = 0.01;
  double gradient_clip = 1.0;  // global norm; <= 0 disables
  AdamWConfig adamw;
  std::uint64_t init_seed = 1234;
  float init_std = 0.0f;                       // <= 0: small_init_std(H)
  std::vector<std::int64_t> checkpoint_steps;  // empty: pythia_checkpoint_steps(steps, checkpoint_interval)
  std::int64_t checkpoint_interval = 100;
  std::size_t heldout_sequences = 128;  // evaluated at every checkpoint (0 = skip)
  std::string output_directory;         // checkpoints go to OUTPUT/step<k>; empty = do not save

  void validate() const;
  nlohmann::json to_json() const;
};

struct CheckpointRecord {
  std::int64_t step = 0;
  double heldout_loss = 0.0;   // NaN when heldout_sequences = 0
  double train_loss = 0.0;     // mean training-batch loss over the updates since the previous checkpoint (NaN at 0)
  double learning_rate = 0.0;  // of the last update before this checkpoint (0 at step 0)
  std::string directory;       // "" when not saved
};

struct TrainingResult {
  std::vector<CheckpointRecord> checkpoints;
  std::vector<double> train_losses;    // (steps) loss of each update's batch
  std::vector<double> gradient_norms;  // (steps) before clipping
  double seconds = 0.0;
  nlohmann::json to_json() const;
};

// Initialises `model` (init_random) and trains it. `train` must hold at least
// steps·batch sequences of seq_len + 1 tokens. Throws NumericalError when the
// loss becomes NaN/Inf.
TrainingResult train_model(GptNeox& model, const TokenBatches& train, const TokenBatches* heldout,
                           const TrainerConfig& config);

// Mean next-token loss over sequences [0, count) of `data`, in batches of at
// most `batch` (each sequence's seq_len tokens weigh equally).
double mean_loss(GptNeox& model, const TokenBatches& data, std::size_t count, int batch);

}  // namespace llcpress
