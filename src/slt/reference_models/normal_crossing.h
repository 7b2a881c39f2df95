// Normal crossing regression (REFERENCE.md §3), the simplest singular model:
//   f(x; w) = x·Π_i w_i^{k_i},  x ~ N(0, input_std²),  y = noise_std·N(0, 1)  (true w = 0)
// Loss = negative log-likelihood of y ~ N(f(x; w), σ²) without its constant,
//   ℓ(x, y; w) = (y − f(x; w))² / (2σ²),
// so nβ = n is the Bayesian posterior and the population loss difference is
//   K(w) = E[x²]·f̄(w)² / (2σ²) = (input_std²/(2σ²))·Π w_i^{2k_i},   f̄ = Π w_i^{k_i},
// whose learning coefficient at 0 is min over k_i > 0 of 1/(2k_i). The data
// are a pure function of data_seed (Philox). Parameters: one tensor "w" [d],
// starting at w* = 0.
#pragma once

#include <cstdint>
#include <vector>

#include "model/loss_model.h"
#include "slt/learning_coefficient.h"

namespace llcpress::slt {

struct NormalCrossingOptions {
  std::vector<int> powers = {1, 2};
  std::size_t samples = 1000;  // n
  double input_std = 2.0;
  double noise_std = 0.25;  // data noise; 0 gives noiseless targets (w* fits every sample)
  double sigma = 0.25;      // likelihood scale in the loss
  std::uint64_t data_seed = 0;
};

class NormalCrossingModel : public LossModel {
 public:
  explicit NormalCrossingModel(const NormalCrossingOptions& options);

  std::span<float> parameters() override { return parameters_; }
  const ParameterTable& parameter_table() const override { return table_; }
  std::size_t num_samples() const override { return inputs_.size(); }
  std::size_t max_batch_size() const override { return inputs_.size(); }
  double loss(Batch batch) override;
  double loss_and_grad(Batch batch, std::span<float> gradient) override;

  const NormalCrossingOptions& options() const { return options_; }
  TrueLearningCoefficient true_learning_coefficient() const;
  // The data, for exact references: (samples) each.
  const std::vector<double>& inputs() const { return inputs_; }
  const std::vector<double>& targets() const { return targets_; }
  // f̄(w) = Π w_i^{k_i} at the given parameters (double).
  double monomial(std::span<const float> w) const;

 private:
  NormalCrossingOptions options_;
  ParameterTable table_;
  std::vector<float> parameters_;  // (d)
  std::vector<double> inputs_;     // (n) x_j
  std::vector<double> targets_;    // (n) y_j
};

}  // namespace llcpress::slt
