#include "train/trainer.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>

#include "core/check.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/timer.h"
#include "train/lr_schedule.h"

namespace llcpress {

std::vector<std::int64_t> pythia_checkpoint_steps(std::int64_t total_steps, std::int64_t interval) {
  LLC_CHECK(total_steps >= 0 && interval >= 1, ConfigError, "checkpoint steps", "use steps >= 0 and interval >= 1",
            "invalid checkpoint schedule: steps {}, interval {}", total_steps, interval);
  std::vector<std::int64_t> steps = {0};
  for (std::int64_t power = 1; power < interval && power <= total_steps; power *= 2) steps.push_back(power);
  for (std::int64_t multiple = interval; multiple <= total_steps; multiple += interval) steps.push_back(multiple);
  steps.push_back(total_steps);
  std::sort(steps.begin(), steps.end());
  steps.erase(std::unique(steps.begin(), steps.end()), steps.end());
  return steps;
}

float small_init_std(int hidden_size) { return static_cast<float>(std::sqrt(2.0 / (5.0 * hidden_size))); }

void TrainerConfig::validate() const {
  LLC_CHECK(steps >= 1 && batch >= 1 && seq_len >= 1, ConfigError, "trainer", "use steps, batch and seq-len >= 1",
            "invalid training size: steps {}, batch {}, seq_len {}", steps, batch, seq_len);
  LLC_CHECK(gradient_clip == gradient_clip, ConfigError, "trainer", "use a number (<= 0 disables clipping)",
            "gradient_clip is NaN");
  LLC_CHECK(warmup_fraction >= 0.0 && warmup_fraction <= 1.0, ConfigError, "trainer",
            "warmup is a fraction of the steps (Pythia: 0.01)", "warmup_fraction {} outside [0, 1]", warmup_fraction);
  for (std::int64_t step : checkpoint_steps)
    LLC_CHECK(step >= 0 && step <= steps, ConfigError, "trainer", "checkpoint steps must lie in [0, steps]",
              "checkpoint step {} outside [0, {}]", step, steps);
}

nlohmann::json TrainerConfig::to_json() const {
  return {{"model_name", model_name},
          {"steps", steps},
          {"batch", batch},
          {"seq_len", seq_len},
          {"peak_learning_rate", peak_learning_rate},
          {"min_learning_rate_ratio", min_learning_rate_ratio},
          {"warmup_fraction", warmup_fraction},
          {"warmup_steps", CosineSchedule::warmup_for(steps, warmup_fraction)},
          {"gradient_clip", gradient_clip},
          {"adam_beta1", adamw.beta1},
          {"adam_beta2", adamw.beta2},
          {"adam_epsilon", adamw.epsilon},
          {"weight_decay", adamw.weight_decay},
          {"weight_decay_applies_to", "linear weights, embed_in, embed_out (not biases or layer norms; as GPT-NeoX)"},
          {"init_seed", init_seed},
          {"init_std", init_std},
          {"checkpoint_steps", checkpoint_steps},
          {"checkpoint_interval", checkpoint_interval},
          {"heldout_sequences", heldout_sequences}};
}

nlohmann::json TrainingResult::to_json() const {
  auto number_or_null = [](double value) { return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(); };
  nlohmann::json records = nlohmann::json::array();
  for (const CheckpointRecord& record : checkpoints) {
    records.push_back({{"step", record.step},
                       {"heldout_loss", number_or_null(record.heldout_loss)},
                       {"train_loss", number_or_null(record.train_loss)},
                       {"learning_rate", record.learning_rate},
                       {"directory", record.directory}});
  }
  return {{"checkpoints", records}, {"seconds", seconds}};
}

double mean_loss(GptNeox& model, const TokenBatches& data, std::size_t count, int batch) {
  LLC_CHECK(count <= data.num_sequences(), InputError, data.dataset().prefix(), "evaluate fewer sequences",
            "asked for {} sequences, the dataset has {}", count, data.num_sequences());
  if (count == 0) return std::numeric_limits<double>::quiet_NaN();
  const int seq_len = data.seq_len();
  std::vector<std::int32_t> tokens(static_cast<std::size_t>(batch) * (seq_len + 1));  // (batch, T + 1)
  double weighted_sum = 0.0;
  for (std::size_t first = 0; first < count; first += batch) {
    const auto rows = static_cast<int>(std::min<std::size_t>(batch, count - first));
    std::span<std::int32_t> window(tokens.data(), static_cast<std::size_t>(rows) * (seq_len + 1));
    data.read_range(first, rows, window);
    weighted_sum += model.loss(window.data(), rows, seq_len) * rows;
  }
  return weighted_sum / static_cast<double>(count);
}

TrainingResult train_model(GptNeox& model, const TokenBatches& train, const TokenBatches* heldout,
                           const TrainerConfig& config) {
  config.validate();
  const int batch = config.batch, seq_len = config.seq_len;
  LLC_CHECK(train.seq_len() == seq_len, ConfigError, "trainer", "build the TokenBatches with the trainer's seq_len",
            "train windows have seq_len {}, the trainer {}", train.seq_len(), seq_len);
  const auto needed = static_cast<std::size_t>(config.steps) * batch;
  LLC_CHECK(train.num_sequences() >= needed, InputError, train.dataset().prefix(),
            "generate a longer corpus or train for fewer steps",
            "training for {} steps of {} sequences needs {} sequences; the dataset has {}", config.steps, batch, needed,
            train.num_sequences());
  LLC_CHECK(model.max_batch() >= batch && model.max_seq_len() >= seq_len, ConfigError, "trainer",
            "construct the model with max_batch >= batch and max_seq_len >= seq_len",
            "model buffers hold ({}, {}), training needs ({}, {})", model.max_batch(), model.max_seq_len(), batch,
            seq_len);
  if (heldout) {
    LLC_CHECK(heldout->seq_len() == seq_len, ConfigError, "trainer", "use the same seq_len for held-out data",
              "held-out windows have seq_len {}, the trainer {}", heldout->seq_len(), seq_len);
  }
  const std::size_t heldout_count =
      heldout ? std::min(config.heldout_sequences, heldout->num_sequences()) : std::size_t{0};

  std::vector<std::int64_t> checkpoint_steps = config.checkpoint_steps.empty()
                                                   ? pythia_checkpoint_steps(config.steps, config.checkpoint_interval)
                                                   : config.checkpoint_steps;
  std::sort(checkpoint_steps.begin(), checkpoint_steps.end());
  checkpoint_steps.erase(std::unique(checkpoint_steps.begin(), checkpoint_steps.end()), checkpoint_steps.end());

  const int hidden = model.config().hidden_size;
  model.init_random(config.init_seed, config.init_std > 0.0f ? config.init_std : small_init_std(hidden));
  AdamW optimizer(model.num_parameters(), config.adamw, neox_weight_decay_mask(model.parameter_table()));
  CosineSchedule schedule({.peak_learning_rate = config.peak_learning_rate,
                           .min_ratio = config.min_learning_rate_ratio,
                           .warmup_steps = CosineSchedule::warmup_for(config.steps, config.warmup_fraction),
                           .total_steps = config.steps});

  std::vector<float> gradient(model.num_parameters());                                // (num_parameters)
  std::vector<std::int32_t> tokens(static_cast<std::size_t>(batch) * (seq_len + 1));  // (batch, T + 1)
  TrainingResult result;
  result.train_losses.reserve(config.steps);
  result.gradient_norms.reserve(config.steps);
  Stopwatch stopwatch;
  Progress progress("train " + config.model_name, static_cast<std::size_t>(config.steps), 10.0);
  std::size_t next_checkpoint = 0;
  double loss_sum_since_checkpoint = 0.0;
  std::int64_t updates_since_checkpoint = 0;
  double last_learning_rate = 0.0;

  for (std::int64_t step = 0;; ++step) {
    if (next_checkpoint < checkpoint_steps.size() && checkpoint_steps[next_checkpoint] == step) {
      CheckpointRecord record;
      record.step = step;
      record.learning_rate = last_learning_rate;
      record.train_loss = updates_since_checkpoint > 0 ? loss_sum_since_checkpoint / updates_since_checkpoint
                                                       : std::numeric_limits<double>::quiet_NaN();
      record.heldout_loss =
          heldout ? mean_loss(model, *heldout, heldout_count, batch) : std::numeric_limits<double>::quiet_NaN();
      if (!config.output_directory.empty()) {
        record.directory = (std::filesystem::path(config.output_directory) / ("step" + std::to_string(step))).string();
        model.save(record.directory);
      }
      spdlog::info("{} step {}: held-out loss {:.4f}, train loss {:.4f}", config.model_name, step, record.heldout_loss,
                   record.train_loss);
      result.checkpoints.push_back(record);
      loss_sum_since_checkpoint = 0.0;
      updates_since_checkpoint = 0;
      ++next_checkpoint;
    }
    if (step == config.steps) break;

    train.read_range(static_cast<std::size_t>(step) * batch, batch, tokens);
    const double loss = model.forward(tokens.data(), batch, seq_len);
    LLC_CHECK(std::isfinite(loss), NumericalError, config.model_name,
              "lower --lr or check that the tokens are below the vocabulary size", "training loss is {} at step {}",
              loss, step);
    model.backward(gradient);
    const double norm = clip_gradient_norm(gradient, config.gradient_clip);
    last_learning_rate = schedule.learning_rate(step);
    optimizer.step(model.parameters(), gradient, last_learning_rate);

    result.train_losses.push_back(loss);
    result.gradient_norms.push_back(norm);
    loss_sum_since_checkpoint += loss;
    ++updates_since_checkpoint;
    progress.update(static_cast<std::size_t>(step + 1), fmt::format("loss {:.3f} lr {:.2e}", loss, last_learning_rate));
  }
  progress.finish();
  result.seconds = stopwatch.seconds();
  return result;
}

}  // namespace llcpress
