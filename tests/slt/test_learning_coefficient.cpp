// The RRR formula (Aoyagi & Watanabe 2005) checked against facts derived
// independently of it, in every case of the formula.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "core/error.h"
#include "slt/learning_coefficient.h"

using namespace llcpress;
using namespace llcpress::slt;

// Hand-evaluated examples, one or more per case (arithmetic shown).
TEST(LearningCoefficient, RrrHandExamplesInEveryCase) {
  // case 1, even: M=N=H=2, r=0: [2·2·4 − 0 − 4]/8 = 12/8
  auto a = rrr_learning_coefficient(2, 2, 2, 0);
  EXPECT_DOUBLE_EQ(a.lambda, 1.5);
  EXPECT_EQ(a.multiplicity, 1);
  // case 1, odd: M=N=H=2, r=1: [2·3·4 − 0 − 9 + 1]/8 = 16/8
  a = rrr_learning_coefficient(2, 2, 2, 1);
  EXPECT_DOUBLE_EQ(a.lambda, 2.0);
  EXPECT_EQ(a.multiplicity, 2);
  // case 2: M=1, H=2, N=3, r=1: M+H=3 < N+r=4; (2 − 2 + 3)/2
  a = rrr_learning_coefficient(1, 2, 3, 1);
  EXPECT_DOUBLE_EQ(a.lambda, 1.5);
  EXPECT_NE(a.formula.find("case 2"), std::string::npos);
  // case 3: M=3, H=2, N=1, r=1: (2 − 2 + 3)/2
  a = rrr_learning_coefficient(3, 2, 1, 1);
  EXPECT_DOUBLE_EQ(a.lambda, 1.5);
  EXPECT_NE(a.formula.find("case 3"), std::string::npos);
  // case 4: M=N=1, H=3, r=0: M+N=2 < 3; MN/2
  a = rrr_learning_coefficient(1, 3, 1, 0);
  EXPECT_DOUBLE_EQ(a.lambda, 0.5);
  EXPECT_NE(a.formula.find("case 4"), std::string::npos);
  // case 4 with r > 0: M=N=2, H=4, r=1: 4 < 5; MN/2 = 2
  a = rrr_learning_coefficient(2, 4, 2, 1);
  EXPECT_DOUBLE_EQ(a.lambda, 2.0);
}

// r = H: the product BA ranges over the rank-H matrices, a smooth manifold of
// dimension H(M+N) − H², and the fibres (A, B) ~ (GA, BG⁻¹) are smooth, so
// the model is regular in the product: λ = (H(M+N) − H²)/2. Cases 1, 2 and 3
// all occur in this sweep.
TEST(LearningCoefficient, RrrFullHiddenRankIsHalfTheProductDimension) {
  std::set<std::string> cases;
  for (int M = 1; M <= 7; ++M)
    for (int N = 1; N <= 7; ++N)
      for (int H = 1; H <= std::min(M, N); ++H) {
        auto a = rrr_learning_coefficient(M, H, N, H);
        EXPECT_DOUBLE_EQ(a.lambda, (H * (M + N) - H * H) / 2.0) << M << " " << H << " " << N;
        cases.insert(a.formula.substr(0, 6));
      }
  EXPECT_EQ(cases.size(), 3u);
}

// Where case 1 meets another case (one of its inequalities holds with
// equality, and M+N+H+r is then even), the case-1 expression must equal the
// neighbouring case's expression: the cases describe one function.
TEST(LearningCoefficient, RrrCasesAgreeOnTheirBoundaries) {
  int checked = 0;
  for (int M = 1; M <= 8; ++M)
    for (int N = 1; N <= 8; ++N)
      for (int H = 1; H <= 8; ++H)
        for (int r = 0; r <= std::min({M, N, H}); ++r) {
          const auto a = rrr_learning_coefficient(M, H, N, r);
          if (a.formula.rfind("case 1", 0) != 0) continue;
          if (N + r == M + H) {
            EXPECT_DOUBLE_EQ(a.lambda, (H * M - H * r + N * r) / 2.0);
            ++checked;
          }
          if (M + r == N + H) {
            EXPECT_DOUBLE_EQ(a.lambda, (H * N - H * r + M * r) / 2.0);
            ++checked;
          }
          if (H + r == M + N) {
            EXPECT_DOUBLE_EQ(a.lambda, M * N / 2.0);
            ++checked;
          }
        }
  EXPECT_GT(checked, 50);
}

// H = 1, r = 0: K ∝ ‖a‖²‖b‖² for a ∈ R^M, b ∈ R^N, whose RLCT is min(M, N)/2
// with multiplicity 2 when M = N (blow up the origin of the smaller factor).
TEST(LearningCoefficient, RrrRankOneHiddenAtZero) {
  for (int M = 1; M <= 8; ++M)
    for (int N = 1; N <= 8; ++N) {
      auto a = rrr_learning_coefficient(M, 1, N, 0);
      EXPECT_DOUBLE_EQ(a.lambda, std::min(M, N) / 2.0) << M << "," << N;
      EXPECT_EQ(a.multiplicity, M == N ? 2 : 1) << M << "," << N;
    }
}

// Transposing the regression swaps M and N; λ cannot change. And λ never
// exceeds half the parameter count H(M+N)/2.
TEST(LearningCoefficient, RrrSymmetryAndUpperBound) {
  for (int M = 1; M <= 6; ++M)
    for (int N = 1; N <= 6; ++N)
      for (int H = 1; H <= 6; ++H)
        for (int r = 0; r <= std::min({M, N, H}); ++r) {
          const double l = rrr_learning_coefficient(M, H, N, r).lambda;
          EXPECT_DOUBLE_EQ(l, rrr_learning_coefficient(N, H, M, r).lambda);
          EXPECT_LE(l, H * (M + N) / 2.0);
          EXPECT_GT(l, 0.0);
        }
}

TEST(LearningCoefficient, NormalCrossingAndMonomials) {
  auto a = normal_crossing_learning_coefficient({1, 1});
  EXPECT_DOUBLE_EQ(a.lambda, 0.5);
  EXPECT_EQ(a.multiplicity, 2);
  a = normal_crossing_learning_coefficient({1, 2});
  EXPECT_DOUBLE_EQ(a.lambda, 0.25);
  EXPECT_EQ(a.multiplicity, 1);
  a = normal_crossing_learning_coefficient({0, 3, 2});
  EXPECT_DOUBLE_EQ(a.lambda, 1.0 / 6.0);
  EXPECT_DOUBLE_EQ(monomial_learning_coefficient({2, 2, 2}).lambda, 1.5);  // regular, d/2
  EXPECT_DOUBLE_EQ(monomial_learning_coefficient({2, 4, 6}).lambda, 0.5 + 0.25 + 1.0 / 6.0);
  EXPECT_THROW(normal_crossing_learning_coefficient({0, 0}), ConfigError);
  EXPECT_THROW(monomial_learning_coefficient({3}), ConfigError);
  EXPECT_THROW(rrr_learning_coefficient(2, 2, 2, 3), ConfigError);
}
