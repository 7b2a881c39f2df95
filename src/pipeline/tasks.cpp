// The task kinds a job can run on a checkpoint: "llc" (slt) and one kind per
// compression method of compress::method_table(). Each declares its INI keys
// (validated with the whole job before any compute), estimates its work, and
// runs one shard into the shard file's /result group.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "compress/method.h"
#include "compress/sweep.h"
#include "compress/sweep_io.h"
#include "core/check.h"
#include "lattice/lattice.h"
#include "pipeline/task_context.h"
#include "slt/chain_checkpoint.h"
#include "slt/llc_estimator.h"
#include "slt/llc_output.h"
#include "slt/parameter_mask.h"

namespace llcpress {

namespace {

std::vector<std::int64_t> range_samples(const SequenceRange& range) {
  std::vector<std::int64_t> samples(static_cast<std::size_t>(range.size()));
  for (std::int64_t i = 0; i < range.size(); ++i) samples[i] = range.begin + i;
  return samples;
}

// ---------------------------------------------------------------- llc

void add_llc_options(po::options_description& options) {
  // clang-format off
  options.add_options()
    ("llc.sampler", po::value<std::string>()->default_value("sgld"), "sgld or rmsprop-sgld")
    ("llc.epsilon", po::value<double>()->default_value(1e-4), "SGLD step size ε")
    ("llc.gamma", po::value<double>()->default_value(100.0), "localization strength γ")
    ("llc.nbeta", po::value<double>()->default_value(0.0), "inverse temperature nβ (0: b/ln b, b = data.batch)")
    ("llc.weight_decay", po::value<double>()->default_value(0.0), "weight decay λ_wd of the target")
    ("llc.noise_scale", po::value<double>()->default_value(1.0), "noise standard deviation σ")
    ("llc.rmsprop_alpha", po::value<double>()->default_value(0.99), "RMSprop-SGLD: decay α of V")
    ("llc.rmsprop_eps", po::value<double>()->default_value(0.1), "RMSprop-SGLD: eps_p in 1/(√V + eps_p)")
    ("llc.bounding_box", po::value<double>()->default_value(0.0), "clamp w to w* ± b (0: no box)")
    ("llc.chains", po::value<int>()->default_value(4), "independent chains")
    ("llc.burn_in", po::value<int>()->default_value(0), "steps before the first draw")
    ("llc.draws", po::value<int>()->default_value(100), "draws per chain")
    ("llc.steps_between_draws", po::value<int>()->default_value(1), "SGLD steps per draw")
    ("llc.init_batches", po::value<int>()->default_value(8), "batches averaged into L_init")
    ("llc.mask", po::value<std::string>()->default_value(""), "sample only these tensors: comma-separated slt/parameter_mask.h selectors (empty: all)")
    ("llc.shared_batches", po::value<bool>()->default_value(false), "every chain sees the same batch sequence")
    ("llc.mala", po::value<bool>()->default_value(true), "estimate the MALA acceptance (one extra parameter-sized buffer)");
  // clang-format on
}

slt::LlcConfig llc_config(const JobSpec& job) {
  const auto& values = job.values;
  slt::LlcConfig config;
  config.sampler.kind = slt::parse_sampler_kind(values["llc.sampler"].as<std::string>());
  config.sampler.epsilon = values["llc.epsilon"].as<double>();
  config.sampler.localization = values["llc.gamma"].as<double>();
  config.sampler.nbeta = values["llc.nbeta"].as<double>();
  config.sampler.weight_decay = values["llc.weight_decay"].as<double>();
  config.sampler.noise_scale = values["llc.noise_scale"].as<double>();
  config.sampler.rmsprop_alpha = values["llc.rmsprop_alpha"].as<double>();
  config.sampler.rmsprop_eps = values["llc.rmsprop_eps"].as<double>();
  config.sampler.bounding_box = values["llc.bounding_box"].as<double>();
  config.chains = values["llc.chains"].as<int>();
  config.burn_in = values["llc.burn_in"].as<int>();
  config.draws = values["llc.draws"].as<int>();
  config.steps_between_draws = values["llc.steps_between_draws"].as<int>();
  config.init_batches = values["llc.init_batches"].as<int>();
  config.batch_size = static_cast<std::size_t>(job.batch);
  config.samples = slt::SampleRange{job.sgld_sequences.begin, job.sgld_sequences.end};
  const std::string mask = values["llc.mask"].as<std::string>();
  if (!mask.empty()) config.mask = slt::split_mask_selectors({mask});
  config.shared_batches = values["llc.shared_batches"].as<bool>();
  config.mala = values["llc.mala"].as<bool>();
  config.seed = job.seed;
  config.progress = false;  // batch jobs: the runner logs per shard
  return config;
}

TaskKind llc_task() {
  TaskKind kind;
  kind.name = "llc";
  kind.section = "llc";
  kind.summary = "local learning coefficient (SGLD / RMSprop-SGLD)";
  kind.add_options = add_llc_options;
  kind.validate = [](const JobSpec& job) {
    // Reuses the estimator's own checks; they name the estimator's option
    // ("burn-in"), which is mapped to the job key ("llc.burn_in").
    try {
      llc_config(job).validate();
    } catch (const ConfigError& error) {
      std::string key = error.where();
      std::replace(key.begin(), key.end(), '-', '_');
      key = key == "batch" ? "data.batch" : "llc." + key;
      throw ConfigError(error.message(), key, error.hint());
    }
  };
  kind.estimate_token_passes = [](const JobSpec& job) {
    slt::LlcConfig config = llc_config(job);
    double steps = double(config.chains) * config.steps();
    return 3.0 * steps * job.batch * job.seq_len + double(config.init_batches) * job.batch * job.seq_len;
  };
  kind.run = [](TaskContext& context) {
    // The shard seed replaces the job seed (salt 0), so that
    // `llcpress llc --seed <shard_seed>` with the same keys reproduces the shard.
    slt::LlcConfig config = llc_config(context.job);
    config.seed = context.shard_seed;
    // ---- chain-level resume (issue 20): finished chains are kept in the
    // shard's partial file after each chain and reused by a later run with
    // the same settings on the same checkpoint.
    slt::ChainCheckpointInfo info;
    info.key = slt::to_json(config).dump() + " checkpoint_sha256=" + context.checkpoint.content_hash;
    info.host = context.host;
    info.pid = static_cast<std::int64_t>(getpid());
    info.rank = context.rank;
    slt::LlcHooks hooks;
    if (!context.partial_path.empty()) {
      slt::LoadedChains loaded = slt::read_chain_checkpoint(context.partial_path, info.key);
      if (!loaded.ignored_because.empty())
        spdlog::warn("shard {}: not resuming from {}: {}", context.shard.id, context.partial_path,
                     loaded.ignored_because);
      hooks.finished = std::move(loaded.chains);
      if (!hooks.finished.empty())
        spdlog::info("shard {}: resuming from {} ({} finished chains)", context.shard.id, context.partial_path,
                     hooks.finished.size());
      auto finished = std::make_shared<std::vector<slt::ChainResult>>(hooks.finished);
      hooks.chain_finished = [&context, info, finished](const slt::ChainResult& chain) {
        finished->push_back(chain);
        slt::write_chain_checkpoint(context.partial_path, info, *finished);
      };
    }
    hooks.stop_requested = context.stop_requested;
    slt::LlcResult result = slt::estimate_llc(context.sgld_model, config, hooks);
    context.resumed_units = result.chains_resumed;
    context.resumed_steps = result.steps_resumed;
    slt::write_llc(context.result, result);
    if (result.failed)
      context.failure = fmt::format("LLC estimate not usable: {} (lower llc.epsilon or raise llc.gamma, then rerun)",
                                    result.failure_reason);
    // ---- end chain-level resume
  };
  return kind;
}

// ---------------------------------------------------------------- compression

compress::SweepConfig sweep_config(const JobSpec& job, const std::string& method) {
  const auto& values = job.values;
  const std::string section = "compress." + method + ".";
  compress::SweepConfig config;
  config.method = method;
  config.epsilons = compress::parse_epsilons(values["compress.eps"].as<std::string>(), "compress.eps");
  config.options.tensors =
      compress::TensorSelection::parse(values[section + "tensors"].as<std::string>(), section + "tensors");
  config.options.per_channel = values[section + "per_channel"].as<bool>();
  config.options.clip_search_evaluations = values[section + "clip_search_evaluations"].as<int>();
  LLC_CHECK(config.options.clip_search_evaluations >= 1, ConfigError, section + "clip_search_evaluations",
            "use 1 (weight-MSE clip only) or more", "{} evaluations", config.options.clip_search_evaluations);
  config.options.noise_draws = values[section + "noise_draws"].as<int>();
  LLC_CHECK(config.options.noise_draws >= 1, ConfigError, section + "noise_draws", "use at least 1 draw", "{} draws",
            config.options.noise_draws);
  config.options.lattice = values[section + "lattice"].as<std::string>();
  try {
    lattice::find_lattice(config.options.lattice);
  } catch (const Error& error) {
    throw ConfigError(error.message(), section + "lattice", error.hint());
  }
  config.options.seed = job.seed;
  std::string scope = values[section + "prune_scope"].as<std::string>();
  LLC_CHECK(scope == "tensor" || scope == "global", ConfigError, section + "prune_scope", "use tensor or global",
            "unknown scope '{}'", scope);
  config.options.prune_global = scope == "global";
  if (values.count(section + "least")) config.least = values[section + "least"].as<double>();
  if (values.count(section + "most")) config.most = values[section + "most"].as<double>();
  if (values.count(section + "start")) config.start = values[section + "start"].as<double>();
  return config;
}

TaskKind compression_task(const compress::MethodEntry& entry) {
  TaskKind kind;
  kind.name = entry.info.name;
  kind.section = "compress." + entry.info.name;
  kind.summary = entry.info.summary;
  const std::string section = kind.section + ".";
  kind.add_options = [section](po::options_description& options) {
    // clang-format off
    options.add_options()
      ((section + "tensors").c_str(), po::value<std::string>()->default_value("linear"), "compressed tensors: linear, embedding, unembedding, norm, bias, all (comma list)")
      ((section + "per_channel").c_str(), po::value<bool>()->default_value(false), "quantizers: one clip per output row")
      ((section + "clip_search_evaluations").c_str(), po::value<int>()->default_value(7), "quant: loss evaluations per level count for the clip search")
      ((section + "noise_draws").c_str(), po::value<int>()->default_value(4), "noise: draws averaged per point")
      ((section + "prune_scope").c_str(), po::value<std::string>()->default_value("tensor"), "prune: tensor or global magnitude ranking")
      ((section + "lattice").c_str(), po::value<std::string>()->default_value("E8"), "lattice: the lattice of the nested code")
      ((section + "least").c_str(), po::value<double>(), "search range: parameter of least compression")
      ((section + "most").c_str(), po::value<double>(), "search range: parameter of most compression")
      ((section + "start").c_str(), po::value<double>(), "first parameter evaluated");
    // clang-format on
  };
  const std::string name = entry.info.name;
  kind.validate = [name](const JobSpec& job) { sweep_config(job, name); };  // throws ConfigError naming the key
  kind.estimate_token_passes = [](const JobSpec& job) {
    // A sweep takes about 10 points per ε plus the clip search: ~40 held-out passes (docs/compression.md).
    return 40.0 * double(job.eval_sequences.size()) * job.seq_len;
  };
  kind.run = [name](TaskContext& context) {
    compress::SweepConfig config = sweep_config(context.job, name);
    config.options.num_heads = context.checkpoint.model->config().num_attention_heads;
    config.options.seed = context.shard_seed;
    // As `llcpress sweep`: batches of at most min(batch, held-out sequences).
    const std::size_t batch =
        static_cast<std::size_t>(std::min<std::int64_t>(context.job.batch, context.job.eval_sequences.size()));
    compress::SweepResult result =
        compress::run_sweep(context.heldout_model, config, range_samples(context.job.eval_sequences), batch);
    compress::write_sweep(context.result, result);
  };
  return kind;
}

}  // namespace

const std::vector<TaskKind>& task_kinds() {
  static const std::vector<TaskKind> kinds = [] {
    std::vector<TaskKind> table{llc_task()};
    for (const auto& entry : compress::method_table()) table.push_back(compression_task(entry));
    return table;
  }();
  return kinds;
}

}  // namespace llcpress
