// Independent reference for the closest-point tests: exhaustive search over a
// lattice given only by its generator rows. The basis is LLL-reduced, then
// Fincke–Pohst enumeration visits every lattice point inside a sphere around
// the target (radius = the candidate's distance + slack), so the result is the
// true minimum distance; nothing here knows the structure the fast algorithms
// exploit (cosets, parity, codes).
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

namespace llcpress::lattice::testing {

using Matrix = std::vector<std::vector<double>>;

inline double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// LLL with δ = 0.99 (rows are basis vectors).
inline Matrix lll_reduce(Matrix basis) {
  const int d = static_cast<int>(basis.size());
  auto gram_schmidt = [&](Matrix& star, Matrix& mu) {
    star = basis;
    mu.assign(d, std::vector<double>(d, 0));
    for (int i = 0; i < d; ++i) {
      for (int j = 0; j < i; ++j) {
        mu[i][j] = dot(basis[i], star[j]) / dot(star[j], star[j]);
        for (int t = 0; t < d; ++t) star[i][t] -= mu[i][j] * star[j][t];
      }
    }
  };
  Matrix star, mu;
  gram_schmidt(star, mu);
  int k = 1;
  while (k < d) {
    for (int j = k - 1; j >= 0; --j) {
      double r = std::round(mu[k][j]);
      if (r != 0) {
        for (int t = 0; t < d; ++t) basis[k][t] -= r * basis[j][t];
        gram_schmidt(star, mu);
      }
    }
    if (dot(star[k], star[k]) >= (0.99 - mu[k][k - 1] * mu[k][k - 1]) * dot(star[k - 1], star[k - 1])) {
      ++k;
    } else {
      std::swap(basis[k], basis[k - 1]);
      gram_schmidt(star, mu);
      k = std::max(k - 1, 1);
    }
  }
  return basis;
}

class Enumerator {
 public:
  explicit Enumerator(const Matrix& generator) : basis_(lll_reduce(generator)), d_(static_cast<int>(generator.size())) {
    // Gram–Schmidt coefficients of the reduced basis: b_i = b*_i + Σ_{j<i} μ_ij b*_j.
    star_ = basis_;
    mu_.assign(d_, std::vector<double>(d_, 0));
    for (int i = 0; i < d_; ++i) {
      for (int j = 0; j < i; ++j) {
        mu_[i][j] = dot(basis_[i], star_[j]) / dot(star_[j], star_[j]);
        for (int t = 0; t < d_; ++t) star_[i][t] -= mu_[i][j] * star_[j][t];
      }
    }
    for (int i = 0; i < d_; ++i) star_norm2_.push_back(dot(star_[i], star_[i]));
  }

  // Smallest squared distance from x to the lattice among points within
  // sqrt(radius2) (returns radius2 unchanged if there are none).
  double min_distance2(const std::vector<double>& x, double radius2) const {
    // Coordinates of x in the Gram–Schmidt frame.
    std::vector<double> projection(d_);
    for (int i = 0; i < d_; ++i) projection[i] = dot(x, star_[i]) / star_norm2_[i];
    std::vector<double> u(d_, 0);
    double best = radius2;
    std::function<void(int, double)> search = [&](int level, double partial) {
      if (level < 0) {
        best = std::min(best, partial);
        return;
      }
      // Component along b*_level of x − Σ_{i>level} u_i b_i.
      double center = projection[level];
      for (int i = level + 1; i < d_; ++i) center -= u[i] * mu_[i][level];
      double room = (best - partial) / star_norm2_[level];
      if (room < 0) return;
      double reach = std::sqrt(room);
      for (double value = std::ceil(center - reach); value <= std::floor(center + reach); value += 1) {
        u[level] = value;
        double offset = center - value;
        search(level - 1, partial + offset * offset * star_norm2_[level]);
      }
    };
    search(d_ - 1, 0.0);
    return best;
  }

 private:
  Matrix basis_, star_, mu_;
  int d_;
  std::vector<double> star_norm2_;
};

}  // namespace llcpress::lattice::testing
