#include "slt/llc_output.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

namespace llcpress::slt {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// JSON has no NaN: null stands for "no value" (a diverged chain's λ̂).
nlohmann::json number(double value) { return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr); }

nlohmann::json numbers(const std::vector<double>& values) {
  nlohmann::json out = nlohmann::json::array();
  for (double v : values) out.push_back(number(v));
  return out;
}

// (chains, width) row-major, NaN where a chain stopped early.
std::vector<double> padded(const LlcResult& result, const std::vector<double> ChainResult::*member, std::size_t width) {
  std::vector<double> out(result.chains.size() * width, kNaN);
  for (std::size_t c = 0; c < result.chains.size(); ++c) {
    const auto& values = result.chains[c].*member;
    for (std::size_t i = 0; i < values.size() && i < width; ++i) out[c * width + i] = values[i];
  }
  return out;
}

struct Trace {
  const char* name;
  const std::vector<double> ChainResult::*member;
  const char* units;
  const char* description;
};

// Per-draw traces: name, member, units, meaning.
const Trace kDrawTraces[] = {
    {"draw_loss", &ChainResult::draw_loss, "nats",
     "minibatch loss at w before the draw step's update, on that step's batch"},
    {"distance", &ChainResult::distance, "1", "||w - w*|| over the sampled parameters, before the update"},
    {"gradient_norm", &ChainResult::gradient_norm, "nats", "||g||, g = gradient of the mean minibatch loss"},
    {"drift_gradient_norm", &ChainResult::drift_gradient_norm, "1", "||(eps/2) P nbeta g||: the loss part of the step"},
    {"drift_localization_norm", &ChainResult::drift_localization_norm, "1",
     "||(eps/2) P gamma (w - w*)||: the localization part of the step"},
    {"drift_weight_decay_norm", &ChainResult::drift_weight_decay_norm, "1",
     "||(eps/2) P lambda_wd w||: the weight-decay part of the step"},
    {"noise_norm", &ChainResult::noise_norm, "1", "||sqrt(eps) sqrt(P) sigma xi||: the noise part of the step"},
    {"mala_log_ratio", &ChainResult::mala_log_ratio, "1",
     "log Metropolis-Hastings ratio of the Langevin transition leaving the draw (minibatch potentials; NaN if none)"},
    {"mala_acceptance", &ChainResult::mala_acceptance, "1", "min(1, exp(mala_log_ratio))"},
};

}  // namespace

nlohmann::json to_json(const LlcConfig& c) {
  nlohmann::json j = {{"sampler", sampler_kind_name(c.sampler.kind)},
                      {"epsilon", c.sampler.epsilon},
                      {"nbeta", c.sampler.nbeta},
                      {"gamma", c.sampler.localization},
                      {"weight_decay", c.sampler.weight_decay},
                      {"noise_scale", c.sampler.noise_scale},
                      {"rmsprop_alpha", c.sampler.rmsprop_alpha},
                      {"rmsprop_eps", c.sampler.rmsprop_eps},
                      {"bounding_box", c.sampler.bounding_box},
                      {"chains", c.chains},
                      {"burn_in", c.burn_in},
                      {"draws", c.draws},
                      {"steps_between_draws", c.steps_between_draws},
                      {"batch", c.batch_size},
                      {"init_batches", c.init_batches},
                      {"mask", c.mask},
                      {"seed", c.seed},
                      {"stream_salt", c.stream_salt},
                      {"shared_batches", c.shared_batches},
                      {"mala", c.mala},
                      {"health",
                       {{"band_multiple", c.health.band_multiple},
                        {"min_mala_acceptance", c.health.min_mala_acceptance},
                        {"stationarity_factor", c.health.stationarity_factor},
                        {"stationarity_min_draws", c.health.stationarity_min_draws}}}};
  if (c.samples) j["samples"] = {c.samples->first, c.samples->last};
  return j;
}

nlohmann::json to_json(const LlcResult& r, bool traces) {
  nlohmann::json chains = nlohmann::json::array();
  for (const auto& chain : r.chains) {
    nlohmann::json j = {{"chain", chain.chain},
                        {"llc", number(chain.llc)},
                        {"mean_draw_loss", number(chain.mean_draw_loss)},
                        {"fraction_below_init", number(chain.fraction_below_init)},
                        {"mean_mala_acceptance", number(chain.mean_mala_acceptance)},
                        {"diverged", chain.diverged},
                        {"healthy", chain.healthy},
                        {"health_problems", chain_problem_names(chain.health_problems)},
                        {"health_reason", chain.health_reason},
                        {"stationarity_z", number(chain.stationarity.checked ? chain.stationarity.z : kNaN)},
                        {"steps_run", chain.steps_run},
                        {"clamped", chain.clamped},
                        {"seconds", chain.seconds}};
    if (chain.diverged) {
      j["diverged_at_step"] = chain.diverged_at_step;
      j["divergence_reason"] = chain.divergence_reason;
    }
    if (traces) {
      for (const auto& trace : kDrawTraces) j[trace.name] = numbers(chain.*trace.member);
      j["step_loss"] = numbers(chain.step_loss);
    }
    chains.push_back(std::move(j));
  }
  return {{"llc_mean", number(r.llc_mean)},
          {"llc_std", number(r.llc_std)},
          {"llc_standard_error", number(r.chains_used >= 2 ? r.llc_std / std::sqrt(double(r.chains_used)) : kNaN)},
          {"chains_used", r.chains_used},
          {"chains_diverged", r.chains_diverged},
          {"chains_unhealthy", r.chains_unhealthy},
          {"failed", r.failed},
          {"failure_reason", r.failure_reason},
          {"min_healthy_chains", min_healthy_chains(static_cast<int>(r.chains.size()))},
          {"chains_resumed", r.chains_resumed},
          {"steps_resumed", r.steps_resumed},
          {"init_loss", r.init_loss},
          {"init_batch_losses", numbers(r.init_batch_losses)},
          {"nbeta", r.config.sampler.nbeta},
          {"nbeta_is_default", r.nbeta_is_default},
          {"sampled_parameters", r.sampled_parameters},
          {"parameters_total", r.total_parameters},
          {"sampled_tensors", r.sampled_tensors},
          {"sampler_state_bytes", r.sampler_state_bytes},
          {"seconds", r.seconds},
          {"init_seconds", r.init_seconds},
          {"model_seconds", r.model_seconds},
          {"sampler_seconds", r.sampler_seconds},
          {"batch_seconds", r.batch_seconds},
          {"steps_run", r.steps_run},
          {"steps_per_second", r.steps_per_second()},
          {"sampler_overhead", r.sampler_overhead()},
          {"config", to_json(r.config)},
          {"chains", chains}};
}

void write_llc(io::Group& group, const LlcResult& r) {
  const std::int64_t chains = static_cast<std::int64_t>(r.chains.size());
  auto scalar = [&](const char* name, double value, const char* units, const char* description) {
    group.write<double>(name, std::vector<double>{value}, io::Shape{}, io::DatasetOptions{units, description});
  };
  scalar("llc_mean", r.llc_mean, "1",
         "local learning coefficient: mean over healthy chains of nbeta*(mean draw loss - init_loss)");
  scalar("llc_std", r.llc_std, "1", "standard deviation (n-1) of the per-chain estimates over healthy chains");
  scalar("llc_standard_error", r.chains_used >= 2 ? r.llc_std / std::sqrt(double(r.chains_used)) : kNaN, "1",
         "llc_std / sqrt(chains_used)");
  scalar("init_loss", r.init_loss, "nats", "L_init: mean loss at w* over the init batches");
  scalar("nbeta", r.config.sampler.nbeta, "1", "inverse temperature n*beta used by the sampler");
  group.write<double>("init_batch_losses", r.init_batch_losses,
                      io::DatasetOptions{"nats", "loss at w* on each fixed init batch (L_init is their mean)"});

  std::vector<double> llc(chains), mean_draw(chains), below(chains), acceptance(chains), seconds(chains);
  std::vector<std::int64_t> diverged_at(chains), steps_run(chains), clamped(chains), chain_ids(chains);
  std::vector<std::uint8_t> diverged(chains), healthy(chains);
  std::vector<std::string> reasons(chains), health_problems(chains), health_reasons(chains);
  std::vector<double> stationarity_z(chains), middle_mean(chains), last_mean(chains);
  std::size_t draws = 0, steps = 0;
  for (std::int64_t c = 0; c < chains; ++c) {
    const auto& chain = r.chains[c];
    chain_ids[c] = chain.chain;
    llc[c] = chain.llc;
    mean_draw[c] = chain.mean_draw_loss;
    below[c] = chain.fraction_below_init;
    acceptance[c] = chain.mean_mala_acceptance;
    seconds[c] = chain.seconds;
    diverged[c] = chain.diverged;
    diverged_at[c] = chain.diverged_at_step;
    steps_run[c] = chain.steps_run;
    clamped[c] = static_cast<std::int64_t>(chain.clamped);
    reasons[c] = chain.divergence_reason;
    healthy[c] = chain.healthy;
    health_problems[c] = chain_problem_names(chain.health_problems);
    health_reasons[c] = chain.health_reason;
    stationarity_z[c] = chain.stationarity.checked ? chain.stationarity.z : kNaN;
    middle_mean[c] = chain.stationarity.checked ? chain.stationarity.middle_mean : kNaN;
    last_mean[c] = chain.stationarity.checked ? chain.stationarity.last_mean : kNaN;
    draws = std::max(draws, static_cast<std::size_t>(r.config.draws));
    steps = std::max(steps, static_cast<std::size_t>(r.config.steps()));
  }
  io::Table table;
  table.add("chain", chain_ids, "", "chain index");
  table.add("llc", llc, "1", "nbeta*(mean draw loss - init_loss); NaN for a diverged chain");
  table.add("mean_draw_loss", mean_draw, "nats", "mean of the chain's draws");
  table.add("fraction_below_init", below, "1", "fraction of draws with loss below init_loss");
  table.add("mean_mala_acceptance", acceptance, "1", "mean of min(1, exp(log MH ratio)) over the chain's draws");
  table.add("diverged", diverged, "1", "1 when the chain hit NaN/Inf and was stopped (excluded from llc_mean)");
  table.add("diverged_at_step", diverged_at, "steps", "step at which the chain diverged, -1 if it did not");
  table.add("steps_run", steps_run, "steps", "steps the chain ran");
  table.add("clamped", clamped, "1", "weight updates clamped by the bounding box on draw steps");
  table.add("seconds", seconds, "s", "wall time of the chain");
  table.add("divergence_reason", reasons, "", "why the chain was stopped (empty if it was not)");
  table.add("healthy", healthy, "1", "1 when the chain passed every health rule (only these enter llc_mean)");
  table.add("health_problems", health_problems, "",
            "failed rules, comma-separated: diverged, out_of_band, low_mala, not_stationary (empty if healthy)");
  table.add("health_reason", health_reasons, "", "the failed rules with the measured values (empty if healthy)");
  table.add("stationarity_z", stationarity_z, "1",
            "(last-third mean - middle-third mean) / standard error of the difference; NaN if not checked");
  table.add("middle_third_mean", middle_mean, "nats", "mean draw loss of the middle third; NaN if not checked");
  table.add("last_third_mean", last_mean, "nats", "mean draw loss of the last third; NaN if not checked");
  io::write_table(group, "chains", table, "one row per SGLD chain");

  const io::Shape draw_shape{chains, static_cast<std::int64_t>(draws)};
  for (const auto& trace : kDrawTraces) {
    const std::string description = std::string(trace.description) + "; (chain, draw), NaN after a divergence";
    group.write<double>(std::string("traces/") + trace.name, padded(r, trace.member, draws), draw_shape,
                        io::DatasetOptions{trace.units, description});
  }
  group.write<double>(
      "traces/step_loss", padded(r, &ChainResult::step_loss, steps),
      io::Shape{chains, static_cast<std::int64_t>(steps)},
      io::DatasetOptions{"nats", "minibatch loss before every step's update (burn-in included); (chain, step)"});
  group.write<std::string>("sampled_tensors", r.sampled_tensors,
                           io::DatasetOptions{"", "tensors the sampler moved (the mask)"});

  group.set_attribute("llc_config_json", to_json(r.config).dump());
  group.set_attribute("chains_used", r.chains_used);
  group.set_attribute("chains_diverged", r.chains_diverged);
  group.set_attribute("chains_unhealthy", r.chains_unhealthy);
  group.set_attribute("min_healthy_chains", min_healthy_chains(static_cast<int>(r.chains.size())));
  group.set_attribute("failed", static_cast<std::int64_t>(r.failed));
  group.set_attribute("failure_reason", r.failure_reason);
  group.set_attribute("chains_resumed", r.chains_resumed);
  group.set_attribute("steps_resumed", r.steps_resumed);
  group.set_attribute("nbeta_is_default", static_cast<std::int64_t>(r.nbeta_is_default));
  group.set_attribute("sampled_parameters", r.sampled_parameters);
  group.set_attribute("parameters_total", r.total_parameters);
  group.set_attribute("sampler_state_bytes", r.sampler_state_bytes);
  group.set_attribute("seconds", r.seconds);
  group.set_attribute("model_seconds", r.model_seconds);
  group.set_attribute("sampler_seconds", r.sampler_seconds);
  group.set_attribute("steps_per_second", r.steps_per_second());
  group.set_attribute("sampler_overhead", r.sampler_overhead());
}

std::string format_llc(const LlcResult& r) {
  std::string out = fmt::format(
      "llc {:.4f} ± {:.4f} (std over {} healthy chains{}), nbeta {:.4g}{}, L_init {:.6f}\n", r.llc_mean, r.llc_std,
      r.chains_used, r.chains_unhealthy ? fmt::format(", {} unhealthy and excluded", r.chains_unhealthy) : "",
      r.config.sampler.nbeta, r.nbeta_is_default ? " (default b/ln b)" : "", r.init_loss);
  if (r.failed) out += fmt::format("  FAILED: {}\n", r.failure_reason);
  for (const auto& chain : r.chains) {
    if (!chain.healthy && !chain.diverged)
      out += fmt::format("  chain {}: UNHEALTHY ({})\n", chain.chain, chain.health_reason);
    if (chain.diverged) {
      out += fmt::format("  chain {}: DIVERGED at step {} ({})\n", chain.chain, chain.diverged_at_step,
                         chain.divergence_reason);
      continue;
    }
    out += fmt::format(
        "  chain {}: llc {:.4f}  mean draw {:.6f}  below L_init {:.0f}%  MALA acceptance {:.3f}  final |w-w*| "
        "{:.4g}\n",
        chain.chain, chain.llc, chain.mean_draw_loss, 100 * chain.fraction_below_init, chain.mean_mala_acceptance,
        chain.distance.empty() ? kNaN : chain.distance.back());
  }
  out += fmt::format(
      "  {} of {} parameters sampled; {:.1f} s ({:.3g} steps/s, sampler overhead {:.2f}% of forward+backward)\n",
      r.sampled_parameters, r.total_parameters, r.seconds, r.steps_per_second(), 100 * r.sampler_overhead());
  return out;
}

}  // namespace llcpress::slt
