// The trainer end to end on a tiny model: checkpoint schedule, the wiring of
// forward/backward/clipping/AdamW, determinism, and checkpoints that reload
// to the recorded losses. Also the corpus files and the weight-decay groups.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/error.h"
#include "formats/checkpoint.h"
#include "formats/megatron.h"
#include "model/gpt_neox.h"
#include "model/token_batches.h"
#include "train/adamw.h"
#include "train/demo_suite.h"
#include "train/lr_schedule.h"
#include "train/synthetic_corpus.h"
#include "train/trainer.h"

namespace llcpress {
namespace {

namespace fs = std::filesystem;

class TemporaryDirectory {
 public:
  TemporaryDirectory() {
    path_ = fs::temp_directory_path() / ("llcpress_test_trainer_" + std::to_string(::getpid()) + "_" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TemporaryDirectory() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

formats::NeoxConfig tiny_config() {
  formats::NeoxConfig config;
  config.hidden_size = 16;
  config.num_hidden_layers = 1;
  config.num_attention_heads = 2;
  config.intermediate_size = 64;
  config.vocab_size = 64;
  return config;
}

CorpusConfig tiny_corpus(int seq_len) {
  CorpusConfig corpus;
  corpus.vocab_size = 64;
  corpus.sequence_tokens = seq_len + 1;
  corpus.topic_words = 8;
  corpus.copy_min_position = 4;
  corpus.copy_min_length = 3;
  corpus.copy_max_length = 6;
  return corpus;
}

TEST(CheckpointSteps, PythiaScheduleAndScaledVersion) {
  const auto pythia = pythia_checkpoint_steps(143000, 1000);
  EXPECT_EQ(pythia.size(), 154u);  // Pythia publishes 154 checkpoints
  EXPECT_EQ(std::vector<std::int64_t>(pythia.begin(), pythia.begin() + 13),
            (std::vector<std::int64_t>{0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000, 2000}));
  EXPECT_EQ(pythia.back(), 143000);
  EXPECT_EQ(pythia_checkpoint_steps(250, 100), (std::vector<std::int64_t>{0, 1, 2, 4, 8, 16, 32, 64, 100, 200, 250}));
  EXPECT_EQ(pythia_checkpoint_steps(3, 100), (std::vector<std::int64_t>{0, 1, 2, 3}));
}

TEST(WeightDecayMask, FollowsNeoxParameterGroups) {
  const ParameterTable table = make_neox_parameter_table(tiny_config());
  const auto mask = neox_weight_decay_mask(table);
  ASSERT_EQ(mask.size(), table.total_size());
  for (const ParameterView& view : table.views()) {
    const bool is_bias = view.name.size() > 5 && view.name.compare(view.name.size() - 5, 5, ".bias") == 0;
    const bool is_norm =
        view.name.find("layernorm") != std::string::npos || view.name.find("final_layer_norm") != std::string::npos;
    const std::uint8_t expected = (is_bias || is_norm) ? 0 : 1;
    for (std::size_t i = 0; i < view.size; ++i) ASSERT_EQ(mask[view.offset + i], expected) << view.name;
  }
}

TEST(CorpusFiles, MegatronU16MatchesGeneratorAndIsReproducible) {
  TemporaryDirectory directory;
  SyntheticLanguage language(tiny_corpus(16));
  const std::string first = (directory.path() / "a").string(), second = (directory.path() / "b").string();
  write_synthetic_split(first, language, CorpusSplit::Train, 40);
  write_synthetic_split(second, language, CorpusSplit::Train, 40);
  EXPECT_EQ(read_bytes(first + ".bin"), read_bytes(second + ".bin"));
  EXPECT_EQ(read_bytes(first + ".idx"), read_bytes(second + ".idx"));
  const auto dataset = formats::MegatronDataset::open(first);
  EXPECT_EQ(dataset.dtype(), formats::DType::U16);
  ASSERT_EQ(dataset.num_sequences(), 40u);
  for (std::size_t i = 0; i < 40; ++i) EXPECT_EQ(dataset.sequence(i), language.generate(CorpusSplit::Train, i)) << i;
}

struct TinySetup {
  TemporaryDirectory directory;
  formats::MegatronDataset train_data, heldout_data;
  TinySetup(int seq_len, std::size_t train_count)
      : train_data(make(seq_len, train_count)),
        heldout_data(formats::MegatronDataset::open((directory.path() / "heldout").string())) {}
  formats::MegatronDataset make(int seq_len, std::size_t count) {
    SyntheticLanguage language(tiny_corpus(seq_len));
    write_synthetic_split((directory.path() / "train").string(), language, CorpusSplit::Train, count);
    write_synthetic_split((directory.path() / "heldout").string(), language, CorpusSplit::Heldout, 16);
    return formats::MegatronDataset::open((directory.path() / "train").string());
  }
};

TEST(Trainer, FirstUpdateEqualsManualComposition) {
  // One trainer step must be exactly: init, forward on sequences [0, B),
  // backward, clip to norm 1, AdamW at the schedule's first learning rate.
  const int seq_len = 16, batch = 4;
  TinySetup setup(seq_len, batch * 2);
  TokenBatches train(setup.train_data, seq_len);
  TrainerConfig config;
  config.steps = 2;
  config.batch = batch;
  config.seq_len = seq_len;
  config.peak_learning_rate = 1e-2;
  config.checkpoint_steps = {1};
  config.heldout_sequences = 0;
  config.adamw.weight_decay = 0.1;

  GptNeox trained(tiny_config(), batch, seq_len);
  // Save into a directory so step 1's weights can be compared.
  config.output_directory = (setup.directory.path() / "run").string();
  train_model(trained, train, nullptr, config);

  GptNeox manual(tiny_config(), batch, seq_len);
  manual.init_random(config.init_seed, small_init_std(16));
  std::vector<std::int32_t> tokens(batch * (seq_len + 1));
  train.read_range(0, batch, tokens);
  manual.forward(tokens.data(), batch, seq_len);
  std::vector<float> gradient(manual.num_parameters());
  manual.backward(gradient);
  clip_gradient_norm(gradient, 1.0);
  AdamW optimizer(manual.num_parameters(), config.adamw, neox_weight_decay_mask(manual.parameter_table()));
  CosineSchedule schedule({.peak_learning_rate = 1e-2, .min_ratio = 0.1, .warmup_steps = 1, .total_steps = 2});
  optimizer.step(manual.parameters(), gradient, schedule.learning_rate(0));

  GptNeox reloaded(tiny_config(), batch, seq_len);
  reloaded.load(formats::Checkpoint::open(config.output_directory + "/step1"));
  auto expected = manual.parameters();
  auto actual = reloaded.parameters();
  ASSERT_EQ(actual.size(), expected.size());
  // Same operations in the same order on the same thread count, saved as
  // fp32: bitwise equal.
  for (std::size_t i = 0; i < actual.size(); ++i) ASSERT_EQ(actual[i], expected[i]) << i;
}

TEST(Trainer, LearnsDeterministicallyAndCheckpointsReload) {
  const int seq_len = 16, batch = 8, steps = 60;
  TinySetup setup(seq_len, batch * steps);
  TokenBatches train(setup.train_data, seq_len);
  TokenBatches heldout(setup.heldout_data, seq_len);
  TrainerConfig config;
  config.steps = steps;
  config.batch = batch;
  config.seq_len = seq_len;
  config.peak_learning_rate = 1e-2;
  config.checkpoint_interval = 20;
  config.heldout_sequences = 16;
  config.output_directory = (setup.directory.path() / "run").string();

  GptNeox model(tiny_config(), batch, seq_len);
  const TrainingResult result = train_model(model, train, &heldout, config);
  std::vector<std::int64_t> steps_seen;
  for (const auto& record : result.checkpoints) steps_seen.push_back(record.step);
  EXPECT_EQ(steps_seen, (std::vector<std::int64_t>{0, 1, 2, 4, 8, 16, 20, 40, 60}));
  ASSERT_EQ(result.train_losses.size(), static_cast<std::size_t>(steps));

  // Learning: a uniform prediction costs ln V = 4.16 nats and the corpus's
  // unigram law alone (Zipf over 63 tokens plus topic words) is worth more
  // than 0.3 nats below that, so a model that learnt anything beats ln V − 0.3;
  // and the held-out loss must have fallen since step 4.
  EXPECT_LT(result.checkpoints.back().heldout_loss, std::log(64.0) - 0.3);
  EXPECT_LT(result.checkpoints.back().heldout_loss, result.checkpoints[3].heldout_loss - 0.1);

  // Each saved checkpoint reloads to exactly the held-out loss recorded.
  GptNeox reloaded(tiny_config(), batch, seq_len);
  for (const auto& record : result.checkpoints) {
    reloaded.load(formats::Checkpoint::open(record.directory));
    EXPECT_DOUBLE_EQ(mean_loss(reloaded, heldout, 16, batch), record.heldout_loss) << record.step;
  }

  // Rerun: bit-identical losses.
  config.output_directory.clear();
  GptNeox again(tiny_config(), batch, seq_len);
  const TrainingResult rerun = train_model(again, train, &heldout, config);
  EXPECT_EQ(rerun.train_losses, result.train_losses);
}

TEST(Trainer, RejectsTooShortDataset) {
  const int seq_len = 16, batch = 4;
  TinySetup setup(seq_len, 10);
  TokenBatches train(setup.train_data, seq_len);
  TrainerConfig config;
  config.steps = 3;  // needs 12 sequences
  config.batch = batch;
  config.seq_len = seq_len;
  GptNeox model(tiny_config(), batch, seq_len);
  EXPECT_THROW(train_model(model, train, nullptr, config), InputError);
}

TEST(DemoSuite, NamesAndConfigs) {
  EXPECT_EQ(demo_model_name(58240), "demo-58k");
  EXPECT_EQ(demo_model_name(165632), "demo-166k");
  DemoSuiteConfig suite;
  const auto config = demo_model_config(suite, 48);
  EXPECT_EQ(config.intermediate_size, 192);
  EXPECT_EQ(config.vocab_size, 512);
  EXPECT_TRUE(config.use_parallel_residual);
  EXPECT_EQ(demo_corpus_config(suite).sequence_tokens, suite.seq_len + 1);
}

}  // namespace
}  // namespace llcpress
