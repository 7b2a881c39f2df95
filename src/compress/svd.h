// Truncated SVD of a weight matrix: W ≈ U_k diag(s_k) V_kᵀ keeping the k
// largest singular values. The factorisation is computed once per matrix
// (Eigen's BDCSVD) and every rank is then one product, so a sweep over kept
// fractions pays for one SVD per matrix, not one per evaluated point.
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <span>

namespace llcpress::compress {

class TruncatedSvd {
 public:
  // `matrix` is [rows, cols], row-major.
  TruncatedSvd(std::span<const float> matrix, std::int64_t rows, std::int64_t cols);

  std::int64_t rows() const { return rows_; }
  std::int64_t cols() const { return cols_; }
  std::int64_t full_rank() const { return static_cast<std::int64_t>(singular_values_.size()); }
  const Eigen::VectorXf& singular_values() const { return singular_values_; }  // descending

  // out = U_k diag(s_k) V_kᵀ, row-major [rows, cols]; rank 0 gives zeros.
  // At rank = full_rank() this reproduces the matrix only to rounding: the
  // caller that needs an exact identity copies the original instead (the
  // factors are not kept beside a copy of the matrix, to save memory).
  void reconstruct(std::span<float> out, std::int64_t rank) const;

 private:
  std::int64_t rows_, cols_;
  Eigen::MatrixXf left_;             // [rows, r] columns U_i
  Eigen::MatrixXf right_;            // [cols, r] columns V_i
  Eigen::VectorXf singular_values_;  // [r], r = min(rows, cols)
};

// Number of singular values kept of `full_rank` for a kept fraction in
// [0, 1]: round-to-nearest, so a fraction maps to the same rank whatever
// the matrix orientation.
std::int64_t kept_rank(double fraction, std::int64_t full_rank);

}  // namespace llcpress::compress
