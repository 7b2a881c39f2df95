#include "slt/reference_models/monomial.h"

#include <cmath>

#include "core/check.h"
#include "slt/reference_models/reference_data.h"

namespace llcpress::slt {

MonomialModel::MonomialModel(const MonomialOptions& options) : options_(options) {
  monomial_learning_coefficient(options.powers);  // validates the exponents
  LLC_CHECK(options.samples >= 1, ConfigError, "samples", "use n ≥ 1", "samples = 0");
  table_.add("w", {static_cast<std::int64_t>(options.powers.size())}, TensorRole::Linear);
  parameters_.assign(options.powers.size(), 0.0f);
}

TrueLearningCoefficient MonomialModel::true_learning_coefficient() const {
  return monomial_learning_coefficient(options_.powers);
}

double MonomialModel::loss(Batch batch) {
  check_batch(batch, options_.samples, "monomial");
  double sum = 0;
  for (std::size_t i = 0; i < parameters_.size(); ++i) sum += std::pow(double(parameters_[i]), options_.powers[i]);
  return 0.5 * sum;
}

double MonomialModel::loss_and_grad(Batch batch, std::span<float> gradient) {
  LLC_REQUIRE(gradient.size() == parameters_.size(), "gradient size {} != {}", gradient.size(), parameters_.size());
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    const int p = options_.powers[i];
    gradient[i] = static_cast<float>(0.5 * p * std::pow(double(parameters_[i]), p - 1));
  }
  return loss(batch);
}

}  // namespace llcpress::slt
