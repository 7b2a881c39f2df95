// Health checks of a finished LLC estimate, read off its traces: divergence,
// MALA acceptance, draws below L_init and stationarity of the draw-loss trace.
// `llc --grid` and `calibrate --grid` (slt/tune.h) judge a sampler setting by
// them. They live in this one file so that they can be replaced by the shared
// chain-health definitions (src/slt/chain_health.h) when those reach main.
#pragma once

#include <span>
#include <string>

#include "slt/llc_estimator.h"

namespace llcpress::slt {

// Standard error of the mean of an autocorrelated series by non-overlapping
// batch means: k = ⌊√m⌋ batches of ⌊m/k⌋ values (the tail that does not fill a
// batch is dropped), SE = sd(batch means)/√k. NaN for fewer than 4 values.
// Batches longer than the autocorrelation time make the batch means nearly
// independent, which is what the plain sd/√m formula wrongly assumes of the draws.
double batch_means_standard_error(std::span<const double> values);

// later − earlier for two segments of the draw trace, given as fractions of
// the draws, [begin, end) each. Per chain: the two segment means and their
// batch-means standard errors; over the C chains that did not diverge:
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

struct ChainHealth {
  int chains_used = 0, chains_diverged = 0;
  double mean_mala_acceptance = 0;  // mean over used chains of each chain's mean acceptance (NaN without MALA)
  double fraction_below_init = 0;   // mean over used chains
  SegmentComparison halves;         // second half against first half
  SegmentComparison thirds;         // last third against middle third (the first third is burn-in)
  // λ̂ over the last two thirds of the draws only (the first third taken as burn-in):
  // per chain nβ·(mean of those draws − L_init); mean and standard error over chains.
  double llc_late_mean = 0, llc_late_standard_error = 0;
};
ChainHealth assess_chains(const LlcResult& result);

// The rules a setting must pass (docs/llc.md "Choosing ε, nβ and γ"):
//   no diverged chain;
//   mean MALA acceptance ≥ minimum_mala_acceptance and ≥ minimum_mala_ratio ×
//     the reference acceptance (the largest acceptance among the grid points
//     with the same nβ and γ). With minibatches the acceptance estimate has a
//     floor below 1 that does not vanish as ε → 0 (U(w) and U(w′) come from
//     different batches, docs/llc.md §4); the ratio measures what ε itself
//     costs above that floor, the absolute level guards a grid whose every ε
//     is too large;
//   fraction of draws below L_init ≤ maximum_fraction_below_init;
//   |last third − middle third| ≤ stationarity_z · its standard error.
struct HealthRules {
  double minimum_mala_acceptance = 0.5;
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
HealthVerdict judge_health(const ChainHealth& health, const HealthRules& rules, double reference_acceptance);

}  // namespace llcpress::slt
