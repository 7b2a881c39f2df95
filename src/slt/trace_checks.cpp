#include "slt/trace_checks.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/check.h"

namespace llcpress::slt {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// [begin, end) as fractions of n, rounded to the nearest index.
std::span<const double> segment(const std::vector<double>& trace, double begin, double end) {
  const double n = static_cast<double>(trace.size());
  const auto first = static_cast<std::size_t>(std::lround(begin * n));
  const auto last = static_cast<std::size_t>(std::lround(end * n));
  return std::span<const double>(trace).subspan(first, last - first);
}

}  // namespace

SegmentComparison compare_segments(const LlcResult& result, double earlier_begin, double earlier_end,
                                   double later_begin, double later_end) {
  LLC_REQUIRE(0 <= earlier_begin && earlier_begin < earlier_end && earlier_end <= later_begin &&
                  later_begin < later_end && later_end <= 1,
              "segments [{}, {}) and [{}, {}) out of order", earlier_begin, earlier_end, later_begin, later_end);
  SegmentComparison out;
  double variance = 0;
  int used = 0;
  for (const auto& chain : result.chains) {
    if (chain.diverged || chain.draw_loss.empty()) continue;
    const auto earlier = segment(chain.draw_loss, earlier_begin, earlier_end);
    const auto later = segment(chain.draw_loss, later_begin, later_end);
    const double se_earlier = batch_means_standard_error(earlier, kStationarityBatches),
                 se_later = batch_means_standard_error(later, kStationarityBatches);
    out.earlier_mean += mean_of(earlier);
    out.later_mean += mean_of(later);
    variance += se_earlier * se_earlier + se_later * se_later;
    ++used;
  }
  if (used == 0) return {kNaN, kNaN, kNaN, kNaN};
  out.earlier_mean /= used;
  out.later_mean /= used;
  out.difference = out.later_mean - out.earlier_mean;
  out.standard_error = std::sqrt(variance) / used;
  return out;
}

PointHealth assess_point(const LlcResult& result) {
  PointHealth health;
  health.chains_used = result.chains_used;
  health.chains_diverged = result.chains_diverged;
  unsigned problems = 0;
  for (const auto& chain : result.chains) {
    ChainHealthInput input;
    input.diverged = chain.diverged;
    input.divergence_reason = chain.divergence_reason;
    input.draw_loss = chain.draw_loss;
    input.mean_mala_acceptance = chain.mean_mala_acceptance;
    input.init_loss = result.init_loss;
    input.nbeta = result.config.sampler.nbeta;
    input.sampled_parameters = result.sampled_parameters;
    const ChainHealth chain_health = assess_chain(input);
    if (!chain_health.healthy) ++health.chains_unhealthy, problems |= chain_health.problems;
  }
  health.chain_problems = chain_problem_names(problems);
  std::vector<double> late;
  double acceptance = 0, below = 0;
  int with_acceptance = 0;
  const double nbeta = result.config.sampler.nbeta;
  for (const auto& chain : result.chains) {
    if (chain.diverged) continue;
    if (std::isfinite(chain.mean_mala_acceptance)) acceptance += chain.mean_mala_acceptance, ++with_acceptance;
    below += chain.fraction_below_init;
    late.push_back(nbeta * (mean_of(segment(chain.draw_loss, 1.0 / 3.0, 1.0)) - result.init_loss));
  }
  health.mean_mala_acceptance = with_acceptance > 0 ? acceptance / with_acceptance : kNaN;
  health.fraction_below_init = late.empty() ? kNaN : below / static_cast<double>(late.size());
  health.halves = compare_segments(result, 0.0, 0.5, 0.5, 1.0);
  health.thirds = compare_segments(result, 1.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0, 1.0);
  health.llc_late_mean = mean_of(late);
  if (late.size() >= 2) {
    double sum = 0;
    for (double v : late) sum += (v - health.llc_late_mean) * (v - health.llc_late_mean);
    health.llc_late_standard_error =
        std::sqrt(sum / static_cast<double>(late.size() - 1)) / std::sqrt(static_cast<double>(late.size()));
  } else {
    health.llc_late_standard_error = kNaN;
  }
  return health;
}

HealthVerdict judge_health(const PointHealth& health, const HealthRules& rules, double reference_acceptance) {
  HealthVerdict verdict;
  std::vector<std::string> failed;
  if (health.chains_diverged > 0) failed.push_back("diverged");
  if (health.chains_unhealthy > health.chains_diverged) failed.push_back("chain_health(" + health.chain_problems + ")");
  auto join_reasons = [&] {
    for (std::size_t i = 0; i < failed.size(); ++i) verdict.reasons += (i ? "," : "") + failed[i];
  };
  if (health.chains_used == 0) {  // nothing left to judge the other rules on
    // Say why no chain was left: a point whose chains were all excluded by
    // chain health (none diverged) used to read "diverged".
    if (failed.empty()) failed.push_back("no_chain_used");
    join_reasons();
    return verdict;
  }
  const bool ratio_ok = !std::isfinite(reference_acceptance) ||
                        health.mean_mala_acceptance >= rules.minimum_mala_ratio * reference_acceptance;
  if (!ratio_ok) failed.push_back("mala");
  if (!(health.fraction_below_init <= rules.maximum_fraction_below_init)) failed.push_back("below_init");
  // NaN (too few draws for a standard error) counts as not shown stationary.
  verdict.stationary = std::abs(health.thirds.difference) <= rules.stationarity_z * health.thirds.standard_error;
  if (!verdict.stationary) failed.push_back("not_stationary");
  verdict.healthy = failed.empty();
  join_reasons();
  return verdict;
}

}  // namespace llcpress::slt
