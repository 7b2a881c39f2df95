// The task kinds a job can run on a checkpoint: "llc" (slt) and one kind per
// compression method of compress::method_table(). Each declares its INI keys
// (validated with the whole job before any compute), estimates its work, and
// runs one shard into the shard file's /result group. The keys themselves are
// declared once, in pipeline/task_options.cpp.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "compress/method.h"
#include "compress/sweep.h"
#include "compress/sweep_io.h"
#include "core/check.h"
#include "pipeline/task_context.h"
#include "pipeline/task_options.h"
#include "slt/chain_checkpoint.h"
#include "slt/llc_estimator.h"
#include "slt/llc_output.h"

namespace llcpress {

namespace {

std::vector<std::int64_t> range_samples(const SequenceRange& range) {
  std::vector<std::int64_t> samples(static_cast<std::size_t>(range.size()));
  for (std::int64_t i = 0; i < range.size(); ++i) samples[i] = range.begin + i;
  return samples;
}

// ---------------------------------------------------------------- llc
// The keys are those of llc_option_table() (pipeline/task_options.h), in [llc].

slt::LlcConfig llc_config(const JobSpec& job) {
  const auto& table = llc_option_table();
  slt::LlcConfig config = table.read(job.values, table.defaults("job"), Surface::Job, table.section);
  config.samples = slt::SampleRange{job.sgld_sequences.begin, job.sgld_sequences.end};
  config.seed = job.seed;
  config.progress = false;  // batch jobs: the runner logs per shard
  return config;
}

TaskKind llc_task() {
  TaskKind kind;
  kind.name = "llc";
  kind.section = "llc";
  kind.summary = "local learning coefficient (SGLD / RMSprop-SGLD)";
  kind.add_options = [](po::options_description& options) {
    const auto& table = llc_option_table();
    table.declare(options, Surface::Job, table.defaults("job"), table.section);
  };
  kind.validate = [](const JobSpec& job) { llc_config(job); };  // ConfigError naming the job key
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

// The keys are those of compression_option_table(), in [compress.<method>] (eps: compress.eps).
compress::SweepConfig sweep_config(const JobSpec& job, const std::string& method) {
  const auto& table = compression_option_table();
  compress::SweepConfig config = table.read(job.values, table.defaults("job"), Surface::Job, "compress." + method);
  config.method = method;
  config.options.seed = job.seed;
  return config;
}

TaskKind compression_task(const compress::MethodEntry& entry) {
  TaskKind kind;
  kind.name = entry.info.name;
  kind.section = "compress." + entry.info.name;
  kind.summary = entry.info.summary;
  kind.add_options = [section = kind.section](po::options_description& options) {
    const auto& table = compression_option_table();
    table.declare(options, Surface::Job, table.defaults("job"), section);
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
