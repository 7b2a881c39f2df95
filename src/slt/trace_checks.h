// Health of one grid point of `llc --grid` / `calibrate --grid` (slt/tune.h):
// the per-chain rules of slt/chain_health.h (diverged, out of the d/2 band, MALA
// acceptance < 0.1, last vs middle third beyond 4 standard errors) applied to
// every chain, and the grid-level rules of the selection procedure on top:
// the point's chains pooled, judged against their (nβ, γ) row. Everything a
// point is judged by is defined here or in chain_health.h.
#pragma once

#include <span>
#include <string>

#include "slt/chain_health.h"
#include "slt/llc_estimator.h"

namespace llcpress::slt {

// later − earlier for two segments of the draw trace, given as fractions of
// the draws, [begin, end) each. Per chain: the two segment means and their
// standard errors (batch_means_standard_error of chain_health.h with
// kStationarityBatches, the one definition the project uses); over the C chains that did not diverge:
// difference = mean over chains of (later − earlier),
// standard_error = √(Σ_c se_earlier,c² + se_later,c²) / C (chains are independent).
struct SegmentComparison {
  double earlier_mean = 0, later_mean = 0;  // nats, averaged over chains
  double difference = 0;                    // nats
  double standard_error = 0;                // nats
  double z() const { return difference / standard_error; }
};
SegmentComparison compare_segments(const LlcResult& result, double earlier_begin, double earlier_end,
                                   double later_begin, double later_end);

struct PointHealth {
  int chains_used = 0, chains_diverged = 0;
  int chains_unhealthy = 0;         // chains failing chain_health.h's rules (diverged ones included)
  std::string chain_problems;       // chain_problem_names of their union, e.g. "not_stationary"
  double mean_mala_acceptance = 0;  // mean over used chains of each chain's mean acceptance (NaN without MALA)
  double fraction_below_init = 0;   // mean over used chains
  SegmentComparison halves;         // second half against first half
  SegmentComparison thirds;         // last third against middle third (the first third is burn-in)
  // λ̂ over the last two thirds of the draws only (the first third taken as burn-in):
  // per chain nβ·(mean of those draws − L_init); mean and standard error over chains.
  double llc_late_mean = 0, llc_late_standard_error = 0;
};
PointHealth assess_point(const LlcResult& result);

// The rules a setting must pass (docs/llc.md "Choosing ε, nβ and γ"):
//   no diverged chain, and every chain healthy by chain_health.h (which also
//     sets the absolute MALA floor: a chain's mean acceptance ≥ 0.1);
//   mean MALA acceptance ≥ minimum_mala_ratio × the reference acceptance (the
//     largest acceptance among the grid points with the same nβ and γ): what ε
//     costs relative to the row's best. An absolute level such as the 0.9 of
//     small models is out of reach for a GPT-NeoX model of 1e5 parameters
//     (0.07–0.38 measured on demo-166k, docs/llc.md §5a);
//   fraction of draws below L_init ≤ maximum_fraction_below_init;
//   |last third − middle third| ≤ stationarity_z · its standard error.
struct HealthRules {
  double minimum_mala_ratio = 0.95;  // 0.9 admitted a 28% step-size bias on monomials (docs/llc.md §5a)
  double maximum_fraction_below_init = 0.05;
  double stationarity_z = 2.0;
};

struct HealthVerdict {
  bool healthy = false;
  bool stationary = false;
  std::string reasons;  // "" when healthy; else the failed rules, comma-separated
};
// `reference_acceptance`: see HealthRules (NaN: the ratio rule is not applied).
HealthVerdict judge_health(const PointHealth& health, const HealthRules& rules, double reference_acceptance);

}  // namespace llcpress::slt
