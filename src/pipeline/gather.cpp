#include "pipeline/gather.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <utility>

#include "compress/sweep.h"
#include "core/check.h"
#include "io/hdf5.h"
#include "io/provenance.h"
#include "io/schema.h"
#include "pipeline/runner.h"

namespace llcpress {

namespace fs = std::filesystem;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double scalar(const io::Group& group, const char* name) { return group.read_vector<double>(name).at(0); }

struct LlcColumns {
  std::vector<std::string> model, checkpoint, sha256, status, reason;
  std::vector<std::int64_t> step, shard, chains_used, chains_diverged, sampled_parameters, parameters_total;
  std::vector<std::int64_t> chains, chains_unhealthy;
  std::vector<double> llc_mean, llc_std, llc_standard_error, init_loss, nbeta, seconds;
};

struct CriticalColumns {
  std::vector<std::string> model, checkpoint, method, parameter, parameter_unit, status;
  std::vector<std::int64_t> step, shard, parameters_total, parameters_compressed;
  std::vector<double> eps, critical_amount, critical_effective, first_failing, threshold, reference_loss,
      bits_per_weight, predicted_bits, llc_mean;
};

struct CurveColumns {
  std::vector<std::string> model, method, parameter, parameter_unit;
  std::vector<std::int64_t> step, shard, loss_evaluations;
  std::vector<double> amount, effective_amount, loss, loss_increase, loss_std, bits_per_weight, reference_loss;
};

// The λ̂ of a checkpoint, when the job has an llc shard for it (for the
// predicted bits of the critical rows).
using LlcByCheckpoint = std::map<std::pair<std::string, std::string>, double>;

void add_llc_row(LlcColumns& llc, const Shard& shard, const io::Group& root, const io::Group& result) {
  llc.model.push_back(shard.model);
  llc.checkpoint.push_back(shard.checkpoint);
  llc.sha256.push_back(root.attribute<std::string>("checkpoint_sha256"));
  llc.step.push_back(shard.step);
  llc.shard.push_back(shard.id);
  llc.llc_mean.push_back(scalar(result, "llc_mean"));
  llc.llc_std.push_back(scalar(result, "llc_std"));
  llc.llc_standard_error.push_back(scalar(result, "llc_standard_error"));
  llc.init_loss.push_back(scalar(result, "init_loss"));
  llc.nbeta.push_back(scalar(result, "nbeta"));
  llc.chains_used.push_back(result.attribute<std::int64_t>("chains_used"));
  llc.chains_diverged.push_back(result.attribute<std::int64_t>("chains_diverged"));
  // ---- chain health (issue 20); shards written before it count every non-diverged chain as healthy.
  llc.chains.push_back(io::read_table(result, "chains").num_rows());
  llc.chains_unhealthy.push_back(result.has_attribute("chains_unhealthy")
                                     ? result.attribute<std::int64_t>("chains_unhealthy")
                                     : llc.chains_diverged.back());
  const bool failed = root.has_attribute("status") && root.attribute<std::string>("status") == "failed";
  llc.status.push_back(failed ? "failed" : "done");
  llc.reason.push_back(failed ? root.attribute<std::string>("failure_reason") : std::string());
  llc.sampled_parameters.push_back(result.attribute<std::int64_t>("sampled_parameters"));
  // llc shards of schema_version <= 2 (still read) said total_parameters.
  const bool retired_name = !result.has_attribute("parameters_total");
  llc.parameters_total.push_back(
      result.attribute<std::int64_t>(retired_name ? "total_parameters" : "parameters_total"));
  llc.seconds.push_back(root.attribute<double>("wall_seconds"));
}

void add_sweep_rows(CriticalColumns& critical, CurveColumns& curves, const Shard& shard, const io::Group& result,
                    const LlcByCheckpoint& llc) {
  const std::string method = result.attribute<std::string>("method");
  const std::string parameter = result.attribute<std::string>("parameter");
  const std::string parameter_unit = result.attribute<std::string>("parameter_unit");
  const double reference_loss = result.attribute<double>("reference_loss");
  const std::int64_t total = result.attribute<std::int64_t>("parameters_total");
  const std::int64_t compressed = result.attribute<std::int64_t>("parameters_compressed");
  const auto found = llc.find({shard.model, shard.checkpoint});
  const double lambda = found == llc.end() ? kNaN : found->second;

  const io::Table criticals = io::read_table(result, "criticals");
  const auto& eps = criticals.values<double>("eps");
  for (std::size_t i = 0; i < eps.size(); ++i) {
    critical.model.push_back(shard.model);
    critical.checkpoint.push_back(shard.checkpoint);
    critical.method.push_back(method);
    critical.parameter.push_back(parameter);
    critical.parameter_unit.push_back(parameter_unit);
    critical.status.push_back(criticals.values<std::string>("status")[i]);
    critical.step.push_back(shard.step);
    critical.shard.push_back(shard.id);
    critical.parameters_total.push_back(total);
    critical.parameters_compressed.push_back(compressed);
    critical.eps.push_back(eps[i]);
    critical.critical_amount.push_back(criticals.values<double>("critical_amount")[i]);
    critical.critical_effective.push_back(criticals.values<double>("critical_effective")[i]);
    critical.first_failing.push_back(criticals.values<double>("first_failing")[i]);
    critical.threshold.push_back(criticals.values<double>("threshold")[i]);
    critical.reference_loss.push_back(reference_loss);
    critical.bits_per_weight.push_back(criticals.values<double>("bits_per_weight")[i]);
    // The same formula `llcpress sweep --llc λ` records: (λ/d)·log2(1/ε), d = all parameters.
    critical.predicted_bits.push_back(std::isfinite(lambda) ? compress::predicted_bits(lambda, total, eps[i]) : kNaN);
    critical.llc_mean.push_back(lambda);
  }

  const io::Table points = io::read_table(result, "points");
  const auto& amount = points.values<double>("amount");
  for (std::size_t i = 0; i < amount.size(); ++i) {
    curves.model.push_back(shard.model);
    curves.method.push_back(method);
    curves.parameter.push_back(parameter);
    curves.parameter_unit.push_back(parameter_unit);
    curves.step.push_back(shard.step);
    curves.shard.push_back(shard.id);
    curves.loss_evaluations.push_back(points.values<std::int64_t>("loss_evaluations")[i]);
    curves.amount.push_back(amount[i]);
    curves.effective_amount.push_back(points.values<double>("effective_amount")[i]);
    curves.loss.push_back(points.values<double>("loss")[i]);
    curves.loss_increase.push_back(points.values<double>("loss_increase")[i]);
    curves.loss_std.push_back(points.values<double>("loss_std")[i]);
    curves.bits_per_weight.push_back(points.values<double>("bits_per_weight")[i]);
    curves.reference_loss.push_back(reference_loss);
  }
}

}  // namespace

GatherSummary gather_results(const Plan& plan) {
  GatherSummary summary;
  summary.path = (fs::path(plan.output) / "results.h5").string();
  const auto statuses = shard_statuses(plan);

  io::File results = io::File::create_atomic(summary.path);
  io::Group& root = results.root();
  io::write_provenance(root, plan.job_resolved.dump());
  root.set_attribute("kind", "llcpress-results");
  root.set_attribute("job_name", plan.job_resolved.value("job.name", std::string("job")));
  root.set_attribute("job_path", plan.job_path);
  root.set_attribute("output", plan.output);
  root.set_attribute("plan_json", plan.to_json().dump());

  // LLC shards first: the critical rows need λ̂ of their checkpoint.
  LlcColumns llc;
  CriticalColumns critical;
  CurveColumns curves;
  LlcByCheckpoint llc_by_checkpoint;
  std::vector<std::string> state(plan.shards.size()), reason(plan.shards.size());
  std::vector<double> wall_seconds(plan.shards.size(), kNaN);
  std::vector<std::int64_t> rank(plan.shards.size(), -1);
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& status : statuses) {
      const Shard& shard = plan.shards[status.id];
      if (pass == 0) {
        state[status.id] = shard_state_name(status.state);
        reason[status.id] = status.reason;
        if (status.state == ShardState::Done) ++summary.shards_done;
        if (status.state == ShardState::Failed) ++summary.shards_failed;
        if (status.state == ShardState::Missing) ++summary.shards_missing;
        if (status.state == ShardState::Stale) ++summary.shards_stale;
        if (status.state == ShardState::Bad) ++summary.shards_bad;
      }
      // ---- chain health (issue 20): a failed LLC shard whose result was kept
      // (too few healthy chains) gets a row with status "failed", never a λ̂ for
      // the critical rows.
      if (pass == 0 && shard.task == "llc" && status.state == ShardState::Failed &&
          fs::exists(shard_failed_result_path(plan, shard.id))) {
        const std::string failed_path = shard_failed_result_path(plan, shard.id);
        try {
          io::File file = io::File::open_read_only(failed_path);
          add_llc_row(llc, shard, file.root(), file.root().open_group("result"));
          ++summary.llc_rows_failed;
        } catch (const Error& error) {
          spdlog::warn("shard {}: the kept result {} is unreadable ({}); only its error record is gathered", shard.id,
                       failed_path, error.what());
        }
        continue;
      }
      // ---- end chain health
      if (status.state != ShardState::Done || (shard.task == "llc") != (pass == 0)) continue;
      const std::string path = plan.shard_path(shard.id);
      try {
        io::File file = io::File::open_read_only(path);
        const io::Group& shard_root = file.root();
        io::check_schema_version(shard_root);
        LLC_CHECK(shard_root.attribute<std::int64_t>("shard_id") == shard.id &&
                      shard_root.attribute<std::string>("task") == shard.task &&
                      shard_root.attribute<std::string>("checkpoint") == shard.checkpoint,
                  InputError, path, "the output directory holds shards of another plan: rerun the job into a new one",
                  "the shard file does not belong to shard {} of the plan ({} on {})", shard.id, shard.task,
                  shard.checkpoint);
        const io::Group result = shard_root.open_group("result");
        wall_seconds[shard.id] = shard_root.attribute<double>("wall_seconds");
        rank[shard.id] = shard_root.attribute<std::int64_t>("rank");
        if (shard.task == "llc") {
          add_llc_row(llc, shard, shard_root, result);
          llc_by_checkpoint[{shard.model, shard.checkpoint}] = llc.llc_mean.back();
        } else {
          add_sweep_rows(critical, curves, shard, result, llc_by_checkpoint);
        }
        // An external link, not a copy: HDF5 1.10's H5Ocopy crashes on the shards'
        // variable-length string attributes, and a link keeps gather's cost
        // independent of the size of the traces. The relative target resolves
        // against results.h5's own directory.
        root.link_external("shards/" + fs::path(Plan::shard_file_name(shard.id)).stem().string(),
                           "shards/" + Plan::shard_file_name(shard.id), "/");
      } catch (const Error& error) {
        throw IoError(fmt::format("cannot gather shard {}: {}", shard.id, error.what()), path,
                      "delete the shard file and `llcpress rerun` it");
      }
    }
  }
  root.set_attribute("shards_planned", static_cast<std::int64_t>(plan.shards.size()));
  root.set_attribute("shards_done", static_cast<std::int64_t>(summary.shards_done));
  root.set_attribute("shards_failed", static_cast<std::int64_t>(summary.shards_failed));
  root.set_attribute("shards_missing", static_cast<std::int64_t>(summary.shards_missing));
  root.set_attribute("shards_stale", static_cast<std::int64_t>(summary.shards_stale));
  root.set_attribute("shards_bad", static_cast<std::int64_t>(summary.shards_bad));

  std::vector<std::string> shard_model, shard_task, shard_checkpoint;
  std::vector<std::int64_t> shard_id, shard_step;
  for (const auto& shard : plan.shards) {
    shard_id.push_back(shard.id);
    shard_model.push_back(shard.model);
    shard_step.push_back(shard.step);
    shard_task.push_back(shard.task);
    shard_checkpoint.push_back(shard.checkpoint);
  }
  io::Table shards;
  shards.add("shard", shard_id, "", "shard id (position in plan.json)")
      .add("model", shard_model, "", "model name from the job file")
      .add("step", shard_step, "steps", "training step of the checkpoint (-1 when the path has no step<k>)")
      .add("task", shard_task, "", "llc or a compression method")
      .add("checkpoint", shard_checkpoint, "", "checkpoint path")
      .add("state", state, "",
           "done | stale | bad | failed | missing when gathered (only done shards are in the tables)")
      .add("reason", reason, "", "failed: the recorded error; stale: the settings that differ; bad: why unreadable")
      .add("rank", rank, "", "MPI rank that wrote the shard (-1 unless done)")
      .add("wall_seconds", wall_seconds, "s", "wall time of the shard (NaN unless done)");
  io::write_table(root, "tables/shards", shards, "one row per planned shard");

  io::Table llc_table;
  llc_table.add("model", llc.model, "", "model name from the job file")
      .add("step", llc.step, "steps", "training step of the checkpoint")
      .add("llc_mean", llc.llc_mean, "1", "LLC estimate: mean over the healthy chains")
      .add("llc_std", llc.llc_std, "1", "sample standard deviation (n-1) of the per-chain estimates")
      .add("llc_standard_error", llc.llc_standard_error, "1", "llc_std / sqrt(chains_used)")
      .add("init_loss", llc.init_loss, "nats", "L_init: loss at the checkpoint over the init batches")
      .add("nbeta", llc.nbeta, "1", "inverse temperature n*beta used")
      .add("status", llc.status, "", "done | failed (too few healthy chains: llc_* must not be used)")
      .add("failure_reason", llc.reason, "", "why the shard failed, naming the unhealthy chains (empty when done)")
      .add("chains", llc.chains, "1", "chains run")
      .add("chains_used", llc.chains_used, "1",
           "chains averaged into llc_mean: the healthy ones, those that passed every health rule (docs/llc.md)")
      .add("chains_unhealthy", llc.chains_unhealthy, "1",
           "chains left out: diverged, out of band, low MALA "
           "acceptance or not stationary")
      .add("chains_diverged", llc.chains_diverged, "1", "chains stopped on NaN/Inf")
      .add("sampled_parameters", llc.sampled_parameters, "1", "parameters the sampler moved (the mask)")
      .add("parameters_total", llc.parameters_total, "1", "parameters of the model")
      .add("seconds", llc.seconds, "s", "wall time of the shard")
      .add("checkpoint", llc.checkpoint, "", "checkpoint path")
      .add("checkpoint_sha256", llc.sha256, "", "content hash of the checkpoint's tensors")
      .add("shard", llc.shard, "", "shard id (group /shards/<id>)");
  io::write_table(root, "tables/llc", llc_table, "one row per checkpoint with an llc shard");

  io::Table critical_table;
  critical_table.add("model", critical.model, "", "model name from the job file")
      .add("step", critical.step, "steps", "training step of the checkpoint")
      .add("method", critical.method, "", "compression method")
      .add("parameter", critical.parameter, "", "name of the method's compression parameter")
      .add("parameter_unit", critical.parameter_unit, "", "units of critical_amount (the parameter's)")
      .add("eps", critical.eps, "nats/token", "tolerated increase of the held-out loss")
      .add("critical_amount", critical.critical_amount, "see parameter_unit",
           "most compression with loss <= reference_loss + eps (NaN when none)")
      .add("critical_effective", critical.critical_effective, "see parameter_unit",
           "the parameter as realised at the critical point")
      .add("status", critical.status, "", "found | all_within_tolerance (a bound) | none_within_tolerance")
      .add("first_failing", critical.first_failing, "see parameter_unit",
           "the evaluated point just beyond the critical one")
      .add("threshold", critical.threshold, "nats/token", "reference_loss + eps")
      .add("reference_loss", critical.reference_loss, "nats/token", "held-out loss of the uncompressed checkpoint")
      .add("bits_per_weight", critical.bits_per_weight, "bits/parameter",
           "quantizers: bits per weight at the critical point (NaN for other methods)")
      .add("predicted_bits", critical.predicted_bits, "bits/parameter",
           "(llc_mean / parameters_total) * log2(1 / eps), NaN without an llc shard")
      .add("llc_mean", critical.llc_mean, "1", "LLC estimate of the checkpoint (NaN without an llc shard)")
      .add("parameters_total", critical.parameters_total, "1", "parameters of the model")
      .add("parameters_compressed", critical.parameters_compressed, "1", "parameters the method compressed")
      .add("checkpoint", critical.checkpoint, "", "checkpoint path")
      .add("shard", critical.shard, "", "shard id (group /shards/<id>)");
  io::write_table(root, "tables/critical", critical_table, "one row per checkpoint x method x eps");

  io::Table curve_table;
  curve_table.add("model", curves.model, "", "model name from the job file")
      .add("step", curves.step, "steps", "training step of the checkpoint")
      .add("method", curves.method, "", "compression method")
      .add("parameter", curves.parameter, "", "name of the method's compression parameter")
      .add("parameter_unit", curves.parameter_unit, "", "units of amount")
      .add("amount", curves.amount, "see parameter_unit", "the parameter of the evaluated point")
      .add("effective_amount", curves.effective_amount, "see parameter_unit", "the parameter as realised")
      .add("loss", curves.loss, "nats/token", "held-out loss at this amount")
      .add("loss_increase", curves.loss_increase, "nats/token", "loss - reference_loss")
      .add("loss_std", curves.loss_std, "nats/token", "standard deviation over noise draws (0 when deterministic)")
      .add("bits_per_weight", curves.bits_per_weight, "bits/parameter", "quantizers: bits per weight")
      .add("reference_loss", curves.reference_loss, "nats/token", "held-out loss of the uncompressed checkpoint")
      .add("loss_evaluations", curves.loss_evaluations, "1", "held-out evaluations spent on this point")
      .add("shard", curves.shard, "", "shard id (group /shards/<id>)");
  io::write_table(root, "tables/curves", curve_table, "one row per evaluated point of every sweep");

  summary.llc_rows = llc_table.num_rows();
  summary.critical_rows = critical_table.num_rows();
  summary.curve_rows = curve_table.num_rows();
  results.commit();
  return summary;
}

}  // namespace llcpress
