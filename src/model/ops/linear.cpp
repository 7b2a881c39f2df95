#include "model/ops/linear.h"

#include <algorithm>

#include "model/ops/eigen_maps.h"

namespace llcpress::ops {

void linear_forward(float* output, const float* input, const float* weight, const float* bias, std::int64_t rows,
                    int in_features, int out_features, bool accumulate) {
  MatrixMap y(output, rows, out_features);                    // (rows, out)
  const ConstMatrixMap x(input, rows, in_features);           // (rows, in)
  const ConstMatrixMap w(weight, out_features, in_features);  // (out, in)
  // Bias first, then the GEMM accumulates onto it: Eigen's kernel adds into
  // the destination, so this costs no extra pass over y.
  if (!accumulate) {
    if (bias) {
      const Eigen::Map<const Eigen::RowVectorXf> b(bias, out_features);  // (out)
#pragma omp parallel for schedule(static)
      for (std::int64_t row = 0; row < rows; ++row) y.row(row) = b;
    } else {
      y.setZero();
    }
  } else if (bias) {
    const Eigen::Map<const Eigen::RowVectorXf> b(bias, out_features);  // (out)
#pragma omp parallel for schedule(static)
    for (std::int64_t row = 0; row < rows; ++row) y.row(row) += b;
  }
  y.noalias() += x * w.transpose();
}

void linear_backward(float* d_input, float* d_weight, float* d_bias, const float* d_output, const float* input,
                     const float* weight, std::int64_t rows, int in_features, int out_features) {
  const ConstMatrixMap dy(d_output, rows, out_features);      // (rows, out)
  const ConstMatrixMap x(input, rows, in_features);           // (rows, in)
  const ConstMatrixMap w(weight, out_features, in_features);  // (out, in)
  if (d_input) {
    MatrixMap dx(d_input, rows, in_features);  // (rows, in)
    dx.noalias() = dy * w;
  }
  MatrixMap dw(d_weight, out_features, in_features);  // (out, in)
  dw.noalias() = dy.transpose() * x;
  if (d_bias) {
    // Column sums in chunks so each thread owns its outputs (see eigen_maps.h).
    const int chunks = (out_features + kColumnChunk - 1) / kColumnChunk;
#pragma omp parallel for schedule(static)
    for (int chunk = 0; chunk < chunks; ++chunk) {
      const int begin = chunk * kColumnChunk;
      const int width = std::min(out_features, begin + kColumnChunk) - begin;
      float sum[kColumnChunk] = {};  // (width)
      for (std::int64_t row = 0; row < rows; ++row) {
        const float* source = d_output + row * out_features + begin;
        for (int j = 0; j < width; ++j) sum[j] += source[j];
      }
      std::copy(sum, sum + width, d_bias + begin);
    }
  }
}

}  // namespace llcpress::ops
