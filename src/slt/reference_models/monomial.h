// Additive monomials: the loss IS the population loss difference
//   K(w) = ½ Σ_i w_i^{p_i}   (p_i even ≥ 2, minimum at w* = 0),
// with learning coefficient Σ 1/p_i (d/2 when every p_i = 2: a regular model).
// There is no data: every batch gives the same loss, so minibatch noise is
// absent and the estimator's λ̂ is tested on the sampler alone. num_samples()
// is the nominal n that batch indices range over. Parameters: one tensor "w" [d].
#pragma once

#include <vector>

#include "model/loss_model.h"
#include "slt/learning_coefficient.h"

namespace llcpress::slt {

struct MonomialOptions {
  std::vector<int> powers = {2, 4};
  std::size_t samples = 1000;
};

class MonomialModel : public LossModel {
 public:
  explicit MonomialModel(const MonomialOptions& options);

  std::span<float> parameters() override { return parameters_; }
  const ParameterTable& parameter_table() const override { return table_; }
  std::size_t num_samples() const override { return options_.samples; }
  std::size_t max_batch_size() const override { return options_.samples; }
  double loss(Batch batch) override;
  double loss_and_grad(Batch batch, std::span<float> gradient) override;

  const MonomialOptions& options() const { return options_; }
  TrueLearningCoefficient true_learning_coefficient() const;

 private:
  MonomialOptions options_;
  ParameterTable table_;
  std::vector<float> parameters_;  // (d)
};

}  // namespace llcpress::slt
