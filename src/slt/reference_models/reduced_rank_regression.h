// Reduced-rank regression (a two-layer linear network without biases):
//   f(x) = B·A·x,  A [H, M] ("layer1.weight"),  B [N, H] ("layer2.weight"),
//   x ~ N(0, input_std²·I_M),  y = B₀A₀x + noise_std·N(0, I_N),
// with a true product B₀A₀ of rank r: A₀ has r non-zero rows and B₀ r
// non-zero columns (entries true_std·N(0, 1)), the other H − r hidden units
// have zero in- and out-weights (the most singular point of the true set,
// whose local learning coefficient is the global one of Aoyagi & Watanabe 2005);
// the non-zero rows of A₀ / columns of B₀ are rescaled to norm true_std·√M /
// true_std·√N.
// Loss = Gaussian negative log-likelihood without its constant,
//   ℓ = ‖y − BAx‖² / (2σ²).
// Parameters start at w* = (A₀, B₀).
#pragma once

#include <cstdint>
#include <vector>

#include "model/loss_model.h"
#include "slt/learning_coefficient.h"

namespace llcpress::slt {

struct RrrOptions {
  int input_dim = 3;   // M
  int hidden_dim = 3;  // H
  int output_dim = 3;  // N
  int rank = 1;        // r
  std::size_t samples = 1000;
  double input_std = 1.0;
  double noise_std = 0.0;
  double sigma = 1.0;
  double true_std = 1.0;
  std::uint64_t data_seed = 0;
};

class ReducedRankRegressionModel : public LossModel {
 public:
  explicit ReducedRankRegressionModel(const RrrOptions& options);

  std::span<float> parameters() override { return parameters_; }
  const ParameterTable& parameter_table() const override { return table_; }
  std::size_t num_samples() const override { return options_.samples; }
  std::size_t max_batch_size() const override { return options_.samples; }
  double loss(Batch batch) override;
  double loss_and_grad(Batch batch, std::span<float> gradient) override;

  const RrrOptions& options() const { return options_; }
  TrueLearningCoefficient true_learning_coefficient() const;
  std::span<const float> true_parameters() const { return truth_; }
  // The data, for exact references: inputs (n, M) and targets (n, N), row-major.
  const std::vector<double>& inputs() const { return inputs_; }
  const std::vector<double>& targets() const { return targets_; }

 private:
  // Mean loss; with `gradient` non-null also writes its gradient.
  double evaluate(const Batch& batch, float* gradient);

  RrrOptions options_;
  ParameterTable table_;
  std::vector<float> parameters_;                // (H·M + N·H) A then B, row-major
  std::vector<float> truth_;                     // (H·M + N·H) w* = (A₀, B₀)
  std::vector<double> inputs_;                   // (n, M)
  std::vector<double> targets_;                  // (n, N)
  std::vector<double> gradient_a_, gradient_b_;  // (H·M), (N·H) double accumulators
};

}  // namespace llcpress::slt
