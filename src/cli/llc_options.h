// Sampler and chain options shared by `llcpress llc` and `llcpress calibrate`
// (header-only: the CLI compiles only cmd_*.cpp files as translation units).
#pragma once

#include <omp.h>

#include <string>
#include <vector>

#include "cli/device_option.h"
#include "cli/subcommand.h"
#include "core/check.h"
#include "slt/llc_estimator.h"
#include "slt/parameter_mask.h"

namespace llcpress::cli {

// Adds --sampler … --threads with the given defaults.
inline void add_llc_options(po::options_description& options, const slt::LlcConfig& defaults) {
  options.add_options()("sampler", po::value<std::string>()->default_value(sampler_kind_name(defaults.sampler.kind)),
                        "sgld or rmsprop-sgld")("epsilon", po::value<double>()->default_value(defaults.sampler.epsilon),
                                                "step size ε")(
      "gamma", po::value<double>()->default_value(defaults.sampler.localization),
      "localization γ: pull toward w* (the checkpoint)")(
      "nbeta", po::value<double>()->default_value(defaults.sampler.nbeta),
      "inverse temperature nβ (0: the reference library's default b/ln b, b = --batch)")(
      "weight-decay", po::value<double>()->default_value(defaults.sampler.weight_decay), "weight decay λ_wd (prior)")(
      "noise-scale", po::value<double>()->default_value(defaults.sampler.noise_scale),
      "σ of the injected noise (1 samples the stated posterior)")(
      "rmsprop-alpha", po::value<double>()->default_value(defaults.sampler.rmsprop_alpha),
      "pSGLD: decay α of the squared-gradient average V")(
      "rmsprop-eps", po::value<double>()->default_value(defaults.sampler.rmsprop_eps),
      "pSGLD: eps_p in P = 1/(√V + eps_p)")("bounding-box",
                                            po::value<double>()->default_value(defaults.sampler.bounding_box),
                                            "clamp every sampled weight to w* ± this half-width (0: no box)")(
      "chains", po::value<int>()->default_value(defaults.chains), "independent chains (run one after another)")(
      "burn-in", po::value<int>()->default_value(defaults.burn_in), "steps before the first draw")(
      "draws", po::value<int>()->default_value(defaults.draws), "draws per chain")(
      "steps-between-draws", po::value<int>()->default_value(defaults.steps_between_draws),
      "SGLD steps per draw (a draw is the loss before its step's update)")(
      "batch", po::value<std::size_t>()->default_value(defaults.batch_size), "samples (sequences) per SGLD step")(
      "init-batches", po::value<int>()->default_value(defaults.init_batches),
      "fixed batches averaged into L_init (the loss at w*)")(
      "mask", po::value<std::vector<std::string>>()->composing(),
      "restrict sampling (repeatable, comma-separated): all | layer:N | attention | mlp | layer:N:attention | "
      "layer:N:mlp | role:R | a glob on tensor names | !SELECTOR to exclude")(
      "shared-batches", po::bool_switch(), "every chain sees the same batch sequence (only the noise differs)")(
      "no-mala", po::bool_switch(), "skip the MALA acceptance estimate (saves one parameter-sized buffer)")(
      "seed", po::value<std::uint64_t>()->default_value(defaults.seed), "Philox key of noise and minibatches")(
      "threads", po::value<int>()->default_value(0), "OpenMP threads (0: OMP_NUM_THREADS or all cores)");
  add_device_option(options);
}

// `command` names the subcommand in the error a --device it cannot use gives.
inline slt::LlcConfig read_llc_options(const po::variables_map& vm, const std::string& command) {
  read_device_option(vm, command);
  slt::LlcConfig c;
  c.sampler.kind = slt::parse_sampler_kind(vm["sampler"].as<std::string>());
  c.sampler.epsilon = vm["epsilon"].as<double>();
  c.sampler.localization = vm["gamma"].as<double>();
  c.sampler.nbeta = vm["nbeta"].as<double>();
  c.sampler.weight_decay = vm["weight-decay"].as<double>();
  c.sampler.noise_scale = vm["noise-scale"].as<double>();
  c.sampler.rmsprop_alpha = vm["rmsprop-alpha"].as<double>();
  c.sampler.rmsprop_eps = vm["rmsprop-eps"].as<double>();
  c.sampler.bounding_box = vm["bounding-box"].as<double>();
  c.chains = vm["chains"].as<int>();
  c.burn_in = vm["burn-in"].as<int>();
  c.draws = vm["draws"].as<int>();
  c.steps_between_draws = vm["steps-between-draws"].as<int>();
  c.batch_size = vm["batch"].as<std::size_t>();
  c.init_batches = vm["init-batches"].as<int>();
  if (vm.count("mask")) c.mask = slt::split_mask_selectors(vm["mask"].as<std::vector<std::string>>());
  c.shared_batches = vm["shared-batches"].as<bool>();
  c.mala = !vm["no-mala"].as<bool>();
  c.seed = vm["seed"].as<std::uint64_t>();
  c.validate();
  const int threads = vm["threads"].as<int>();
  LLC_CHECK(threads >= 0, ConfigError, "--threads", "use 0 (default) or a positive count", "{} is negative", threads);
  if (threads > 0) omp_set_num_threads(threads);
  return c;
}

}  // namespace llcpress::cli
