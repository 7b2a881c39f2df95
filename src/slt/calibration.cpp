#include "slt/calibration.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cmath>

#include "core/check.h"
#include "slt/reference_models/monomial.h"
#include "slt/reference_models/normal_crossing.h"
#include "slt/reference_models/reduced_rank_regression.h"

namespace llcpress::slt {

namespace {
std::string join(const std::vector<int>& values) {
  std::string out;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(values[i]);
  }
  return out;
}
}  // namespace

ReferenceModel make_reference_model(const ReferenceModelSpec& spec) {
  ReferenceModel out;
  if (spec.kind == "normal-crossing") {
    NormalCrossingOptions o;
    o.powers = spec.powers;
    o.samples = spec.samples;
    if (spec.input_std >= 0) o.input_std = spec.input_std;
    if (spec.noise_std >= 0) o.noise_std = spec.noise_std;
    if (spec.sigma >= 0) o.sigma = spec.sigma;
    o.data_seed = spec.data_seed;
    auto model = std::make_unique<NormalCrossingModel>(o);
    out.truth = model->true_learning_coefficient();
    out.description = fmt::format("normal crossing k=[{}] n={} x_std={} noise_std={} sigma={}", join(o.powers),
                                  o.samples, o.input_std, o.noise_std, o.sigma);
    out.model = std::move(model);
  } else if (spec.kind == "monomial") {
    MonomialOptions o;
    o.powers = spec.powers;
    o.samples = spec.samples;
    auto model = std::make_unique<MonomialModel>(o);
    out.truth = model->true_learning_coefficient();
    out.description = fmt::format("monomials K = 1/2 sum w_i^p_i, p=[{}]", join(o.powers));
    out.model = std::move(model);
  } else if (spec.kind == "rrr") {
    RrrOptions o;
    o.input_dim = spec.input_dim, o.hidden_dim = spec.hidden_dim, o.output_dim = spec.output_dim;
    o.rank = spec.rank;
    o.samples = spec.samples;
    if (spec.input_std >= 0) o.input_std = spec.input_std;
    if (spec.noise_std >= 0) o.noise_std = spec.noise_std;
    if (spec.sigma >= 0) o.sigma = spec.sigma;
    o.true_std = spec.true_std;
    o.data_seed = spec.data_seed;
    auto model = std::make_unique<ReducedRankRegressionModel>(o);
    out.truth = model->true_learning_coefficient();
    out.description = fmt::format("reduced-rank regression M={} H={} N={} r={} n={} noise_std={} sigma={}", o.input_dim,
                                  o.hidden_dim, o.output_dim, o.rank, o.samples, o.noise_std, o.sigma);
    out.model = std::move(model);
  } else {
    LLC_THROW(ConfigError, "model", "use --model normal-crossing, monomial or rrr", "unknown reference model '{}'",
              spec.kind);
  }
  return out;
}

std::vector<double> log_grid(double low, double high, int count) {
  LLC_CHECK(low > 0 && high >= low && count >= 1, ConfigError, "grid", "give 0 < low ≤ high and a count ≥ 1",
            "bad grid {}…{} ({} points)", low, high, count);
  std::vector<double> out;
  for (int i = 0; i < count; ++i) out.push_back(count == 1 ? low : low * std::pow(high / low, double(i) / (count - 1)));
  return out;
}

CalibrationResult calibration_grid(const ReferenceModelSpec& spec, const LlcConfig& base,
                                   const std::vector<double>& epsilons, const std::vector<double>& nbetas) {
  CalibrationResult result;
  for (double nbeta : nbetas) {
    const std::size_t row_start = result.points.size();
    for (double epsilon : epsilons) {
      ReferenceModel reference = make_reference_model(spec);
      result.model = reference.description;
      result.truth = reference.truth;
      LlcConfig config = base;
      config.sampler.epsilon = epsilon;
      config.sampler.nbeta = nbeta;
      const LlcResult run = estimate_llc(*reference.model, config);
      CalibrationPoint point;
      point.epsilon = epsilon;
      point.nbeta = run.config.sampler.nbeta;
      point.llc_mean = run.llc_mean;
      point.llc_std = run.llc_std;
      point.llc_standard_error = run.chains_used >= 2 ? run.llc_std / std::sqrt(double(run.chains_used)) : NAN;
      point.chains_used = run.chains_used;
      point.chains_diverged = run.chains_diverged;
      double acceptance = 0;
      int counted = 0;
      for (const auto& chain : run.chains)
        if (std::isfinite(chain.mean_mala_acceptance)) acceptance += chain.mean_mala_acceptance, ++counted;
      point.mean_mala_acceptance = counted ? acceptance / counted : NAN;
      point.relative_error = (run.llc_mean - reference.truth.lambda) / reference.truth.lambda;
      spdlog::info("nbeta {:.4g} epsilon {:.3g}: llc {:.4f} ± {:.4f} (true {:.4f})", point.nbeta, epsilon,
                   point.llc_mean, point.llc_std, reference.truth.lambda);
      result.points.push_back(point);
    }
    // Stable: no divergence and within 2 combined standard errors of an ε-neighbour.
    for (std::size_t i = row_start; i < result.points.size(); ++i) {
      auto& p = result.points[i];
      if (p.chains_diverged > 0 || !std::isfinite(p.llc_mean)) continue;
      for (std::size_t j : {i - 1, i + 1}) {
        if (j < row_start || j >= result.points.size() || j == i) continue;
        const auto& q = result.points[j];
        if (q.chains_diverged > 0 || !std::isfinite(q.llc_mean)) continue;
        const double se = std::hypot(p.llc_standard_error, q.llc_standard_error);
        if (std::isfinite(se) && std::abs(p.llc_mean - q.llc_mean) <= 2 * se) p.stable = true;
      }
    }
  }
  return result;
}

}  // namespace llcpress::slt
