#include "compress/sweep.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include "core/check.h"
#include "core/log.h"
#include "core/timer.h"

namespace llcpress::compress {

HeldOutLoss::HeldOutLoss(LossModel& model, std::vector<std::int64_t> samples, std::size_t batch_size)
    : model_(model), samples_(std::move(samples)), batch_size_(batch_size) {
  LLC_CHECK(!samples_.empty(), ConfigError, "sequences", "give a non-empty range, e.g. --sequences 0:64",
            "the held-out set is empty");
  const auto available = static_cast<std::int64_t>(model_.num_samples());
  for (std::int64_t sample : samples_)
    LLC_CHECK(sample >= 0 && sample < available, InputError, "sequences",
              fmt::format("choose samples in [0, {})", available), "held-out sample {} is outside the dataset", sample);
  LLC_CHECK(batch_size_ >= 1, ConfigError, "batch", "use a batch of at least 1", "batch size is 0");
  batch_size_ = std::min(batch_size_, std::max<std::size_t>(1, model_.max_batch_size()));
  // w* is the model's one copy: taken from the current parameters here.
  model_.hold_reference();
}

HeldOutLoss::~HeldOutLoss() { restore(); }

void HeldOutLoss::restore() { model_.restore_reference(); }

double HeldOutLoss::loss() {
  Stopwatch watch;
  double total = 0;
  for (std::size_t begin = 0; begin < samples_.size(); begin += batch_size_) {
    const std::size_t count = std::min(batch_size_, samples_.size() - begin);
    Batch batch{std::span<const std::int64_t>(samples_).subspan(begin, count)};
    total += model_.loss(batch) * static_cast<double>(count);
  }
  ++evaluations_;
  seconds_ += watch.seconds();
  return total / static_cast<double>(samples_.size());
}

std::vector<std::int64_t> parse_sample_range(const std::string& text, const std::string& key) {
  const auto colon = text.find(':');
  std::int64_t first = 0, last = 0;
  bool ok = colon != std::string::npos;
  if (ok) {
    try {
      std::size_t used_first = 0, used_last = 0;
      first = std::stoll(text.substr(0, colon), &used_first);
      last = std::stoll(text.substr(colon + 1), &used_last);
      ok = used_first == colon && used_last == text.size() - colon - 1;
    } catch (const std::exception&) {
      ok = false;
    }
  }
  LLC_CHECK(ok, ConfigError, key, "write the range as A:B (samples A to B-1), e.g. 0:64",
            "cannot read the sample range '{}'", text);
  LLC_CHECK(first >= 0 && last > first && last - first <= (std::int64_t{1} << 24), ConfigError, key,
            "write A:B with 0 <= A < B (at most 2^24 samples)", "the sample range '{}' is empty or invalid", text);
  std::vector<std::int64_t> samples(static_cast<std::size_t>(last - first));
  for (std::int64_t i = first; i < last; ++i) samples[static_cast<std::size_t>(i - first)] = i;
  return samples;
}

std::vector<double> parse_epsilons(const std::string& text, const std::string& key) {
  std::vector<double> epsilons;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    if (item.find_first_not_of(" \t") == std::string::npos) continue;
    double value = 0;
    std::size_t used = 0;
    try {
      value = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    LLC_CHECK(used > 0 && item.find_first_not_of(" \t", used) == std::string::npos && std::isfinite(value) && value > 0,
              ConfigError, key, "give positive tolerances in nats, e.g. --eps 0.3,0.5,0.7", "invalid tolerance '{}'",
              item);
    epsilons.push_back(value);
  }
  LLC_CHECK(!epsilons.empty(), ConfigError, key, "e.g. --eps 0.3,0.5,0.7", "no tolerance given");
  std::sort(epsilons.begin(), epsilons.end());
  epsilons.erase(std::unique(epsilons.begin(), epsilons.end()), epsilons.end());
  return epsilons;
}

double predicted_bits(double llc, std::size_t dimension, double epsilon) {
  return llc / static_cast<double>(dimension) * std::log2(1.0 / epsilon);
}

SweepResult run_sweep(LossModel& model, const SweepConfig& config, std::vector<std::int64_t> samples,
                      std::size_t batch_size) {
  Stopwatch total_watch;
  SweepResult result;
  const MethodEntry& entry = find_method(config.method);
  std::unique_ptr<CompressionMethod> method = entry.make(config.options);
  result.info = entry.info;
  result.epsilons = config.epsilons;
  std::sort(result.epsilons.begin(), result.epsilons.end());
  LLC_CHECK(!result.epsilons.empty(), ConfigError, "eps", "e.g. --eps 0.3,0.5,0.7", "no tolerance given");
  result.llc = config.llc;

  HeldOutLoss oracle(model, std::move(samples), batch_size);
  Stopwatch watch;
  // prepare() reads w* on the host: the model's own copy when it lives in
  // host memory, otherwise a host download of it (read_parameters: the
  // parameters are w* right after hold_reference), kept for the whole sweep
  // because the quantizer computes its clips lazily from it.
  std::vector<float> host_reference;
  std::span<const float> prepare_reference = oracle.reference();
  if (model.memory_space() != MemorySpace::Host) {
    host_reference.resize(prepare_reference.size());
    model.read_parameters(host_reference);
    prepare_reference = host_reference;
  }
  method->prepare(model.parameter_table(), prepare_reference);
  method->prepare_backend(oracle.backend(), oracle.reference());
  result.seconds_prepare = watch.seconds();

  SearchAxis axis = method->axis();
  if (config.least) axis.least = *config.least;
  if (config.most) axis.most = *config.most;
  if (config.start) {
    axis.start = *config.start;
  } else if (axis.start < std::min(axis.least, axis.most) || axis.start > std::max(axis.least, axis.most)) {
    axis.start = axis.from_position(0.5);
    if (axis.integer) axis.start = std::round(axis.start);
  }
  axis.validate(config.method + " search range");
  result.axis = axis;
  result.method_config = method->config();
  result.parameters_total = model.parameter_table().total_size();
  result.parameters_compressed = method->compressed_count();

  result.reference_loss = oracle.loss();
  LLC_CHECK(std::isfinite(result.reference_loss), NumericalError, "checkpoint",
            "check the checkpoint and the held-out data", "the uncompressed held-out loss is {}",
            result.reference_loss);
  spdlog::info("{}: L0 = {:.5f} on {} held-out samples; {} of {} parameters compressed", config.method,
               result.reference_loss, oracle.samples().size(), result.parameters_compressed, result.parameters_total);

  std::map<double, EvaluatedPoint> details;
  LossCurve curve([&](double parameter) {
    EvaluatedPoint point = method->evaluate(parameter, oracle);
    spdlog::info("{}: {} = {:g} -> loss {:.5f} (L0 {:+.4f}) [{} evaluations, {:.2f} s]", config.method,
                 entry.info.parameter, parameter, point.loss, point.loss - result.reference_loss,
                 point.loss_evaluations, point.seconds_apply + point.seconds_loss);
    result.seconds_apply += point.seconds_apply;
    result.seconds_loss += point.seconds_loss;
    details[parameter] = std::move(point);
    return details[parameter].loss;
  });
  for (double epsilon : result.epsilons) {
    CriticalSummary summary;
    summary.search = find_critical(axis, result.reference_loss + epsilon, curve);
    summary.search.epsilon = epsilon;
    if (!std::isnan(summary.search.critical)) {
      summary.critical_bits = method->bits_per_weight(summary.search.critical);
      summary.critical_effective = method->effective_parameter(summary.search.critical);
    }
    if (config.llc) summary.predicted_bits = predicted_bits(*config.llc, result.parameters_total, epsilon);
    spdlog::info("{}: eps {:g}: {} {} = {:g} (first failing {:g}), {} new points", config.method, epsilon,
                 critical_status_name(summary.search.status), entry.info.parameter, summary.search.critical,
                 summary.search.first_failing, summary.search.new_evaluations);
    result.criticals.push_back(summary);
  }
  oracle.restore();
  for (auto& [parameter, point] : details) result.points.push_back(std::move(point));
  result.samples = oracle.samples();
  result.batch_size = oracle.batch_size();
  result.loss_evaluations = oracle.evaluations();
  result.seconds_total = total_watch.seconds();
  return result;
}

namespace {
nlohmann::json number_or_null(double value) { return std::isfinite(value) ? nlohmann::json(value) : nullptr; }
}  // namespace

nlohmann::json to_json(const SweepResult& result) {
  nlohmann::json points = nlohmann::json::array();
  for (const EvaluatedPoint& point : result.points) {
    nlohmann::json trials = nlohmann::json::array();
    for (const ClipTrial& trial : point.clip_trials)
      trials.push_back({{"clip_scale", trial.clip_scale}, {"loss", number_or_null(trial.loss)}});
    nlohmann::json draws = nlohmann::json::array();
    for (double loss : point.draw_losses) draws.push_back(number_or_null(loss));
    points.push_back({{"amount", point.parameter},
                      {"effective_amount", point.effective_parameter},
                      {"loss", number_or_null(point.loss)},
                      {"loss_increase", number_or_null(point.loss - result.reference_loss)},
                      {"loss_std", point.loss_std},
                      {"loss_evaluations", point.loss_evaluations},
                      {"bits_per_weight", number_or_null(point.bits_per_weight)},
                      {"clip_scale", number_or_null(point.clip_scale)},
                      {"seconds_apply", point.seconds_apply},
                      {"seconds_loss", point.seconds_loss},
                      {"draw_losses", draws},
                      {"clip_trials", trials}});
  }
  nlohmann::json criticals = nlohmann::json::array();
  for (const CriticalSummary& summary : result.criticals) {
    criticals.push_back({{"eps", summary.search.epsilon},
                         {"threshold", summary.search.threshold},
                         {"status", critical_status_name(summary.search.status)},
                         {"critical_amount", number_or_null(summary.search.critical)},
                         {"critical_effective", number_or_null(summary.critical_effective)},
                         {"first_failing", number_or_null(summary.search.first_failing)},
                         {"new_evaluations", summary.search.new_evaluations},
                         {"bits_per_weight", number_or_null(summary.critical_bits)},
                         {"predicted_bits", number_or_null(summary.predicted_bits)}});
  }
  const SearchAxis& axis = result.axis;
  return {
      {"method",
       {{"name", result.info.name},
        {"summary", result.info.summary},
        {"parameter", result.info.parameter},
        {"parameter_unit", result.info.unit},
        {"parameter_units", result.info.units},
        {"meaning", result.info.meaning},
        {"more_compression", result.info.direction == Direction::LargerIsMore ? "larger" : "smaller"},
        {"integer", result.info.integer},
        {"stochastic", result.info.stochastic}}},
      {"config", result.method_config},
      {"search",
       {{"least_compression", axis.least},
        {"most_compression", axis.most},
        {"integer", axis.integer},
        {"log_scale", axis.log_scale},
        {"start", axis.start},
        {"initial_step", axis.initial_step},
        {"resolution", axis.resolution},
        {"rule", "bracket (doubling steps) then bisection; first-crossing rule on non-monotone curves"}}},
      {"eps", result.epsilons},
      {"reference_loss", result.reference_loss},
      {"held_out", {{"samples", result.samples}, {"count", result.samples.size()}, {"batch_size", result.batch_size}}},
      {"parameters_total", result.parameters_total},
      {"parameters_compressed", result.parameters_compressed},
      {"llc_mean", result.llc ? nlohmann::json(*result.llc) : nlohmann::json(nullptr)},
      {"points", points},
      {"criticals", criticals},
      {"loss_evaluations", result.loss_evaluations},
      {"seconds",
       {{"total", result.seconds_total},
        {"prepare", result.seconds_prepare},
        {"loss", result.seconds_loss},
        {"apply", result.seconds_apply}}}};
}

std::string format_criticals(const SweepResult& result) {
  std::string text =
      fmt::format("{} ({}; L0 = {:.5f}, {} points, {} loss evaluations)\n", result.info.name, result.info.parameter,
                  result.reference_loss, result.points.size(), result.loss_evaluations);
  // Headers are the column names of the `criticals` table (docs/hdf5-schema.md, one name per quantity).
  text += fmt::format("{:>6} {:>10} {:>22} {:>15} {:>13} {:>18} {:>15} {:>14}\n", "eps", "threshold", "status",
                      "critical_amount", "first_failing", "critical_effective", "bits_per_weight", "predicted_bits");
  for (const CriticalSummary& summary : result.criticals) {
    text += fmt::format("{:>6g} {:>10.5f} {:>22} {:>15g} {:>13g} {:>18.4g} {:>15.3g} {:>14.3g}\n",
                        summary.search.epsilon, summary.search.threshold, critical_status_name(summary.search.status),
                        summary.search.critical, summary.search.first_failing, summary.critical_effective,
                        summary.critical_bits, summary.predicted_bits);
  }
  return text;
}

}  // namespace llcpress::compress
