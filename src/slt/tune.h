// Choosing the sampler's hyperparameters on one model (`llcpress llc --grid`,
// `llcpress calibrate --grid`): short chains at every point of a grid
// ε × nβ × γ, each judged by the health rules of slt/trace_checks.h, and a
// recommended point chosen by a fixed rule (docs/llc.md "Choosing ε, nβ and γ"):
//
//   among the healthy points, the largest nβ, then the smallest γ, then the
//   largest ε.
//
// Largest nβ: λ̂'s finite-nβ bias shrinks as nβ grows (docs/llc.md §7), and the
// health rules already stop nβ where minibatch noise breaks the chain. Smallest
// γ: the localization distorts the posterior least. Largest ε: the chain mixes
// fastest per step, so a fixed budget gives the most nearly independent draws.
// The recommended burn-in is the first third of the tune chains' draws
// (the segment the stationarity check treats as burn-in).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "io/hdf5.h"
#include "model/loss_model.h"
#include "slt/llc_estimator.h"
#include "slt/trace_checks.h"

namespace llcpress::slt {

struct TuneGrid {
  std::vector<double> epsilons, nbetas, gammas;  // nβ 0 = b/ln b
  void validate() const;
};

struct TunePoint {
  double epsilon = 0, nbeta = 0, gamma = 0;  // nβ resolved
  PointHealth health;
  double mala_reference = 0;  // largest MALA acceptance of the points with this nβ and γ
  HealthVerdict verdict;
  LlcResult result;  // the run, with its traces
};

struct TuneResult {
  HealthRules rules;
  std::vector<TunePoint> points;      // nβ-major, then γ, then ε, in grid order
  int recommended = -1;               // index into points; -1 when no point is healthy
  int recommended_burn_in = 0;        // steps: a third of the tune chains' steps
  std::optional<double> true_lambda;  // known-λ models only (calibrate)
};

// Runs `base` at every grid point (ε, nβ, γ replaced) on `model`.
TuneResult tune_llc(LossModel& model, const LlcConfig& base, const TuneGrid& grid, const HealthRules& rules);

// Index of the recommended point by the rule above (-1 when none is healthy).
int recommend(const std::vector<TunePoint>& points);

// Group layout (docs/llc.md "Output of --grid"): table `points` (one row per
// grid point), `point_<i>/` = write_llc of that run (traces included),
// attributes with the rules and the recommendation.
void write_tune(io::Group& group, const TuneResult& result);

// The grid as a table, then the recommendation.
std::string format_tune(const TuneResult& result);

}  // namespace llcpress::slt
