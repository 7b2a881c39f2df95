// The local learning coefficient estimator (REFERENCE.md §3):
//
//   λ̂_c = nβ·(mean of chain c's draws − L_init),   λ̂ = mean over chains (std across chains)
//
// Each chain starts at w*, runs burn_in + draws·steps_between_draws SGLD or
// pSGLD steps; a draw is the minibatch loss at w BEFORE that step's update, on
// the batch the step's gradient comes from; draws are taken at steps
// burn_in + d·steps_between_draws. L_init is the mean loss at w* over
// init_batches fixed batches. Chains run one after another and reuse one set
// of buffers: beyond the model's own memory the estimator holds w*, the
// RMSprop state V (pSGLD) and, with the MALA diagnostic, one displacement
// vector — each only for the sampled elements — and the gradient buffer.
//
// Randomness (key = seed; streams = stream_id(salt, purpose, chain, step)):
// the noise of step t of chain c, the minibatch of step t of chain c (or of
// step t for every chain with shared_batches), and the L_init batches. A chain
// is reproducible bit for bit and independent of the thread count (given a
// model whose loss is).
//
// A chain whose loss or weights become NaN/Inf is stopped, marked diverged
// with the step and reason. Every chain is then judged by the health rules
// (slt/chain_health.h): unhealthy chains (diverged ones among them) are left
// out of the mean and std and counted, and too few healthy chains mark the
// whole estimate failed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/loss_model.h"
#include "slt/chain_health.h"
#include "slt/minibatch.h"
#include "slt/sampler.h"

namespace llcpress::slt {

// The defaults below (and SamplerConfig's) are REFERENCE §3's typical language-model settings and the
// only statement of them: the `llc` option table (pipeline/task_options.cpp) reads them for the CLI, job
// files and docs.
struct LlcConfig {
  SamplerConfig sampler;
  int chains = 4;
  int burn_in = 0;
  int draws = 100;
  int steps_between_draws = 1;
  std::size_t batch_size = 16;         // samples (sequences) per SGLD step; nβ defaults to b/ln b
  int init_batches = 8;                // batches averaged into L_init
  std::optional<SampleRange> samples;  // where batches come from (default: all of the model's samples)
  std::vector<std::string> mask;       // selectors (slt/parameter_mask.h); empty = every parameter
  std::uint64_t seed = 0;
  std::uint64_t stream_salt = 0;  // e.g. the shard id, so shards of one job draw different numbers
  bool shared_batches = false;    // every chain sees the same batch sequence (only the noise differs)
  bool mala = true;               // MALA acceptance estimate (costs one displacement vector)
  bool progress = true;           // progress line on stderr
  ChainHealthLimits health;       // which chains count (slt/chain_health.h)

  // ConfigError naming the key for counts out of range; also validates the sampler.
  void validate() const;
  int steps() const { return burn_in + draws * steps_between_draws; }
};

// The reference library's default inverse temperature: b / ln b (1 when b ≤ 1).
double default_nbeta(std::size_t batch_size);

// One chain: traces per draw (index d = draw), per step, and summaries.
struct ChainResult {
  int chain = 0;
  std::vector<double> step_loss;  // (steps run) minibatch loss before each step's update
  // (draws taken) at each draw, before that step's update:
  std::vector<double> draw_loss;
  std::vector<double> distance;                 // ‖w − w*‖
  std::vector<double> gradient_norm;            // ‖g‖, raw mean-loss gradient (sampled elements)
  std::vector<double> drift_gradient_norm;      // ‖(ε/2)·P⊙nβg‖   (the step's components)
  std::vector<double> drift_localization_norm;  // ‖(ε/2)·P⊙γ(w − w*)‖
  std::vector<double> drift_weight_decay_norm;  // ‖(ε/2)·P⊙λ_wd·w‖
  std::vector<double> noise_norm;               // ‖√ε·√P⊙σξ‖
  std::vector<double> mala_log_ratio;           // log MH ratio of the transition leaving the draw (NaN if none)
  std::vector<double> mala_acceptance;          // min(1, exp(log ratio))
  double llc = 0;                               // nβ·(mean draw − L_init); NaN when diverged
  double mean_draw_loss = 0;
  double fraction_below_init = 0;   // draws with loss < L_init
  double mean_mala_acceptance = 0;  // over draws with a finite ratio (NaN if none)
  bool diverged = false;
  std::int64_t diverged_at_step = -1;
  std::string divergence_reason;
  std::int64_t steps_run = 0;
  std::size_t clamped = 0;  // weight updates the bounding box clamped (draw steps)
  double seconds = 0, model_seconds = 0, sampler_seconds = 0, batch_seconds = 0;
  // Chain health (slt/chain_health.h): only healthy chains enter llc_mean.
  bool healthy = true;
  unsigned health_problems = 0;  // ChainProblem bits
  std::string health_reason;     // empty when healthy
  StationarityCheck stationarity;
  bool resumed = false;  // taken from a chain-level checkpoint, not run by this call
};

struct LlcResult {
  LlcConfig config;  // as run: nβ resolved, sample range filled in
  bool nbeta_is_default = false;
  double init_loss = 0;
  std::vector<double> init_batch_losses;
  std::vector<ChainResult> chains;
  double llc_mean = 0;  // over the healthy chains (NaN when none)
  double llc_std = 0;   // sample standard deviation (n−1) over those chains (NaN when fewer than 2)
  int chains_used = 0;  // healthy chains
  int chains_diverged = 0;
  int chains_unhealthy = 0;  // diverged ones included
  // Fewer healthy chains than min_healthy_chains(chains): the estimate is not
  // usable (failure_reason names the unhealthy chains and why).
  bool failed = false;
  std::string failure_reason;
  int chains_resumed = 0;          // chains taken from LlcHooks::finished
  std::int64_t steps_resumed = 0;  // their steps (not run again)
  std::size_t sampled_parameters = 0, total_parameters = 0;
  std::vector<std::string> sampled_tensors;
  std::size_t sampler_state_bytes = 0;  // the sampler's own buffers (V, MALA δ); w* is the model's
  // Wall time split: model = loss_and_grad, sampler = the fused update, batch = index drawing.
  double seconds = 0, init_seconds = 0, model_seconds = 0, sampler_seconds = 0, batch_seconds = 0;
  std::int64_t steps_run = 0;
  double steps_per_second() const {
    return steps_run > 0 ? steps_run / (model_seconds + sampler_seconds + batch_seconds) : 0;
  }
  // (sampler + batch time) / model time: what the estimator adds to forward+backward.
  double sampler_overhead() const { return model_seconds > 0 ? (sampler_seconds + batch_seconds) / model_seconds : 0; }
};

// Chain-level checkpointing and cooperative stopping. A chain's result depends
// only on (config, chain index), so a chain finished by an earlier, stopped
// run can stand in for running it again: the result is bit-identical.
struct LlcHooks {
  std::vector<ChainResult> finished;                       // chains already run with this config (any order)
  std::function<void(const ChainResult&)> chain_finished;  // after each chain this call runs
  std::function<bool()> stop_requested;                    // polled between steps
};

// Thrown by estimate_llc when hooks.stop_requested() turned true: the running
// chain is abandoned; the chains reported through chain_finished are complete.
class LlcStopped : public std::runtime_error {
 public:
  LlcStopped(int chain, std::int64_t step, int chains_finished)
      : std::runtime_error("stop requested"), chain(chain), step(step), chains_finished(chains_finished) {}
  int chain;
  std::int64_t step;
  int chains_finished;
};

// Runs the chains. On return the model's parameters are w* again.
LlcResult estimate_llc(LossModel& model, const LlcConfig& config, const LlcHooks& hooks = {});

// Stream ids (exposed for tests and for tools that reproduce a batch sequence).
std::uint64_t noise_stream(const LlcConfig& config, int chain, std::int64_t step);
std::uint64_t batch_stream(const LlcConfig& config, int chain, std::int64_t step);
std::uint64_t init_batch_stream(const LlcConfig& config, int batch);

}  // namespace llcpress::slt
