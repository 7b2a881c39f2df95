// Fits critical compression against the LLC across checkpoints: ordinary least
// squares y = intercept + slope·x, R², Pearson and Spearman correlations, and
// bootstrap confidence intervals that carry the chains' uncertainty in λ̂.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace llcpress {

struct LinearFit {
  std::size_t n = 0;
  double slope = 0, intercept = 0;
  double r_squared = 0;
  double pearson = 0, spearman = 0;
  double slope_standard_error = 0;  // classical OLS, n − 2 degrees of freedom
};

// Plain OLS on the points as given (no resampling). Needs n >= 2 and x not constant.
LinearFit fit_linear(std::span<const double> x, std::span<const double> y);

// Ranks with ties given their average rank (1-based), as Spearman's ρ needs.
std::vector<double> average_ranks(std::span<const double> values);
double pearson_correlation(std::span<const double> x, std::span<const double> y);
double spearman_correlation(std::span<const double> x, std::span<const double> y);

struct BootstrapOptions {
  std::size_t replicates = 2000;
  double confidence = 0.95;
  std::uint64_t seed = 0;
};

struct Interval {
  double low = 0, high = 0;
};

struct BootstrapFit {
  LinearFit point;  // the fit on the original points
  Interval slope, intercept, r_squared;
  std::size_t replicates_used = 0;  // replicates whose resample had non-constant x
};

// Studentized pairs bootstrap carrying the chains' uncertainty in λ̂.
// The slope interval is bootstrap-t: b̂ − t*_{hi}·s, b̂ − t*_{lo}·s, where
// t* = (b* − b̂)/se(b*) over pairs resamples with heteroscedasticity-consistent
// (HC3) standard errors — which keeps coverage near nominal for the 8–20
// points a suite has, where the plain percentile interval undercovers — and
// s² = se(b̂)² + the variance of b̂ when each λ̂ is redrawn from
// N(x_i, x_standard_error_i²) (the chains' standard error), so the interval
// widens with the sampler's noise. Intercept and R² use percentiles of
// resamples that both resample pairs and redraw x. `x_standard_error` may be
// empty (no uncertainty in x).
BootstrapFit bootstrap_fit(std::span<const double> x, std::span<const double> y,
                           std::span<const double> x_standard_error, const BootstrapOptions& options);

}  // namespace llcpress
