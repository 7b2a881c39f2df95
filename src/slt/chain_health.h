// Chain health: the rules that decide whether one SGLD chain's draws describe
// the local posterior at w* (REFERENCE.md §3), as pure functions of the chain's
// trace and diagnostics. estimate_llc averages only healthy chains; a shard
// with too few healthy chains is failed. docs/llc.md ("Chain health") states
// the rules, their levels and why; `tune` reports the same quantities.
//
// A chain is unhealthy when any of these holds (each adds a clause to reason):
//   diverged      its loss or weights became NaN/Inf (the estimator stopped it);
//   out of band   λ̂_c = nβ·(mean draw − L_init) > band_multiple · d/2, d the
//                 sampled parameters. d/2 is the learning coefficient of a
//                 regular model in d dimensions, the largest the local
//                 posterior can have, so a chain whose draws rise further has
//                 left the neighbourhood of w* (it measures an explosion, not w*);
//   low MALA      mean MALA acceptance < min_mala_acceptance (the Langevin
//                 step is too large for the local geometry);
//   not stationary  the mean draw loss of the last third differs from the
//                 middle third's by more than stationarity_factor standard
//                 errors of that difference (checked from
//                 stationarity_min_draws draws on; fewer are not checked).
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

namespace llcpress::slt {

struct ChainHealthLimits {
  double band_multiple = 4.0;        // λ̂_c above band_multiple · d/2 is out of band
  double min_mala_acceptance = 0.1;  // mean MALA acceptance below this is too low
  double stationarity_factor = 4.0;  // |last − middle| third means, in standard errors of the difference
  // Batches of at least 10 draws (10 batches per third): shorter batches
  // leave the draws' correlation inside the standard error's estimate out
  // (measured: 50-draw demo chains flagged at 5–15 "standard errors").
  int stationarity_min_draws = 300;  // fewer draws: not checked
};

// Mean of the last third of the draws against the middle third (the first
// third is left to the transient). The standard error of each third's mean
// comes from batch means: the third is cut into kStationarityBatches
// consecutive batches, and se = √(Σ r_j² / (k − 2) / k), r_j the residuals of
// the batch means about their own least-squares line. Batch means absorb the
// slow correlation of draws along a chain (the weights move slowly), which a
// lag-1 autocorrelation correction misses; the line keeps a drift inside the
// third from being counted as noise.
constexpr int kStationarityBatches = 10;
struct StationarityCheck {
  bool checked = false;  // false when fewer than the minimum draws (or a non-finite draw)
  double middle_mean = 0, last_mean = 0;
  double middle_standard_error = 0, last_standard_error = 0;
  double z = 0;  // (last_mean − middle_mean) / √(middle_se² + last_se²); + = still rising
};
StationarityCheck check_stationarity(std::span<const double> draw_loss, int min_draws);

// The batch-means standard error above with `batches` batches (fewer when
// there are fewer values; NaN below 3).
double batch_means_standard_error(std::span<const double> values, int batches);

// The arithmetic mean of `values` in one left-to-right sum; NaN when empty
// (a chain or point with no draws has no mean, not a zero one).
double mean_of(std::span<const double> values);

// What the rules look at for one chain.
struct ChainHealthInput {
  bool diverged = false;
  std::string divergence_reason;
  std::span<const double> draw_loss;  // (draws taken)
  double mean_mala_acceptance = 0;    // NaN when not estimated: the MALA rule is then not applied
  double init_loss = 0;               // L_init
  double nbeta = 1;
  std::size_t sampled_parameters = 0;  // d
};

enum ChainProblem : unsigned {
  kChainDiverged = 1u << 0,
  kChainOutOfBand = 1u << 1,
  kChainLowAcceptance = 1u << 2,
  kChainNotStationary = 1u << 3,
};

struct ChainHealth {
  bool healthy = true;
  unsigned problems = 0;  // ChainProblem bits
  std::string reason;     // empty when healthy; "; "-separated clauses with the measured values
  double chain_llc = 0;   // nβ·(mean draw − L_init) (NaN when diverged or no draws)
  double band_limit = 0;  // band_multiple · d/2
  StationarityCheck stationarity;
};

ChainHealth assess_chain(const ChainHealthInput& input, const ChainHealthLimits& limits = {});

// Healthy chains a shard needs: at least half of its chains (rounded up), and
// two when it has two or more (a spread across chains needs two).
int min_healthy_chains(int chains);

struct ShardHealth {
  int chains = 0, healthy = 0, required = 0;
  bool failed = false;
  std::string reason;  // when failed: "k of n chains healthy (need m): chain 0: …; chain 2: …"
};
// chain_ids[i] names health[i] in the reason.
ShardHealth assess_shard(std::span<const ChainHealth> health, std::span<const int> chain_ids);

// Short names of the problem bits, e.g. "diverged,low_mala" ("" when none).
std::string chain_problem_names(unsigned problems);

}  // namespace llcpress::slt
