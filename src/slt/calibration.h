// Calibration on models whose λ is known: build a reference model from
// options, run the estimator, and sweep ε (and nβ) to show where λ̂ is stable.
// Used by `llcpress calibrate` and bench/slt.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "model/loss_model.h"
#include "slt/learning_coefficient.h"
#include "slt/llc_estimator.h"

namespace llcpress::slt {

struct ReferenceModelSpec {
  std::string kind = "normal-crossing";                         // normal-crossing | monomial | rrr
  std::vector<int> powers = {1, 2};                             // normal crossing k_i / monomial p_i
  int input_dim = 3, hidden_dim = 3, output_dim = 3, rank = 1;  // rrr M, H, N, r
  std::size_t samples = 1000;
  double input_std = -1;  // < 0: the model's default (2 for normal crossing, 1 for rrr)
  double noise_std = -1;  // < 0: the model's default (0.25 normal crossing, 0 rrr)
  double sigma = -1;      // < 0: the model's default (0.25 normal crossing, 1 rrr)
  double true_std = 1.0;
  std::uint64_t data_seed = 0;
};

struct ReferenceModel {
  std::unique_ptr<LossModel> model;
  TrueLearningCoefficient truth;
  std::string description;  // e.g. "rrr M=3 H=3 N=3 r=1"
};

// ConfigError for an unknown kind or invalid options.
ReferenceModel make_reference_model(const ReferenceModelSpec& spec);

struct CalibrationPoint {
  double epsilon = 0, nbeta = 0;
  double llc_mean = 0, llc_std = 0, llc_standard_error = 0;
  int chains_used = 0, chains_diverged = 0;
  double mean_mala_acceptance = 0;
  double relative_error = 0;  // (λ̂ − λ)/λ
  bool stable = false;        // agrees with an ε-neighbour (same nβ) within 2 combined standard errors, no divergence
};

struct CalibrationResult {
  std::string model;
  TrueLearningCoefficient truth;
  std::vector<CalibrationPoint> points;  // nβ-major, ε ascending
};

// One estimate per (nβ, ε). Each point runs `base` with those two values.
CalibrationResult calibration_grid(const ReferenceModelSpec& spec, const LlcConfig& base,
                                   const std::vector<double>& epsilons, const std::vector<double>& nbetas);

// Log-spaced values: count points from low to high inclusive.
std::vector<double> log_grid(double low, double high, int count);

}  // namespace llcpress::slt
