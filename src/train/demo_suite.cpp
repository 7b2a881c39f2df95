#include "train/demo_suite.h"

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/check.h"
#include "core/log.h"
#include "core/timer.h"
#include "core/version.h"
#include "formats/megatron.h"
#include "model/gpt_neox.h"
#include "model/token_batches.h"
#include "train/trainer.h"

namespace llcpress {

void DemoSuiteConfig::validate() const {
  LLC_CHECK(!output_directory.empty(), ConfigError, "make-suite --out", "name an output directory",
            "no output directory given");
  LLC_CHECK(!hidden_sizes.empty(), ConfigError, "make-suite --sizes", "give hidden sizes such as 32,64,96",
            "no model sizes given");
  for (int hidden : hidden_sizes) {
    LLC_CHECK(hidden >= heads && heads >= 1 && hidden % heads == 0, ConfigError, "make-suite --sizes",
              "each hidden size must be a positive multiple of --heads", "hidden size {} with {} heads", hidden, heads);
    // The model's own check (e.g. rotate-half needs an even number of rotary
    // dimensions, so H / heads must be a multiple of 8), before any work.
    validate_neox_config(demo_model_config(*this, hidden), fmt::format("make-suite size {}", hidden));
  }
  LLC_CHECK(layers >= 1, ConfigError, "make-suite --layers", "use at least one layer", "layers {} < 1", layers);
  LLC_CHECK(steps >= 1 && batch >= 1 && seq_len >= 1, ConfigError, "make-suite", "use positive steps, batch, seq-len",
            "steps {}, batch {}, seq_len {}", steps, batch, seq_len);
  LLC_CHECK(heldout_sequences >= 1 && evaluated_heldout_sequences <= heldout_sequences, ConfigError, "make-suite",
            "evaluate at most the held-out sequences written", "held-out: {} written, {} evaluated", heldout_sequences,
            evaluated_heldout_sequences);
}

std::string demo_model_name(std::size_t num_parameters) {
  return fmt::format("demo-{}k", static_cast<long long>(std::llround(num_parameters / 1000.0)));
}

formats::NeoxConfig demo_model_config(const DemoSuiteConfig& suite, int hidden_size) {
  formats::NeoxConfig config;
  config.hidden_size = hidden_size;
  config.num_hidden_layers = suite.layers;
  config.num_attention_heads = suite.heads;
  config.intermediate_size = 4 * hidden_size;
  config.vocab_size = suite.vocab_size;
  config.max_position_embeddings = 2048;
  config.rotary_pct = 0.25;
  config.rotary_emb_base = 10000.0;
  config.layer_norm_eps = 1e-5;
  config.use_parallel_residual = true;
  config.tie_word_embeddings = false;
  config.hidden_act = "gelu";
  return config;
}

CorpusConfig demo_corpus_config(const DemoSuiteConfig& suite) {
  CorpusConfig corpus;
  corpus.seed = suite.seed;
  corpus.vocab_size = suite.vocab_size;
  corpus.sequence_tokens = suite.seq_len + 1;
  return corpus;
}

nlohmann::json build_demo_suite(const DemoSuiteConfig& suite) {
  suite.validate();
  Stopwatch total;
  namespace fs = std::filesystem;
  const fs::path root(suite.output_directory);
  std::error_code error;
  fs::create_directories(root / "data", error);
  LLC_CHECK(!error, IoError, (root / "data").string(), "check the path and permissions",
            "cannot create the directory: {}", error.message());

  // 1. The corpus: training sequences in the order the steps read them.
  Stopwatch corpus_timer;
  const CorpusConfig corpus = demo_corpus_config(suite);
  SyntheticLanguage language(corpus);
  const std::string train_prefix = (root / "data" / "train").string();
  const std::string heldout_prefix = (root / "data" / "heldout").string();
  const auto train_sequences = static_cast<std::size_t>(suite.steps) * suite.batch;
  write_synthetic_split(train_prefix, language, CorpusSplit::Train, train_sequences);
  write_synthetic_split(heldout_prefix, language, CorpusSplit::Heldout, suite.heldout_sequences);
  spdlog::info("corpus: {} training and {} held-out sequences of {} tokens in {:.1f} s", train_sequences,
               suite.heldout_sequences, corpus.sequence_tokens, corpus_timer.seconds());

  const auto train_data = formats::MegatronDataset::open(train_prefix);
  const auto heldout_data = formats::MegatronDataset::open(heldout_prefix);
  TokenBatches train(train_data, suite.seq_len);
  TokenBatches heldout(heldout_data, suite.seq_len);

  nlohmann::json models = nlohmann::json::array();
  for (int hidden : suite.hidden_sizes) {
    const formats::NeoxConfig model_config = demo_model_config(suite, hidden);
    GptNeox model(model_config, suite.batch, suite.seq_len);
    const std::string name = demo_model_name(model.num_parameters());
    TrainerConfig trainer;
    trainer.model_name = name;
    trainer.steps = suite.steps;
    trainer.batch = suite.batch;
    trainer.seq_len = suite.seq_len;
    trainer.peak_learning_rate = suite.peak_learning_rate;
    trainer.init_seed = suite.seed;
    trainer.init_std = small_init_std(hidden);
    trainer.checkpoint_interval = suite.checkpoint_interval;
    trainer.heldout_sequences = suite.evaluated_heldout_sequences;
    trainer.output_directory = (root / name).string();
    spdlog::info("training {} (hidden {}, {} layers, {} heads, {} parameters) for {} steps", name, hidden, suite.layers,
                 suite.heads, model.num_parameters(), suite.steps);
    const TrainingResult result = train_model(model, train, &heldout, trainer);
    nlohmann::json entry = {{"name", name},
                            {"parameters", model.num_parameters()},
                            {"config", model_config.to_json()},
                            {"training", trainer.to_json()},
                            {"seconds", result.seconds}};
    entry["checkpoints"] = result.to_json()["checkpoints"];
    for (auto& record : entry["checkpoints"])
      record["directory"] = fs::relative(record["directory"].get<std::string>(), root).string();
    entry["final_heldout_loss"] = result.checkpoints.back().heldout_loss;
    entry["final_train_loss"] = result.checkpoints.back().train_loss;
    models.push_back(std::move(entry));
  }

  nlohmann::json document = {{"suite", "llcpress demo suite"},
                             {"llcpress_version", version_string()},
                             {"git_revision", git_revision()},
                             {"data",
                              {{"train", "data/train"},
                               {"heldout", "data/heldout"},
                               {"train_sequences", train_sequences},
                               {"heldout_sequences", suite.heldout_sequences},
                               {"evaluated_heldout_sequences", suite.evaluated_heldout_sequences},
                               {"sequence_tokens", corpus.sequence_tokens},
                               {"step_reads_sequences", "[batch*s, batch*(s+1))"}}},
                             {"corpus", corpus.to_json()},
                             {"steps", suite.steps},
                             {"batch", suite.batch},
                             {"seq_len", suite.seq_len},
                             {"seed", suite.seed},
                             {"models", models},
                             {"seconds", total.seconds()}};
  const fs::path path = root / "suite.json";
  const fs::path temporary = root / "suite.json.tmp";
  {
    std::ofstream out(temporary);
    LLC_CHECK(out.good(), IoError, temporary.string(), "check the path and permissions", "cannot open for writing");
    out << document.dump(2) << "\n";
    LLC_CHECK(out.good(), IoError, temporary.string(), "check free disk space", "write failed");
  }
  fs::rename(temporary, path, error);
  LLC_CHECK(!error, IoError, path.string(), "check the path and permissions", "cannot rename: {}", error.message());
  return document;
}

}  // namespace llcpress
