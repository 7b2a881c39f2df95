#include "slt/chain_health.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace llcpress::slt {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// ρ near 1 makes (1+ρ)/(1−ρ) explode on a short trace; 0.95 caps the
// correction at √39 ≈ 6.2× the independent-draws standard error.
constexpr double kMaxAutocorrelation = 0.95;

double mean_of(std::span<const double> values) {
  double sum = 0;
  for (double v : values) sum += v;
  return values.empty() ? kNaN : sum / static_cast<double>(values.size());
}

void add_clause(std::string& reason, const std::string& clause) {
  if (!reason.empty()) reason += "; ";
  reason += clause;
}

}  // namespace

double autocorrelated_standard_error(std::span<const double> values) {
  const std::size_t n = values.size();
  if (n < 3) return kNaN;
  // Residuals about the least-squares line through (i, values[i]): a drift
  // inside the window is what the test looks for, so it must not pass for
  // autocorrelated noise (it would push ρ to 1 and hide itself).
  const double mean = mean_of(values), centre = (static_cast<double>(n) - 1) / 2;
  double sxy = 0, sxx = 0;
  for (std::size_t i = 0; i < n; ++i) {
    sxy += (i - centre) * (values[i] - mean);
    sxx += (i - centre) * (i - centre);
  }
  const double slope = sxy / sxx;
  std::vector<double> residual(n);
  for (std::size_t i = 0; i < n; ++i) residual[i] = values[i] - mean - slope * (i - centre);
  double variance = 0, lag1 = 0;
  for (std::size_t i = 0; i < n; ++i) variance += residual[i] * residual[i];
  for (std::size_t i = 1; i < n; ++i) lag1 += residual[i] * residual[i - 1];
  if (variance == 0) return 0;
  const double rho = std::clamp(lag1 / variance, 0.0, kMaxAutocorrelation);
  const double residual_variance = variance / static_cast<double>(n - 2);  // two fitted parameters
  return std::sqrt(residual_variance / static_cast<double>(n) * (1 + rho) / (1 - rho));
}

StationarityCheck check_stationarity(std::span<const double> draw_loss, int min_draws) {
  StationarityCheck check;
  const std::size_t n = draw_loss.size();
  if (n < static_cast<std::size_t>(std::max(min_draws, 3))) return check;
  for (double v : draw_loss)
    if (!std::isfinite(v)) return check;
  // Thirds by position: [0, n/3) transient, [n/3, 2n/3) middle, [2n/3, n) last.
  const std::size_t first_end = n / 3, middle_end = 2 * n / 3;
  const auto middle = draw_loss.subspan(first_end, middle_end - first_end);
  const auto last = draw_loss.subspan(middle_end);
  check.checked = true;
  check.middle_mean = mean_of(middle);
  check.last_mean = mean_of(last);
  check.middle_standard_error = autocorrelated_standard_error(middle);
  check.last_standard_error = autocorrelated_standard_error(last);
  const double spread = std::hypot(check.middle_standard_error, check.last_standard_error);
  const double difference = check.last_mean - check.middle_mean;
  // A perfectly flat trace (spread 0) is stationary; a step with no noise is not.
  check.z = spread > 0 ? difference / spread : (difference == 0 ? 0.0 : std::copysign(INFINITY, difference));
  return check;
}

ChainHealth assess_chain(const ChainHealthInput& input, const ChainHealthLimits& limits) {
  ChainHealth health;
  health.band_limit = limits.band_multiple * static_cast<double>(input.sampled_parameters) / 2;
  health.chain_llc = kNaN;
  if (input.diverged) {
    health.problems |= kChainDiverged;
    add_clause(health.reason, "diverged (" + input.divergence_reason + ")");
  }
  if (!input.diverged && !input.draw_loss.empty()) {
    health.chain_llc = input.nbeta * (mean_of(input.draw_loss) - input.init_loss);
    if (!(health.chain_llc <= health.band_limit)) {
      health.problems |= kChainOutOfBand;
      add_clause(
          health.reason,
          fmt::format("out of band: chain llc {:.6g} > {:g}·d/2 = {:.6g} (mean draw loss {:.6g} vs L_init {:.6g})",
                      health.chain_llc, limits.band_multiple, health.band_limit, mean_of(input.draw_loss),
                      input.init_loss));
    }
  }
  if (std::isfinite(input.mean_mala_acceptance) && input.mean_mala_acceptance < limits.min_mala_acceptance) {
    health.problems |= kChainLowAcceptance;
    add_clause(health.reason,
               fmt::format("MALA acceptance {:.3g} < {:g}", input.mean_mala_acceptance, limits.min_mala_acceptance));
  }
  if (!input.diverged) {
    health.stationarity = check_stationarity(input.draw_loss, limits.stationarity_min_draws);
    if (health.stationarity.checked && std::abs(health.stationarity.z) > limits.stationarity_factor) {
      health.problems |= kChainNotStationary;
      add_clause(health.reason, fmt::format("not stationary: last-third mean draw loss {:.6g} vs middle third {:.6g} "
                                            "({:+.3g} standard errors, limit {:g})",
                                            health.stationarity.last_mean, health.stationarity.middle_mean,
                                            health.stationarity.z, limits.stationarity_factor));
    }
  }
  health.healthy = health.problems == 0;
  return health;
}

int min_healthy_chains(int chains) {
  if (chains <= 0) return 0;
  return std::max((chains + 1) / 2, std::min(2, chains));
}

ShardHealth assess_shard(std::span<const ChainHealth> health, std::span<const int> chain_ids) {
  ShardHealth shard;
  shard.chains = static_cast<int>(health.size());
  shard.required = min_healthy_chains(shard.chains);
  std::string unhealthy;
  for (std::size_t i = 0; i < health.size(); ++i) {
    if (health[i].healthy) {
      ++shard.healthy;
      continue;
    }
    const int id = i < chain_ids.size() ? chain_ids[i] : static_cast<int>(i);
    add_clause(unhealthy, fmt::format("chain {}: {}", id, health[i].reason));
  }
  shard.failed = shard.healthy < shard.required;
  if (shard.failed)
    shard.reason =
        fmt::format("{} of {} chains healthy (need {}): {}", shard.healthy, shard.chains, shard.required, unhealthy);
  return shard;
}

std::string chain_problem_names(unsigned problems) {
  std::string out;
  const std::pair<unsigned, const char*> names[] = {{kChainDiverged, "diverged"},
                                                    {kChainOutOfBand, "out_of_band"},
                                                    {kChainLowAcceptance, "low_mala"},
                                                    {kChainNotStationary, "not_stationary"}};
  for (const auto& [bit, name] : names)
    if (problems & bit) out += (out.empty() ? "" : ",") + std::string(name);
  return out;
}

}  // namespace llcpress::slt
