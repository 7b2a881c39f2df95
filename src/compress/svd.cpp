#include "compress/svd.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"

namespace llcpress::compress {

TruncatedSvd::TruncatedSvd(std::span<const float> matrix, std::int64_t rows, std::int64_t cols)
    : rows_(rows), cols_(cols) {
  LLC_REQUIRE(rows >= 1 && cols >= 1 && static_cast<std::size_t>(rows * cols) == matrix.size(), "{}x{} vs {}", rows,
              cols, matrix.size());
  Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> original(matrix.data(), rows,
                                                                                                   cols);
  // Accumulated in double: the factors are reused for every rank, and a
  // float SVD of a large matrix loses the small singular values' directions
  // (relative error ~ κ·1e-7), which would blur the low-rank end of the sweep.
  Eigen::MatrixXd as_double = original.cast<double>();
  Eigen::BDCSVD<Eigen::MatrixXd> svd(as_double, Eigen::ComputeThinU | Eigen::ComputeThinV);
  left_ = svd.matrixU().cast<float>();
  right_ = svd.matrixV().cast<float>();
  singular_values_ = svd.singularValues().cast<float>();
}

void TruncatedSvd::reconstruct(std::span<float> out, std::int64_t rank) const {
  LLC_REQUIRE(out.size() == static_cast<std::size_t>(rows_ * cols_), "output size");
  LLC_REQUIRE(rank >= 0 && rank <= full_rank(), "rank {} of {}", rank, full_rank());
  Eigen::Map<Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> result(out.data(), rows_, cols_);
  if (rank == 0) {
    result.setZero();
    return;
  }
  // [rows, k] · [k, cols]: scale U's columns by s, then one product.
  Eigen::MatrixXf scaled_left = left_.leftCols(rank) * singular_values_.head(rank).asDiagonal();
  result.noalias() = scaled_left * right_.leftCols(rank).transpose();
}

std::int64_t kept_rank(double fraction, std::int64_t full_rank) {
  double clamped = std::clamp(fraction, 0.0, 1.0);
  return std::clamp<std::int64_t>(std::llround(clamped * static_cast<double>(full_rank)), 0, full_rank);
}

}  // namespace llcpress::compress
