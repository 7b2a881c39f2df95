#include "model/ops/layernorm.h"

#include <algorithm>
#include <cmath>

#include "model/ops/eigen_maps.h"

namespace llcpress::ops {

void layernorm_forward(float* output, float* mean, float* rstd, const float* input, const float* weight,
                       const float* bias, std::int64_t rows, int hidden, float eps) {
  const ConstArrayMap weight_array(weight, hidden);  // (hidden)
  const ConstArrayMap bias_array(bias, hidden);      // (hidden)
#pragma omp parallel for schedule(static)
  for (std::int64_t row = 0; row < rows; ++row) {
    const ConstArrayMap x(input + row * hidden, hidden);  // (hidden)
    ArrayMap y(output + row * hidden, hidden);            // (hidden)
    // Two passes (mean, then centred squares) rather than E[x²] − E[x]²,
    // which cancels catastrophically when |mean| ≫ std.
    const float row_mean = x.sum() / static_cast<float>(hidden);
    const float variance = (x - row_mean).square().sum() / static_cast<float>(hidden);
    const float row_rstd = 1.0f / std::sqrt(variance + eps);
    y = (x - row_mean) * row_rstd * weight_array + bias_array;
    mean[row] = row_mean;
    rstd[row] = row_rstd;
  }
}

void layernorm_backward(float* d_input, float* d_weight, float* d_bias, const float* d_output, const float* input,
                        const float* mean, const float* rstd, const float* weight, std::int64_t rows, int hidden) {
  const ConstArrayMap weight_array(weight, hidden);  // (hidden)
  // d_input: with x̂ = (x − mean)·rstd and g = dy·weight,
  // dx = rstd · (g − mean(g) − x̂ · mean(g · x̂)).
#pragma omp parallel for schedule(static)
  for (std::int64_t row = 0; row < rows; ++row) {
    const ConstArrayMap x(input + row * hidden, hidden);      // (hidden)
    const ConstArrayMap dy(d_output + row * hidden, hidden);  // (hidden)
    ArrayMap dx(d_input + row * hidden, hidden);              // (hidden)
    const float row_mean = mean[row], row_rstd = rstd[row];
    const auto normalized = (x - row_mean) * row_rstd;
    const auto d_normalized = dy * weight_array;
    const float mean_d_normalized = d_normalized.sum() / static_cast<float>(hidden);
    const float mean_d_normalized_x = (d_normalized * normalized).sum() / static_cast<float>(hidden);
    dx += row_rstd * (d_normalized - mean_d_normalized - normalized * mean_d_normalized_x);
  }
  // d_weight = Σ_rows dy · x̂, d_bias = Σ_rows dy, one column chunk per task.
  const int chunks = (hidden + kColumnChunk - 1) / kColumnChunk;
#pragma omp parallel for schedule(static)
  for (int chunk = 0; chunk < chunks; ++chunk) {
    const int begin = chunk * kColumnChunk;
    const int width = std::min(hidden, begin + kColumnChunk) - begin;
    float weight_sum[kColumnChunk] = {};  // (width)
    float bias_sum[kColumnChunk] = {};    // (width)
    for (std::int64_t row = 0; row < rows; ++row) {
      const float* x = input + row * hidden + begin;
      const float* dy = d_output + row * hidden + begin;
      const float row_mean = mean[row], row_rstd = rstd[row];
      for (int j = 0; j < width; ++j) {
        weight_sum[j] += dy[j] * ((x[j] - row_mean) * row_rstd);
        bias_sum[j] += dy[j];
      }
    }
    std::copy(weight_sum, weight_sum + width, d_weight + begin);
    std::copy(bias_sum, bias_sum + width, d_bias + begin);
  }
}

}  // namespace llcpress::ops
