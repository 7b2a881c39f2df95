#include "slt/reference_models/reduced_rank_regression.h"

#include <cmath>

#include "core/check.h"
#include "slt/reference_models/reference_data.h"

namespace llcpress::slt {

ReducedRankRegressionModel::ReducedRankRegressionModel(const RrrOptions& options) : options_(options) {
  rrr_learning_coefficient(options.input_dim, options.hidden_dim, options.output_dim, options.rank);  // validates
  check_regression_options(options.samples, options.input_std, options.noise_std, options.sigma);
  LLC_CHECK(std::isfinite(options.true_std) && options.true_std > 0, ConfigError, "true-std",
            "the true weights' scale must be positive", "true-std = {}", options.true_std);
  const int M = options.input_dim, H = options.hidden_dim, N = options.output_dim, r = options.rank;
  table_.add("layer1.weight", {H, M}, TensorRole::Linear, 0);
  table_.add("layer2.weight", {N, H}, TensorRole::Linear, 1);
  truth_.assign(table_.total_size(), 0.0f);
  const auto draws = reference_normals(options.data_seed, kReferenceTruthStream, truth_.size(), options.true_std);
  float* a = truth_.data();
  float* b = truth_.data() + H * M;
  // Each non-zero row of A₀ (column of B₀) is rescaled to the norm it has on
  // average, true_std·√M (true_std·√N): an unlucky short row would make the
  // rank-r signal weak, and the finite-nβ estimate would then see a lower rank.
  for (int h = 0; h < r; ++h) {
    double norm = 0;
    for (int m = 0; m < M; ++m) norm += draws[h * M + m] * draws[h * M + m];
    const double scale = options.true_std * std::sqrt(double(M)) / std::sqrt(norm);
    for (int m = 0; m < M; ++m) a[h * M + m] = static_cast<float>(draws[h * M + m] * scale);
  }
  for (int h = 0; h < r; ++h) {
    double norm = 0;
    for (int n = 0; n < N; ++n) norm += draws[H * M + n * H + h] * draws[H * M + n * H + h];
    const double scale = options.true_std * std::sqrt(double(N)) / std::sqrt(norm);
    for (int n = 0; n < N; ++n) b[n * H + h] = static_cast<float>(draws[H * M + n * H + h] * scale);
  }
  parameters_ = truth_;

  const std::size_t n = options.samples;
  inputs_ = reference_normals(options.data_seed, kReferenceInputStream, n * M, options.input_std);
  targets_ = reference_normals(options.data_seed, kReferenceNoiseStream, n * N, options.noise_std);
  for (std::size_t j = 0; j < n; ++j) {
    const double* x = &inputs_[j * M];
    for (int h = 0; h < r; ++h) {
      double hidden = 0;
      for (int m = 0; m < M; ++m) hidden += double(a[h * M + m]) * x[m];
      for (int o = 0; o < N; ++o) targets_[j * N + o] += double(b[o * H + h]) * hidden;
    }
  }
  gradient_a_.resize(H * M);
  gradient_b_.resize(N * H);
}

TrueLearningCoefficient ReducedRankRegressionModel::true_learning_coefficient() const {
  return rrr_learning_coefficient(options_.input_dim, options_.hidden_dim, options_.output_dim, options_.rank);
}

double ReducedRankRegressionModel::evaluate(const Batch& batch, float* gradient) {
  check_batch(batch, options_.samples, "reduced-rank regression");
  const int M = options_.input_dim, H = options_.hidden_dim, N = options_.output_dim;
  const float* a = parameters_.data();
  const float* b = parameters_.data() + H * M;
  double hidden[64], residual[64];  // sizes are checked below
  std::vector<double> hidden_heap, residual_heap;
  double* h_buf = hidden;
  double* r_buf = residual;
  if (H > 64 || N > 64) {
    hidden_heap.resize(H);
    residual_heap.resize(N);
    h_buf = hidden_heap.data();
    r_buf = residual_heap.data();
  }
  if (gradient) {
    std::fill(gradient_a_.begin(), gradient_a_.end(), 0.0);
    std::fill(gradient_b_.begin(), gradient_b_.end(), 0.0);
  }
  double sum = 0;
  for (std::int64_t j : batch.samples) {
    const double* x = &inputs_[j * M];
    const double* y = &targets_[j * N];
    for (int h = 0; h < H; ++h) {
      double acc = 0;
      for (int m = 0; m < M; ++m) acc += double(a[h * M + m]) * x[m];
      h_buf[h] = acc;
    }
    for (int o = 0; o < N; ++o) {
      double acc = 0;
      for (int h = 0; h < H; ++h) acc += double(b[o * H + h]) * h_buf[h];
      r_buf[o] = acc - y[o];  // prediction − target
      sum += r_buf[o] * r_buf[o];
    }
    if (!gradient) continue;
    // d/dB[o,h] = r_o·hidden_h;  d/dA[h,m] = (Bᵀr)_h·x_m   (times 1/(σ² n_batch) below)
    for (int o = 0; o < N; ++o)
      for (int h = 0; h < H; ++h) gradient_b_[o * H + h] += r_buf[o] * h_buf[h];
    for (int h = 0; h < H; ++h) {
      double back = 0;
      for (int o = 0; o < N; ++o) back += double(b[o * H + h]) * r_buf[o];
      for (int m = 0; m < M; ++m) gradient_a_[h * M + m] += back * x[m];
    }
  }
  const double scale = 1.0 / (options_.sigma * options_.sigma * batch.samples.size());
  if (gradient) {
    for (int i = 0; i < H * M; ++i) gradient[i] = static_cast<float>(gradient_a_[i] * scale);
    for (int i = 0; i < N * H; ++i) gradient[H * M + i] = static_cast<float>(gradient_b_[i] * scale);
  }
  return 0.5 * sum * scale;
}

double ReducedRankRegressionModel::loss(Batch batch) { return evaluate(batch, nullptr); }

double ReducedRankRegressionModel::loss_and_grad(Batch batch, std::span<float> gradient) {
  LLC_REQUIRE(gradient.size() == parameters_.size(), "gradient size {} != {}", gradient.size(), parameters_.size());
  return evaluate(batch, gradient.data());
}

}  // namespace llcpress::slt
