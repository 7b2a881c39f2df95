// True learning coefficients (RLCT λ and multiplicity m) of the known-λ
// reference models, from the literature (REFERENCE.md §3).
#pragma once

#include <string>
#include <vector>

namespace llcpress::slt {

struct TrueLearningCoefficient {
  double lambda = 0;
  int multiplicity = 1;
  std::string formula;  // which case / rule produced it (for outputs)
};

// Normal crossing K(w) ∝ Π w_i^{2k_i} at w = 0: λ = min over k_i > 0 of 1/(2k_i),
// m = how many k_i attain the minimum. ConfigError when every k_i is 0.
TrueLearningCoefficient normal_crossing_learning_coefficient(const std::vector<int>& powers);

// Additive monomials K(w) = ½ Σ w_i^{p_i} (p_i even, ≥ 2) at w = 0: λ = Σ 1/p_i, m = 1.
TrueLearningCoefficient monomial_learning_coefficient(const std::vector<int>& powers);

// Reduced-rank regression x ∈ R^M → R^H → R^N (no bias), true rank r
// (Aoyagi & Watanabe 2005, main theorem):
//   case 1  N+r ≤ M+H, M+r ≤ N+H, H+r ≤ M+N:
//           λ = [2(H+r)(M+N) − (M−N)² − (H+r)² + s]/8, s = 1 and m = 2 if M+N+H+r is odd, else s = 0, m = 1
//   case 2  M+H < N+r:  λ = (HM − Hr + Nr)/2
//   case 3  N+H < M+r:  λ = (HN − Hr + Mr)/2
//   case 4  M+N < H+r:  λ = MN/2
// ConfigError for non-positive sizes or r outside [0, min(M, H, N)].
TrueLearningCoefficient rrr_learning_coefficient(int input_dim, int hidden_dim, int output_dim, int rank);

}  // namespace llcpress::slt
