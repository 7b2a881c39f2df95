// The embedded demo suite (`llcpress make-suite`): a synthetic corpus written as
// Megatron u16 datasets and a few tiny GPT-NeoX models trained on it with
// Pythia's recipe, checkpointed at Pythia-style steps. It lets the whole
// pipeline run on a machine without internet access, in minutes.
//
// Layout under the output directory:
//   data/train.{idx,bin}    steps·batch sequences of seq_len + 1 tokens, in training order
//   data/heldout.{idx,bin}  held-out sequences (a disjoint RNG stream)
//   demo-<N>k/step<k>/{config.json, model.safetensors}
//   suite.json              configs, corpus parameters, held-out loss per model and step, timings
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "formats/checkpoint.h"
#include "train/synthetic_corpus.h"

namespace llcpress {

struct DemoSuiteConfig {
  std::string output_directory;
  std::vector<int> hidden_sizes = {32, 64, 96};  // H / heads must be a multiple of 8 (rotary)
  int layers = 2;
  int heads = 4;
  int vocab_size = 512;
  std::int64_t steps = 400;
  int batch = 16;
  int seq_len = 128;
  double peak_learning_rate = 3e-3;
  std::uint64_t seed = 1234;
  std::size_t heldout_sequences = 256;            // written to data/heldout
  std::size_t evaluated_heldout_sequences = 128;  // evaluated at every checkpoint
  // 0, 1, 2, 4, …, 32, then every 40 steps: 17 checkpoints of 400 steps, dense early like Pythia's
  // log-spaced start, so each model has ≥ 10 checkpoints after learning has begun.
  std::int64_t checkpoint_interval = 40;

  void validate() const;
};

// "demo-58k": the parameter count in thousands, rounded.
std::string demo_model_name(std::size_t num_parameters);

// The GPT-NeoX config of one demo size (Pythia's shape conventions: 4H MLP,
// rotary on 25% of each head, parallel residual, untied unembedding).
formats::NeoxConfig demo_model_config(const DemoSuiteConfig& suite, int hidden_size);

// The corpus parameters of the suite (vocabulary, sequence length, seed).
CorpusConfig demo_corpus_config(const DemoSuiteConfig& suite);

// Builds everything and writes suite.json; returns its content.
nlohmann::json build_demo_suite(const DemoSuiteConfig& suite);

}  // namespace llcpress
