#include "slt/learning_coefficient.h"

#include <algorithm>

#include "core/check.h"

namespace llcpress::slt {

TrueLearningCoefficient normal_crossing_learning_coefficient(const std::vector<int>& powers) {
  LLC_CHECK(!powers.empty(), ConfigError, "powers", "give the exponents k_i, e.g. --powers 1,2", "no exponents given");
  int largest = 0;
  for (int k : powers) {
    LLC_CHECK(k >= 0, ConfigError, "powers", "exponents are integers ≥ 0", "negative exponent {}", k);
    largest = std::max(largest, k);
  }
  LLC_CHECK(largest > 0, ConfigError, "powers", "at least one exponent must be positive (else w = 0 fits nothing)",
            "every exponent is 0");
  TrueLearningCoefficient out;
  out.lambda = 1.0 / (2.0 * largest);
  out.multiplicity = static_cast<int>(std::count(powers.begin(), powers.end(), largest));
  out.formula = "min over k_i > 0 of 1/(2 k_i)";
  return out;
}

TrueLearningCoefficient monomial_learning_coefficient(const std::vector<int>& powers) {
  LLC_CHECK(!powers.empty(), ConfigError, "powers", "give the even exponents p_i, e.g. --powers 2,4",
            "no exponents given");
  TrueLearningCoefficient out;
  for (int p : powers) {
    LLC_CHECK(p >= 2 && p % 2 == 0, ConfigError, "powers",
              "every exponent must be even and ≥ 2 so that K(w) ≥ 0 has its minimum at 0", "exponent {} is not", p);
    out.lambda += 1.0 / p;
  }
  out.formula = "sum of 1/p_i";
  return out;
}

TrueLearningCoefficient rrr_learning_coefficient(int M, int H, int N, int r) {
  LLC_CHECK(M >= 1 && H >= 1 && N >= 1, ConfigError, "dims", "write --dims M,H,N with positive sizes",
            "reduced-rank regression sizes M={} H={} N={} must be positive", M, H, N);
  LLC_CHECK(r >= 0 && r <= std::min({M, H, N}), ConfigError, "rank", "the true rank lies in [0, min(M, H, N)]",
            "rank {} outside [0, {}]", r, std::min({M, H, N}));
  TrueLearningCoefficient out;
  if (N + r <= M + H && M + r <= N + H && H + r <= M + N) {
    const bool odd = (M + N + H + r) % 2 == 1;
    const int numerator = 2 * (H + r) * (M + N) - (M - N) * (M - N) - (H + r) * (H + r) + (odd ? 1 : 0);
    out.lambda = numerator / 8.0;
    out.multiplicity = odd ? 2 : 1;
    out.formula = odd ? "case 1 (M+N+H+r odd)" : "case 1 (M+N+H+r even)";
  } else if (M + H < N + r) {
    out.lambda = (H * M - H * r + N * r) / 2.0;
    out.formula = "case 2 (M+H < N+r)";
  } else if (N + H < M + r) {
    out.lambda = (H * N - H * r + M * r) / 2.0;
    out.formula = "case 3 (N+H < M+r)";
  } else {
    LLC_REQUIRE(M + N < H + r, "RRR cases are exhaustive");
    out.lambda = M * N / 2.0;
    out.formula = "case 4 (M+N < H+r)";
  }
  return out;
}

}  // namespace llcpress::slt
