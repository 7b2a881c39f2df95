#include "pipeline/fit.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/check.h"
#include "core/rng.h"

namespace llcpress {

namespace {

double mean_of(std::span<const double> values) {
  return std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
}

// Slope and its HC3 standard error for y = a + b·x. HC3 weights each squared
// residual by 1/(1 − h_i)², h_i the leverage, which corrects the downward bias
// of the plain sandwich estimator at small n.
struct SlopeWithError {
  double slope, intercept, standard_error;
};

SlopeWithError slope_hc3(std::span<const double> x, std::span<const double> y) {
  const std::size_t n = x.size();
  const double x_mean = mean_of(x), y_mean = mean_of(y);
  double sxx = 0, sxy = 0;
  for (std::size_t i = 0; i < n; ++i) {
    sxx += (x[i] - x_mean) * (x[i] - x_mean);
    sxy += (x[i] - x_mean) * (y[i] - y_mean);
  }
  SlopeWithError result{std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::quiet_NaN(),
                        std::numeric_limits<double>::quiet_NaN()};
  if (!(sxx > 0)) return result;
  result.slope = sxy / sxx;
  result.intercept = y_mean - result.slope * x_mean;
  double meat = 0;
  for (std::size_t i = 0; i < n; ++i) {
    double residual = y[i] - result.intercept - result.slope * x[i];
    double leverage = 1.0 / n + (x[i] - x_mean) * (x[i] - x_mean) / sxx;
    double shrink = 1.0 - leverage;
    if (shrink <= 1e-12) return result;  // a point that alone fixes the line: no error estimate
    meat += (x[i] - x_mean) * (x[i] - x_mean) * residual * residual / (shrink * shrink);
  }
  result.standard_error = std::sqrt(meat) / sxx;
  return result;
}

double r_squared_of(std::span<const double> x, std::span<const double> y, double slope, double intercept) {
  const double y_mean = mean_of(y);
  double residual_sum = 0, total_sum = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    double residual = y[i] - intercept - slope * x[i];
    residual_sum += residual * residual;
    total_sum += (y[i] - y_mean) * (y[i] - y_mean);
  }
  return total_sum > 0 ? 1.0 - residual_sum / total_sum : std::numeric_limits<double>::quiet_NaN();
}

// Linear interpolation between order statistics (numpy's default "linear").
double quantile_sorted(const std::vector<double>& sorted, double probability) {
  double position = probability * static_cast<double>(sorted.size() - 1);
  std::size_t below = static_cast<std::size_t>(std::floor(position));
  std::size_t above = std::min(below + 1, sorted.size() - 1);
  double fraction = position - static_cast<double>(below);
  return sorted[below] + fraction * (sorted[above] - sorted[below]);
}

Interval percentile_interval(std::vector<double> values, double confidence) {
  std::sort(values.begin(), values.end());
  double tail = (1.0 - confidence) / 2.0;
  return {quantile_sorted(values, tail), quantile_sorted(values, 1.0 - tail)};
}

void check_points(std::span<const double> x, std::span<const double> y, const char* what) {
  LLC_CHECK(x.size() == y.size(), InputError, what, "", "{} x values but {} y values", x.size(), y.size());
  LLC_CHECK(x.size() >= 3, InputError, what, "a fit needs checkpoints at three or more training steps",
            "only {} points", x.size());
  for (std::size_t i = 0; i < x.size(); ++i)
    LLC_CHECK(std::isfinite(x[i]) && std::isfinite(y[i]), InputError, what,
              "exclude failed or diverged shards before fitting", "point {} is not finite (x={}, y={})", i, x[i], y[i]);
}

}  // namespace

std::vector<double> average_ranks(std::span<const double> values) {
  std::vector<std::size_t> order(values.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return values[a] < values[b]; });
  std::vector<double> ranks(values.size());
  for (std::size_t start = 0; start < order.size();) {
    std::size_t end = start;
    while (end + 1 < order.size() && values[order[end + 1]] == values[order[start]]) ++end;
    double shared = (static_cast<double>(start) + static_cast<double>(end)) / 2.0 + 1.0;
    for (std::size_t k = start; k <= end; ++k) ranks[order[k]] = shared;
    start = end + 1;
  }
  return ranks;
}

double pearson_correlation(std::span<const double> x, std::span<const double> y) {
  const double x_mean = mean_of(x), y_mean = mean_of(y);
  double sxx = 0, syy = 0, sxy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxx += (x[i] - x_mean) * (x[i] - x_mean);
    syy += (y[i] - y_mean) * (y[i] - y_mean);
    sxy += (x[i] - x_mean) * (y[i] - y_mean);
  }
  return sxx > 0 && syy > 0 ? sxy / std::sqrt(sxx * syy) : std::numeric_limits<double>::quiet_NaN();
}

double spearman_correlation(std::span<const double> x, std::span<const double> y) {
  auto x_ranks = average_ranks(x), y_ranks = average_ranks(y);
  return pearson_correlation(x_ranks, y_ranks);
}

LinearFit fit_linear(std::span<const double> x, std::span<const double> y) {
  check_points(x, y, "fit");
  const std::size_t n = x.size();
  const double x_mean = mean_of(x), y_mean = mean_of(y);
  double sxx = 0, sxy = 0;
  for (std::size_t i = 0; i < n; ++i) {
    sxx += (x[i] - x_mean) * (x[i] - x_mean);
    sxy += (x[i] - x_mean) * (y[i] - y_mean);
  }
  LLC_CHECK(sxx > 0, InputError, "fit", "the LLC must differ between checkpoints to fit against it",
            "all {} x values are equal ({})", n, x[0]);
  LinearFit fit;
  fit.n = n;
  fit.slope = sxy / sxx;
  fit.intercept = y_mean - fit.slope * x_mean;
  fit.r_squared = r_squared_of(x, y, fit.slope, fit.intercept);
  fit.pearson = pearson_correlation(x, y);
  fit.spearman = spearman_correlation(x, y);
  double residual_sum = 0;
  for (std::size_t i = 0; i < n; ++i) {
    double residual = y[i] - fit.intercept - fit.slope * x[i];
    residual_sum += residual * residual;
  }
  fit.slope_standard_error = std::sqrt(residual_sum / static_cast<double>(n - 2) / sxx);
  return fit;
}

BootstrapFit bootstrap_fit(std::span<const double> x, std::span<const double> y,
                           std::span<const double> x_standard_error, const BootstrapOptions& options) {
  check_points(x, y, "bootstrap fit");
  LLC_CHECK(x_standard_error.empty() || x_standard_error.size() == x.size(), InputError, "bootstrap fit", "",
            "{} standard errors for {} points", x_standard_error.size(), x.size());
  LLC_CHECK(options.replicates >= 100, ConfigError, "fit.bootstrap_replicates", "use at least 1000",
            "{} replicates are too few for a {:.0f}% interval", options.replicates, 100 * options.confidence);
  LLC_CHECK(options.confidence > 0 && options.confidence < 1, ConfigError, "fit.confidence", "e.g. 0.95",
            "confidence {} is not in (0, 1)", options.confidence);
  const std::size_t n = x.size();
  BootstrapFit result;
  result.point = fit_linear(x, y);
  const SlopeWithError original = slope_hc3(x, y);
  LLC_CHECK(std::isfinite(original.standard_error) && original.standard_error > 0, NumericalError, "bootstrap fit",
            "a perfect line (zero residuals) or a single high-leverage point leaves no scale for the interval",
            "the slope's standard error is {}", original.standard_error);

  // Two resamplings per replicate, each a plain OLS fit:
  //  (a) pairs resampled, x as measured      -> the studentized pivot t* (checkpoint sampling + y noise);
  //  (b) points kept, each x redrawn from N(x_i, se_i²) -> the slope's spread due to the chains' noise.
  // The slope interval is b̂ − t*_{hi}·s, b̂ − t*_{lo}·s with s² = se_HC3(b̂)² + var_b(b): the pivot's shape
  // from (a), its scale widened by (b). Intercept and R² take percentiles of resamples that do both.
  std::vector<double> t_values, jittered_slopes, intercepts, r_squares;
  std::vector<double> x_resample(n), y_resample(n), x_jittered(n), x_both(n);
  // One stream per purpose: index draws and x perturbations never share counters.
  const std::uint64_t index_stream = stream_id(0xF17, 1), noise_stream = stream_id(0xF17, 2);
  const bool has_x_error = !x_standard_error.empty();
  for (std::size_t replicate = 0; replicate < options.replicates; ++replicate) {
    for (std::size_t i = 0; i < n; ++i) {
      std::uint64_t element = replicate * n + i;
      float uniform = philox_uniform_at(options.seed, index_stream, element);  // (0, 1]
      std::size_t pick = std::min(n - 1, static_cast<std::size_t>((1.0 - uniform) * static_cast<double>(n)));
      double z = has_x_error ? philox_normal_at(options.seed, noise_stream, element) : 0.0;
      x_resample[i] = x[pick];
      y_resample[i] = y[pick];
      x_both[i] = x[pick] + (has_x_error ? x_standard_error[pick] * z : 0.0);
      x_jittered[i] = x[i] + (has_x_error ? x_standard_error[i] * z : 0.0);
    }
    SlopeWithError resampled = slope_hc3(x_resample, y_resample);
    if (std::isfinite(resampled.standard_error) && resampled.standard_error > 0)
      t_values.push_back((resampled.slope - original.slope) / resampled.standard_error);
    if (has_x_error) {
      SlopeWithError jittered = slope_hc3(x_jittered, y);
      if (std::isfinite(jittered.slope)) jittered_slopes.push_back(jittered.slope);
    }
    SlopeWithError both = slope_hc3(x_both, y_resample);
    if (std::isfinite(both.slope)) {
      intercepts.push_back(both.intercept);
      r_squares.push_back(r_squared_of(x_both, y_resample, both.slope, both.intercept));
    }
  }
  result.replicates_used = t_values.size();
  LLC_CHECK(t_values.size() >= options.replicates / 2 && intercepts.size() >= options.replicates / 2, NumericalError,
            "bootstrap fit", "the points are too few or too degenerate (repeated x) for a bootstrap interval",
            "only {} of {} replicates were usable", t_values.size(), options.replicates);
  double x_noise_variance = 0;
  if (jittered_slopes.size() > 1) {
    double mean = mean_of(jittered_slopes);
    for (double slope : jittered_slopes) x_noise_variance += (slope - mean) * (slope - mean);
    x_noise_variance /= static_cast<double>(jittered_slopes.size() - 1);
  }
  const double scale = std::sqrt(original.standard_error * original.standard_error + x_noise_variance);
  Interval t_interval = percentile_interval(t_values, options.confidence);
  result.slope = {original.slope - t_interval.high * scale, original.slope - t_interval.low * scale};
  result.intercept = percentile_interval(intercepts, options.confidence);
  result.r_squared = percentile_interval(r_squares, options.confidence);
  return result;
}

}  // namespace llcpress
