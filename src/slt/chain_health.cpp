#include "slt/chain_health.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace llcpress::slt {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void add_clause(std::string& reason, const std::string& clause) {
  if (!reason.empty()) reason += "; ";
  reason += clause;
}

}  // namespace

double mean_of(std::span<const double> values) {
  double sum = 0;
  for (double v : values) sum += v;
  return values.empty() ? kNaN : sum / static_cast<double>(values.size());
}

double batch_means_standard_error(std::span<const double> values, int batches) {
  const std::size_t n = values.size();
  const std::size_t k = std::min<std::size_t>(static_cast<std::size_t>(std::max(batches, 0)), n);
  if (k < 3) return kNaN;
  // Means of k consecutive batches: neighbouring draws are correlated (the
  // weights move slowly), batch means much less so.
  std::vector<double> means(k);
  for (std::size_t j = 0; j < k; ++j) means[j] = mean_of(values.subspan(j * n / k, (j + 1) * n / k - j * n / k));
  // Residuals about the least-squares line through (j, means[j]): a drift
  // inside the window is what the test looks for, so it must not count as noise.
  const double average = mean_of(means), centre = (static_cast<double>(k) - 1) / 2;
  double sxy = 0, sxx = 0;
  for (std::size_t j = 0; j < k; ++j) {
    sxy += (static_cast<double>(j) - centre) * (means[j] - average);
    sxx += (static_cast<double>(j) - centre) * (static_cast<double>(j) - centre);
  }
  const double slope = sxy / sxx;
  double residual_sq = 0;
  for (std::size_t j = 0; j < k; ++j) {
    const double residual = means[j] - average - slope * (static_cast<double>(j) - centre);
    residual_sq += residual * residual;
  }
  return std::sqrt(residual_sq / static_cast<double>(k - 2) / static_cast<double>(k));  // two fitted parameters
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
  check.middle_standard_error = batch_means_standard_error(middle, kStationarityBatches);
  check.last_standard_error = batch_means_standard_error(last, kStationarityBatches);
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
