// The final analysis stage: fits the critical compression amount against the
// LLC across checkpoints, per model and pooled over models, for every method
// and tolerance ε found in OUT/results.h5 (docs/hdf5-schema.md §4–5).
//
// Inputs are the gathered summary tables:
//   /tables/llc       model, step, llc_mean, llc_std [, llc_standard_error]
//   /tables/critical  model, step, method, eps, critical_amount [, status,
//                     bits_per_weight, predicted_bits]
// Only critical amounts the search actually bracketed (status "found", when
// the column exists) enter a fit: "all_within_tolerance" is a bound at the end
// of the search range and "none_within_tolerance" has no value, so fitting them
// would mix censored values into a least-squares line. They are counted.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "io/hdf5.h"
#include "pipeline/fit.h"

namespace llcpress {

struct FitStageOptions {
  BootstrapOptions bootstrap;      // replicates, confidence, seed
  std::size_t minimum_points = 3;  // a line through two points has R² = 1 and says nothing
  // Below this many points a line gets its point fit only. The pairs
  // bootstrap-t needs enough distinct resamples: with 4 points many resamples
  // have a near-zero standard error and the intervals came out 1e13 wide on the
  // demo suite. Coverage is tested at 8 and 12 points (tests/pipeline/test_fit.cpp).
  std::size_t minimum_points_for_intervals = 8;
};

// One fitted line: critical amount of `method` at `eps` against λ̂ over the
// checkpoints of `scope` (a model name, or "pooled" for all models together).
struct FitRow {
  std::string scope, method, parameter, units;
  double eps = 0;
  std::size_t points = 0;           // checkpoints in the fit
  std::size_t excluded_bounds = 0;  // rows whose critical amount was a bound or missing
  bool fitted = false;              // false: fewer than minimum_points or constant λ̂
  // false when the bootstrap could not give intervals (too few distinct
  // resamples, e.g. 3 points, or points exactly on a line): the point fit is
  // kept, the intervals are NaN and `note` says why. One degenerate line never
  // stops the fits of the others.
  bool intervals = false;
  std::string note;
  BootstrapFit fit;  // point estimate and intervals (NaN when !fitted)
};

// Theory against measurement for the quantizers: mean bits per weight measured at
// the critical level count and predicted as (λ̂/d)·log2(1/ε), per method and ε.
struct BitsRow {
  std::string method;
  double eps = 0;
  std::size_t points = 0;
  double measured_mean = 0, predicted_mean = 0;
  double ratio_mean = 0;  // mean of measured / predicted over the points
  double pearson = 0;     // NaN when fewer than 3 points or a constant column
};

struct FitStageResult {
  std::vector<FitRow> fits;
  std::vector<BitsRow> bits;
  // /tables/llc rows left out because their shard failed (status "failed":
  // too few healthy chains), one line each naming the checkpoint and reason.
  std::vector<std::string> skipped_llc;
};

FitStageResult compute_fit_stage(const io::Table& llc, const io::Table& critical, const FitStageOptions& options);

// The /fits tables as written into results.h5.
io::Table fits_table(const FitStageResult& result);
io::Table bits_table(const FitStageResult& result);

// Adds (or replaces) the /fits group of an existing results file without a
// moment at which a reader could see a half-written file: the file is copied
// to a temporary name in the same directory, /fits is written there, and the
// copy is renamed over the original.
void write_fits_into_results(const std::filesystem::path& results_path, const FitStageResult& result,
                             const FitStageOptions& options);

// OUT/report.md: the tables a person reads first.
std::string fit_report_markdown(const FitStageResult& result, const io::Table& llc, const io::Table& critical,
                                const std::filesystem::path& results_path);

}  // namespace llcpress
