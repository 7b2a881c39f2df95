#include "compress/sweep_io.h"

#include <cmath>

namespace llcpress::compress {

void write_sweep(io::Group& group, const SweepResult& result) {
  const MethodInfo& info = result.info;
  group.set_attribute("description",
                      "compression sweep: held-out loss against the amount of compression, and the "
                      "critical amount at each tolerance eps");
  group.set_attribute("method", info.name);
  group.set_attribute("method_summary", info.summary);
  group.set_attribute("parameter", info.parameter);
  group.set_attribute("parameter_unit", info.unit);
  group.set_attribute("parameter_units", info.units);
  group.set_attribute("meaning", info.meaning);
  group.set_attribute("more_compression", info.direction == Direction::LargerIsMore ? "larger" : "smaller");
  group.set_attribute("reference_loss", result.reference_loss);
  group.set_attribute("reference_loss_units", "nats/token");
  group.set_attribute("eps", std::span<const double>(result.epsilons));
  group.set_attribute("llc_mean", result.llc ? *result.llc : std::nan(""));
  group.set_attribute("parameters_total", static_cast<std::int64_t>(result.parameters_total));
  group.set_attribute("parameters_compressed", static_cast<std::int64_t>(result.parameters_compressed));
  group.set_attribute("loss_evaluations", static_cast<std::int64_t>(result.loss_evaluations));
  group.set_attribute("batch_size", static_cast<std::int64_t>(result.batch_size));
  group.set_attribute("seconds_total", result.seconds_total);
  group.set_attribute("seconds_prepare", result.seconds_prepare);
  group.set_attribute("seconds_loss", result.seconds_loss);
  group.set_attribute("seconds_apply", result.seconds_apply);
  const nlohmann::json json = to_json(result);
  group.set_attribute("method_config_json", json["config"].dump());
  group.set_attribute("search_json", json["search"].dump());

  io::DatasetOptions sample_options;
  sample_options.units = "sequence number";
  sample_options.description = "held-out samples the loss is averaged over";
  group.write<std::int64_t>("held_out_samples", result.samples, sample_options);

  std::vector<double> parameter, effective, loss, increase, spread, bits, clip_scale, seconds_apply, seconds_loss;
  std::vector<std::int64_t> evaluations;
  std::vector<double> trial_parameter, trial_scale, trial_loss, draw_parameter, draw_loss;
  std::vector<std::int64_t> draw_index;
  for (const EvaluatedPoint& point : result.points) {
    parameter.push_back(point.parameter);
    effective.push_back(point.effective_parameter);
    loss.push_back(point.loss);
    increase.push_back(point.loss - result.reference_loss);
    spread.push_back(point.loss_std);
    bits.push_back(point.bits_per_weight);
    clip_scale.push_back(point.clip_scale);
    seconds_apply.push_back(point.seconds_apply);
    seconds_loss.push_back(point.seconds_loss);
    evaluations.push_back(point.loss_evaluations);
    for (const ClipTrial& trial : point.clip_trials) {
      trial_parameter.push_back(point.parameter);
      trial_scale.push_back(trial.clip_scale);
      trial_loss.push_back(trial.loss);
    }
    if (info.stochastic) {
      for (std::size_t d = 0; d < point.draw_losses.size(); ++d) {
        draw_parameter.push_back(point.parameter);
        draw_index.push_back(static_cast<std::int64_t>(d));
        draw_loss.push_back(point.draw_losses[d]);
      }
    }
  }
  io::Table points;
  points.add("amount", parameter, info.unit, info.parameter + " of the evaluated point")
      .add("effective_amount", effective, info.unit,
           "the parameter as realised (whole ranks / entries per tensor), over all compressed tensors")
      .add("loss", loss, "nats/token", "held-out loss (mean over draws; quant: best clip)")
      .add("loss_increase", increase, "nats/token", "loss - reference_loss")
      .add("loss_std", spread, "nats/token", "standard deviation over noise draws (0 when deterministic)")
      .add("loss_evaluations", evaluations, "1", "held-out loss evaluations spent on this point")
      .add("bits_per_weight", bits, "bits/parameter", "quantizers: log2(levels) or the lattice rate spent")
      .add("clip_scale", clip_scale, "1", "quant: chosen multiple of the weight-MSE-optimal clip")
      .add("seconds_apply", seconds_apply, "s", "time spent compressing the weights")
      .add("seconds_loss", seconds_loss, "s", "time spent evaluating the held-out loss");
  io::write_table(group, "points", points, "the loss-vs-amount curve: every evaluated point, sorted by amount");

  std::vector<double> epsilon, threshold, critical, critical_effective, first_failing, critical_bits, predicted;
  std::vector<std::string> status;
  std::vector<std::int64_t> new_evaluations;
  for (const CriticalSummary& summary : result.criticals) {
    epsilon.push_back(summary.search.epsilon);
    threshold.push_back(summary.search.threshold);
    status.push_back(critical_status_name(summary.search.status));
    critical.push_back(summary.search.critical);
    critical_effective.push_back(summary.critical_effective);
    first_failing.push_back(summary.search.first_failing);
    new_evaluations.push_back(summary.search.new_evaluations);
    critical_bits.push_back(summary.critical_bits);
    predicted.push_back(summary.predicted_bits);
  }
  io::Table criticals;
  criticals.add("eps", epsilon, "nats/token", "tolerated loss increase")
      .add("threshold", threshold, "nats/token", "reference_loss + eps")
      .add("status", status, "",
           "found | all_within_tolerance (critical is the range end, a bound) | none_within_tolerance")
      .add("critical_amount", critical, info.unit, "most compression with loss <= threshold (NaN when none)")
      .add("critical_effective", critical_effective, info.unit, "effective_amount at the critical point")
      .add("first_failing", first_failing, info.unit, "the evaluated point just beyond the critical one")
      .add("new_evaluations", new_evaluations, "1", "points this eps added to the shared cache")
      .add("bits_per_weight", critical_bits, "bits/parameter", "quantizers: bits at the critical point")
      .add("predicted_bits", predicted, "bits/parameter",
           "(llc_mean / parameters_total) * log2(1 / eps), when llc_mean is given");
  io::write_table(group, "criticals", criticals, "critical amount of compression per tolerance");

  if (!trial_parameter.empty()) {
    io::Table trials;
    trials.add("amount", trial_parameter, info.unit, "level count")
        .add("clip_scale", trial_scale, "1", "multiple of the weight-MSE-optimal clip")
        .add("loss", trial_loss, "nats/token", "held-out loss");
    io::write_table(group, "clip_trials", trials, "quant: every clip tried by the 1-D loss search");
  }
  if (!draw_parameter.empty()) {
    io::Table draws;
    draws.add("amount", draw_parameter, info.unit, "noise scale")
        .add("draw", draw_index, "1", "draw index (Philox stream)")
        .add("loss", draw_loss, "nats/token", "held-out loss of this draw");
    io::write_table(group, "draw_losses", draws, "noise: every draw of every point");
  }
}

}  // namespace llcpress::compress
