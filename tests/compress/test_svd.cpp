// Truncated SVD: exact recovery of low-rank matrices, and the Eckart–Young
// error of every truncation against singular values computed independently
// (eigenvalues of AᵀA from Eigen's self-adjoint solver, not an SVD).
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <cmath>
#include <vector>

#include "compress/svd.h"
#include "core/rng.h"

namespace llcpress::compress {
namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

RowMatrix random_matrix(int rows, int cols, std::uint64_t stream) {
  RowMatrix m(rows, cols);
  CounterRng(5, stream).fill_normal(m.data(), m.size());
  return m;
}

// The factors are stored in float (relative rounding 2^-24 ≈ 6e-8 per entry);
// a rank-k product sums k terms, so its relative Frobenius error is a small
// multiple of sqrt(k)·6e-8. 2e-6 covers k ≤ 64 with a margin of 4.
constexpr double kReconstructionTolerance = 2e-6;

TEST(TruncatedSvd, RecoversLowRankMatricesExactly) {
  for (auto [rows, cols, rank] :
       std::vector<std::tuple<int, int, int>>{{24, 16, 1}, {24, 16, 5}, {16, 40, 7}, {64, 64, 20}}) {
    RowMatrix a = random_matrix(rows, rank, 1) * random_matrix(rank, cols, 2);
    TruncatedSvd svd({a.data(), static_cast<std::size_t>(a.size())}, rows, cols);
    EXPECT_EQ(svd.full_rank(), std::min(rows, cols));
    // Singular values beyond the rank vanish (double SVD, stored as float).
    for (int i = rank; i < svd.full_rank(); ++i)
      EXPECT_LT(svd.singular_values()[i], 1e-6 * svd.singular_values()[0]) << i;
    RowMatrix out(rows, cols);
    for (int k : {rank, rank + 1, static_cast<int>(svd.full_rank())}) {
      svd.reconstruct({out.data(), static_cast<std::size_t>(out.size())}, k);
      EXPECT_LT((out - a).norm() / a.norm(), kReconstructionTolerance)
          << rows << "x" << cols << " rank " << rank << " k " << k;
    }
    // One rank short loses exactly the last singular value: ‖A - A_{r-1}‖ = σ_r.
    svd.reconstruct({out.data(), static_cast<std::size_t>(out.size())}, rank - 1);
    EXPECT_NEAR((out - a).norm(), svd.singular_values()[rank - 1], kReconstructionTolerance * a.norm());
  }
}

TEST(TruncatedSvd, TruncationErrorIsTheDiscardedSingularValues) {
  const int rows = 30, cols = 18;
  RowMatrix a = random_matrix(rows, cols, 3);
  // Independent singular values: square roots of the eigenvalues of AᵀA (double).
  Eigen::MatrixXd gram = a.cast<double>().transpose() * a.cast<double>();
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eigen(gram);
  std::vector<double> sigma;
  for (int i = cols - 1; i >= 0; --i) sigma.push_back(std::sqrt(std::max(0.0, eigen.eigenvalues()[i])));
  TruncatedSvd svd({a.data(), static_cast<std::size_t>(a.size())}, rows, cols);
  for (int i = 0; i < cols; ++i) EXPECT_NEAR(svd.singular_values()[i], sigma[i], 1e-5 * sigma[0]) << i;
  RowMatrix out(rows, cols);
  for (int k = 0; k <= cols; ++k) {
    svd.reconstruct({out.data(), static_cast<std::size_t>(out.size())}, k);
    double discarded = 0;
    for (int i = k; i < cols; ++i) discarded += sigma[i] * sigma[i];
    EXPECT_NEAR((out - a).norm(), std::sqrt(discarded), kReconstructionTolerance * a.norm()) << "rank " << k;
  }
}

TEST(TruncatedSvd, KeptRankRoundsTheFraction) {
  EXPECT_EQ(kept_rank(1.0, 128), 128);
  EXPECT_EQ(kept_rank(0.0, 128), 0);
  EXPECT_EQ(kept_rank(0.5, 128), 64);
  EXPECT_EQ(kept_rank(0.5 / 128, 128), 1);  // half a rank rounds up (llround: away from zero)
  EXPECT_EQ(kept_rank(0.49 / 128, 128), 0);
  EXPECT_EQ(kept_rank(2.0, 10), 10);
  EXPECT_EQ(kept_rank(-1.0, 10), 0);
}

}  // namespace
}  // namespace llcpress::compress
