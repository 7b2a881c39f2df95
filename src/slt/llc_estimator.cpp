#include "slt/llc_estimator.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "backend/backend.h"
#include "core/check.h"
#include "core/progress.h"
#include "core/rng.h"
#include "core/timer.h"
#include "slt/chain_health.h"
#include "slt/parameter_mask.h"

namespace llcpress::slt {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Purposes mixed into the stream ids, so noise, batches and L_init batches of
// the same (chain, step) never share Philox counters.
constexpr std::uint64_t kNoisePurpose = 0x6e6f697365ull;  // "noise"
constexpr std::uint64_t kBatchPurpose = 0x6261746368ull;  // "batch"
constexpr std::uint64_t kInitPurpose = 0x696e6974ull;     // "init"
constexpr std::uint64_t kSharedChain = ~0ull;             // the chain id of shared batches

}  // namespace

double default_nbeta(std::size_t batch_size) {
  if (batch_size <= 1) return 1.0;
  return static_cast<double>(batch_size) / std::log(static_cast<double>(batch_size));
}

void LlcConfig::validate() const {
  // where() names the option table's key (see SamplerConfig::validate).
  sampler.validate();
  LLC_CHECK(chains >= 1, ConfigError, "chains", "run at least one chain (4 is typical)", "{} chains", chains);
  LLC_CHECK(draws >= 1, ConfigError, "draws", "take at least one draw (100–200 is typical)", "{} draws", draws);
  LLC_CHECK(burn_in >= 0, ConfigError, "burn_in", "burn-in is a number of steps ≥ 0", "{} steps", burn_in);
  LLC_CHECK(steps_between_draws >= 1, ConfigError, "steps_between_draws", "use 1 to draw at every step", "{} steps",
            steps_between_draws);
  LLC_CHECK(batch_size >= 1, ConfigError, "batch", "the batch needs at least one sample", "a batch of 0");
  LLC_CHECK(init_batches >= 1, ConfigError, "init_batches", "L_init needs at least one batch (8 or more advised)",
            "{} batches", init_batches);
  const double total_steps = double(burn_in) + double(draws) * steps_between_draws;
  LLC_CHECK(total_steps < 1e12, ConfigError, "draws", "reduce draws, burn-in or steps-between-draws",
            "{} steps per chain is more than this estimator supports", total_steps);
}

std::uint64_t noise_stream(const LlcConfig& config, int chain, std::int64_t step) {
  return stream_id(config.stream_salt, kNoisePurpose, static_cast<std::uint64_t>(chain),
                   static_cast<std::uint64_t>(step));
}

std::uint64_t batch_stream(const LlcConfig& config, int chain, std::int64_t step) {
  const std::uint64_t chain_id = config.shared_batches ? kSharedChain : static_cast<std::uint64_t>(chain);
  return stream_id(config.stream_salt, kBatchPurpose, chain_id, static_cast<std::uint64_t>(step));
}

std::uint64_t init_batch_stream(const LlcConfig& config, int batch) {
  return stream_id(config.stream_salt, kInitPurpose, static_cast<std::uint64_t>(batch));
}

namespace {

// One chain from w*: burn-in and draws, the MALA bookkeeping of each drawn
// transition, divergence detection. Fills the trace; summarize_chain turns it
// into the chain's λ̂.
ChainResult run_chain(LossModel& model, const LlcConfig& config, const MinibatchSampler& batches, Sampler& sampler,
                      std::span<float> gradient, int chain, Progress* progress, const LlcHooks& hooks,
                      int chains_finished) {
  Stopwatch chain_clock;
  std::span<float> parameters = model.parameters();
  const std::int64_t total_steps = config.steps();
  std::vector<std::int64_t> indices;
  ChainResult trace;
  trace.chain = chain;
  trace.step_loss.reserve(total_steps);
  sampler.reset(parameters);

  StepSums open_sums;  // the transition opened at the last draw
  double open_potential = 0;
  bool transition_open = false;
  auto close_transition = [&](double potential_after, const StepSums& closing) {
    const double log_ratio = mala_log_ratio(open_potential, potential_after, open_sums, closing, config.sampler.epsilon,
                                            config.sampler.noise_scale);
    trace.mala_log_ratio.back() = log_ratio;
    trace.mala_acceptance.back() = std::isfinite(log_ratio) ? std::min(1.0, std::exp(log_ratio)) : kNaN;
    transition_open = false;
  };

  for (std::int64_t step = 0; step < total_steps; ++step) {
    if (hooks.stop_requested && hooks.stop_requested()) {  // a safe point: between two steps (issue 20)
      sampler.reset(parameters);
      throw LlcStopped(chain, step, chains_finished);
    }
    // One clock read per phase boundary (clock reads are syscalls on some VMs).
    const double t0 = chain_clock.seconds();
    batches.draw(config.seed, batch_stream(config, chain, step), indices);
    const double t1 = chain_clock.seconds();
    const double loss = model.loss_and_grad(Batch{indices}, gradient);
    const double t2 = chain_clock.seconds();
    trace.batch_seconds += t1 - t0;
    trace.model_seconds += t2 - t1;
    trace.step_loss.push_back(loss);
    trace.steps_run = step + 1;
    if (!std::isfinite(loss)) {
      trace.diverged = true;
      trace.diverged_at_step = step;
      trace.divergence_reason = fmt::format("minibatch loss is {} at step {}", loss, step);
      break;
    }
    const std::int64_t since_burn_in = step - config.burn_in;
    const bool is_draw = since_burn_in >= 0 && since_burn_in % config.steps_between_draws == 0 &&
                         since_burn_in / config.steps_between_draws < config.draws;
    StepOptions options;
    options.seed = config.seed;
    options.noise_stream = noise_stream(config, chain, step);
    options.diagnostics = is_draw;
    options.open_mala = config.mala && is_draw;
    options.close_mala = transition_open;
    const StepSums sums = sampler.step(parameters, gradient, options);
    trace.sampler_seconds += chain_clock.seconds() - t2;
    const double potential = sampler_potential(config.sampler, loss, sums);
    if (transition_open) close_transition(potential, sums);
    if (is_draw) {
      trace.draw_loss.push_back(loss);
      trace.distance.push_back(std::sqrt(sums.distance_sq));
      trace.gradient_norm.push_back(std::sqrt(sums.gradient_sq));
      trace.drift_gradient_norm.push_back(std::sqrt(sums.drift_gradient_sq));
      trace.drift_localization_norm.push_back(std::sqrt(sums.drift_localization_sq));
      trace.drift_weight_decay_norm.push_back(std::sqrt(sums.drift_weight_decay_sq));
      trace.noise_norm.push_back(std::sqrt(sums.noise_sq));
      trace.mala_log_ratio.push_back(kNaN);
      trace.mala_acceptance.push_back(kNaN);
      trace.clamped += sums.clamped;
      if (config.mala) {
        open_sums = sums;
        open_potential = potential;
        transition_open = true;
      }
    }
    if (sums.nonfinite > 0) {
      trace.diverged = true;
      trace.diverged_at_step = step;
      trace.divergence_reason = fmt::format("{} weights became NaN/Inf in the update of step {}", sums.nonfinite, step);
      break;
    }
    if (progress != nullptr) progress->update(step + 1, fmt::format("loss {:.5g}", loss));
  }
  // The last draw's transition ends after the last step: one more gradient closes it.
  if (transition_open && !trace.diverged) {
    Stopwatch clock;
    batches.draw(config.seed, batch_stream(config, chain, total_steps), indices);
    const double loss = model.loss_and_grad(Batch{indices}, gradient);
    trace.model_seconds += clock.seconds();
    if (std::isfinite(loss)) {
      StepOptions options;
      options.seed = config.seed;
      options.noise_stream = noise_stream(config, chain, total_steps);
      options.close_mala = true;
      options.apply = false;
      const StepSums sums = sampler.step(parameters, gradient, options);
      close_transition(sampler_potential(config.sampler, loss, sums), sums);
    }
  }

  trace.seconds = chain_clock.seconds();
  return trace;
}

// The chain's summary: mean draw loss, λ̂_c = nβ·(mean draw − L_init), the
// fraction of draws below L_init, the mean MALA acceptance, and its health
// (slt/chain_health.h).
void summarize_chain(ChainResult& trace, double nbeta, double init_loss, std::size_t sampled_parameters,
                     const ChainHealthLimits& limits) {
  trace.mean_draw_loss = mean_of(trace.draw_loss);
  std::size_t below = 0;
  for (double v : trace.draw_loss) below += v < init_loss;
  trace.fraction_below_init = trace.draw_loss.empty() ? kNaN : double(below) / trace.draw_loss.size();
  double acceptance_sum = 0;
  std::size_t acceptance_count = 0;
  for (double a : trace.mala_acceptance)
    if (std::isfinite(a)) acceptance_sum += a, ++acceptance_count;
  trace.mean_mala_acceptance = acceptance_count ? acceptance_sum / acceptance_count : kNaN;
  trace.llc = trace.diverged ? kNaN : nbeta * (trace.mean_draw_loss - init_loss);
  ChainHealthInput input;
  input.diverged = trace.diverged;
  input.divergence_reason = trace.divergence_reason;
  input.draw_loss = trace.draw_loss;
  input.mean_mala_acceptance = trace.mean_mala_acceptance;
  input.init_loss = init_loss;
  input.nbeta = nbeta;
  input.sampled_parameters = sampled_parameters;
  const ChainHealth health = assess_chain(input, limits);
  trace.healthy = health.healthy;
  trace.health_problems = health.problems;
  trace.health_reason = health.reason;
  trace.stationarity = health.stationarity;
}

// λ̂ over the chains that did not diverge: mean and sample standard deviation.
void summarize_chains(LlcResult& result) {
  // Only healthy chains enter λ̂ (docs/llc.md, "Chain health"); too few of them fail the estimate.
  std::vector<double> used;
  std::vector<ChainHealth> health;
  std::vector<int> chain_ids;
  for (const auto& chain : result.chains) {
    result.chains_diverged += chain.diverged;
    if (chain.healthy)
      used.push_back(chain.llc);
    else
      ++result.chains_unhealthy;
    ChainHealth verdict;
    verdict.healthy = chain.healthy;
    verdict.problems = chain.health_problems;
    verdict.reason = chain.health_reason;
    health.push_back(std::move(verdict));
    chain_ids.push_back(chain.chain);
  }
  const ShardHealth shard_health = assess_shard(health, chain_ids);
  result.failed = shard_health.failed;
  result.failure_reason = shard_health.reason;
  result.chains_used = static_cast<int>(used.size());
  result.llc_mean = mean_of(used);
  if (used.size() >= 2) {
    double sq = 0;
    for (double v : used) sq += (v - result.llc_mean) * (v - result.llc_mean);
    result.llc_std = std::sqrt(sq / (used.size() - 1));
  } else {
    result.llc_std = kNaN;
  }
  if (result.chains_unhealthy > 0)
    spdlog::warn("{} of {} chains are unhealthy ({} diverged) and are excluded; lower --epsilon or raise --gamma",
                 result.chains_unhealthy, result.config.chains, result.chains_diverged);
  if (result.failed) spdlog::error("the LLC estimate is not usable: {}", result.failure_reason);
}

}  // namespace

LlcResult estimate_llc(LossModel& model, const LlcConfig& input_config, const LlcHooks& hooks) {
  Stopwatch total_clock;
  input_config.validate();
  LlcResult result;
  result.config = input_config;
  LlcConfig& config = result.config;
  const std::size_t num_samples = model.num_samples();
  if (!config.samples) config.samples = SampleRange{0, static_cast<std::int64_t>(num_samples)};
  LLC_CHECK(config.samples->first >= 0 && config.samples->last <= static_cast<std::int64_t>(num_samples), ConfigError,
            "sequences", fmt::format("choose a range inside 0:{}", num_samples),
            "sample range {}:{} is outside the model's {} samples", config.samples->first, config.samples->last,
            num_samples);
  if (config.sampler.nbeta == 0) {
    config.sampler.nbeta = default_nbeta(config.batch_size);
    result.nbeta_is_default = true;
  }
  const MinibatchSampler batches(*config.samples, config.batch_size);

  std::span<float> parameters = model.parameters();
  const ParameterTable& table = model.parameter_table();
  LLC_REQUIRE(table.total_size() == parameters.size(), "the parameter table covers {} floats, the buffer has {}",
              table.total_size(), parameters.size());
  SampledRanges ranges =
      config.mask.empty() ? SampledRanges::all(parameters.size()) : select_parameters(table, config.mask);
  result.sampled_tensors = config.mask.empty() ? std::vector<std::string>{} : selected_tensor_names(table, config.mask);
  if (config.mask.empty())
    for (const auto& view : table.views()) result.sampled_tensors.push_back(view.name);
  result.sampled_parameters = ranges.count();
  result.total_parameters = parameters.size();

  // L_init over fixed batches at w*; identical batches (full-batch mode) are evaluated once.
  Stopwatch init_clock;
  std::vector<std::int64_t> indices;
  const int distinct_init_batches = batches.full_batch() ? 1 : config.init_batches;
  for (int b = 0; b < distinct_init_batches; ++b) {
    batches.draw(config.seed, init_batch_stream(config, b), indices);
    const double loss = model.loss(Batch{indices});
    LLC_CHECK(std::isfinite(loss), NumericalError, "L_init",
              "the model's loss at the checkpoint is not finite: check the checkpoint and the data",
              "loss at w* on init batch {} is {}", b, loss);
    result.init_batch_losses.push_back(loss);
  }
  result.init_loss = mean_of(result.init_batch_losses);
  result.init_seconds = init_clock.seconds();

  // w* is the model's one copy (LossModel::reference); the sampler reads it.
  model.hold_reference();
  Sampler sampler(config.sampler, std::move(ranges), model.reference(), config.mala, model.backend());
  result.sampler_state_bytes = sampler.state_bytes();
  // (num_parameters) the one gradient buffer, in the model's backend memory.
  backend::Buffer<float> gradient(model.backend(), parameters.size());
  model.backend().zero(gradient.data(), static_cast<std::int64_t>(gradient.size()));
  const double nbeta = config.sampler.nbeta;

  for (int chain = 0; chain < config.chains; ++chain) {
    // ---- chain-level resume (issue 20): a chain finished earlier with this config is reused.
    const auto reused = std::find_if(hooks.finished.begin(), hooks.finished.end(),
                                     [chain](const ChainResult& done) { return done.chain == chain; });
    if (reused != hooks.finished.end()) {
      ChainResult trace = *reused;
      trace.resumed = true;
      ++result.chains_resumed;
      result.steps_resumed += trace.steps_run;
      result.chains.push_back(std::move(trace));
      continue;
    }
    // ---- end chain-level resume
    std::optional<Progress> progress;
    if (config.progress) progress.emplace(fmt::format("chain {}/{}", chain + 1, config.chains), config.steps());
    ChainResult trace = run_chain(model, config, batches, sampler, {gradient.data(), gradient.size()}, chain,
                                  progress ? &*progress : nullptr, hooks, static_cast<int>(result.chains.size()));
    summarize_chain(trace, nbeta, result.init_loss, result.sampled_parameters, config.health);
    if (progress)
      progress->finish(trace.diverged ? fmt::format("DIVERGED: {}", trace.divergence_reason)
                                      : fmt::format("llc {:.4g}", trace.llc));
    if (!trace.healthy)
      spdlog::warn("chain {} is unhealthy ({}); it is excluded from the LLC mean", chain, trace.health_reason);
    result.model_seconds += trace.model_seconds;
    result.sampler_seconds += trace.sampler_seconds;
    result.batch_seconds += trace.batch_seconds;
    result.steps_run += trace.steps_run;
    result.chains.push_back(std::move(trace));
    if (hooks.chain_finished) hooks.chain_finished(result.chains.back());
  }
  sampler.reset(parameters);
  summarize_chains(result);
  result.seconds = total_clock.seconds();
  return result;
}

}  // namespace llcpress::slt
