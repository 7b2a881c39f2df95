#include "slt/reference_models/normal_crossing.h"

#include <cmath>

#include "core/check.h"
#include "core/rng.h"
#include "slt/reference_models/reference_data.h"

namespace llcpress::slt {

namespace {
// x^k for small integer k ≥ 0 (exact repeated multiplication; 0^0 = 1).
double integer_power(double x, int k) {
  double r = 1.0;
  for (int i = 0; i < k; ++i) r *= x;
  return r;
}
}  // namespace

NormalCrossingModel::NormalCrossingModel(const NormalCrossingOptions& options) : options_(options) {
  normal_crossing_learning_coefficient(options.powers);  // validates the exponents
  check_regression_options(options.samples, options.input_std, options.noise_std, options.sigma);
  table_.add("w", {static_cast<std::int64_t>(options.powers.size())}, TensorRole::Linear);
  parameters_.assign(options.powers.size(), 0.0f);
  inputs_ = reference_normals(options.data_seed, kReferenceInputStream, options.samples, options.input_std);
  targets_ = reference_normals(options.data_seed, kReferenceNoiseStream, options.samples, options.noise_std);
}

TrueLearningCoefficient NormalCrossingModel::true_learning_coefficient() const {
  return normal_crossing_learning_coefficient(options_.powers);
}

double NormalCrossingModel::monomial(std::span<const float> w) const {
  double product = 1.0;
  for (std::size_t i = 0; i < options_.powers.size(); ++i) product *= integer_power(w[i], options_.powers[i]);
  return product;
}

double NormalCrossingModel::loss(Batch batch) {
  check_batch(batch, inputs_.size(), "normal crossing");
  const double f = monomial(parameters_);
  double sum = 0;
  for (std::int64_t j : batch.samples) {
    const double residual = targets_[j] - inputs_[j] * f;
    sum += residual * residual;
  }
  return sum / (2.0 * options_.sigma * options_.sigma * batch.samples.size());
}

double NormalCrossingModel::loss_and_grad(Batch batch, std::span<float> gradient) {
  check_batch(batch, inputs_.size(), "normal crossing");
  LLC_REQUIRE(gradient.size() == parameters_.size(), "gradient size {} != {}", gradient.size(), parameters_.size());
  const double f = monomial(parameters_);
  double sum = 0, residual_times_input = 0;
  for (std::int64_t j : batch.samples) {
    const double residual = targets_[j] - inputs_[j] * f;
    sum += residual * residual;
    residual_times_input += residual * inputs_[j];
  }
  const double inverse_variance = 1.0 / (options_.sigma * options_.sigma);
  const double count = static_cast<double>(batch.samples.size());
  // d loss / d f = −(1/σ²)·mean(residual·x);  d f / d w_i = k_i w_i^{k_i−1} Π_{j≠i} w_j^{k_j},
  // written as a product without dividing by w_i (w_i = 0 is where we start).
  const double dloss_df = -inverse_variance * residual_times_input / count;
  const std::size_t d = parameters_.size();
  for (std::size_t i = 0; i < d; ++i) {
    const int k = options_.powers[i];
    if (k == 0) {
      gradient[i] = 0.0f;
      continue;
    }
    double partial = k * integer_power(parameters_[i], k - 1);
    for (std::size_t j = 0; j < d; ++j)
      if (j != i) partial *= integer_power(parameters_[j], options_.powers[j]);
    gradient[i] = static_cast<float>(dloss_df * partial);
  }
  return sum * 0.5 * inverse_variance / count;
}

}  // namespace llcpress::slt
