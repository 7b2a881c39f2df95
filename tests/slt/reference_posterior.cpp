#include "reference_posterior.h"

#include <cmath>

#include "core/rng.h"

namespace llcpress::slt::exact {

PosteriorReference normal_crossing_posterior(const NormalCrossingModel& model, double nbeta, double localization,
                                             double weight_decay, int points) {
  const auto& powers = model.options().powers;
  const int k1 = powers.at(0), k2 = powers.at(1);
  const double sigma = model.options().sigma;
  double sxx = 0, sxy = 0;
  const std::size_t n = model.inputs().size();
  for (std::size_t j = 0; j < n; ++j) {
    sxx += model.inputs()[j] * model.inputs()[j];
    sxy += model.inputs()[j] * model.targets()[j];
  }
  sxx /= n, sxy /= n;
  const double a2 = sxx / (2 * sigma * sigma), b1 = sxy / (sigma * sigma);  // L − L(0) = a2 f² − b1 f
  const double prior = localization + weight_decay;                         // w* = 0: both pull to 0
  // Axis grid: the prior bounds |w| by ~10/√prior; the smallest scale resolved is a.
  const double reach = 12.0 / std::sqrt(prior);
  const double a = 1e-7 * reach;
  const double u_max = std::asinh(reach / a);
  std::vector<double> w(points), weight(points);
  const double du = 2 * u_max / (points - 1);
  for (int i = 0; i < points; ++i) {
    const double u = -u_max + i * du;
    w[i] = a * std::sinh(u);
    weight[i] = a * std::cosh(u) * du * ((i == 0 || i == points - 1) ? 0.5 : 1.0);
  }
  // Powers of each axis value, reused across the grid.
  auto power = [](double x, int k) {
    double r = 1;
    for (int i = 0; i < k; ++i) r *= x;
    return r;
  };
  std::vector<double> p1(points), p2(points), d1(points), d2(points), dd1(points), dd2(points);
  for (int i = 0; i < points; ++i) {
    p1[i] = power(w[i], k1), p2[i] = power(w[i], k2);
    d1[i] = k1 ? k1 * power(w[i], k1 - 1) : 0, d2[i] = k2 ? k2 * power(w[i], k2 - 1) : 0;
    dd1[i] = k1 > 1 ? k1 * (k1 - 1) * power(w[i], k1 - 2) : 0;
    dd2[i] = k2 > 1 ? k2 * (k2 - 1) * power(w[i], k2 - 2) : 0;
  }
  // log-density maximum for a stable exponent: U ≥ min over f of nβ(a2 f² − b1 f) = −nβ b1²/(4 a2).
  const double u_floor = -nbeta * b1 * b1 / (4 * a2);
  double z = 0, energy = 0, curvature = 0;
  for (int i = 0; i < points; ++i) {
    for (int j = 0; j < points; ++j) {
      const double f = p1[i] * p2[j];
      const double loss = a2 * f * f - b1 * f;
      const double potential = nbeta * loss + 0.5 * prior * (w[i] * w[i] + w[j] * w[j]);
      const double density = std::exp(-(potential - u_floor)) * weight[i] * weight[j];
      if (density == 0) continue;
      z += density;
      energy += density * nbeta * loss;
      // ∇²U = nβ[(2a2)∇f∇fᵀ + (2a2 f − b1)∇²f] + prior·I
      const double f1 = d1[i] * p2[j], f2 = p1[i] * d2[j];
      const double f11 = dd1[i] * p2[j], f22 = p1[i] * dd2[j], f12 = d1[i] * d2[j];
      const double slope = 2 * a2 * f - b1;
      const double h11 = nbeta * (2 * a2 * f1 * f1 + slope * f11) + prior;
      const double h22 = nbeta * (2 * a2 * f2 * f2 + slope * f22) + prior;
      const double h12 = nbeta * (2 * a2 * f1 * f2 + slope * f12);
      const double largest = 0.5 * (h11 + h22) + std::sqrt(0.25 * (h11 - h22) * (h11 - h22) + h12 * h12);
      curvature += density * largest;
    }
  }
  return {energy / z, curvature / z};
}

PosteriorReference monomial_posterior(const std::vector<int>& powers, double nbeta, double localization,
                                      double weight_decay, int points) {
  const double prior = localization + weight_decay;
  PosteriorReference out;
  for (int p : powers) {
    // Scale: the smaller of the prior width and the monomial width (nβ/2·w^p ≈ 1).
    const double width = std::min(1.0 / std::sqrt(prior), std::pow(2.0 / nbeta, 1.0 / p));
    const double reach = 40 * width;
    const double dw = 2 * reach / (points - 1);
    double z = 0, energy = 0, curvature = 0;
    for (int i = 0; i < points; ++i) {
      const double w = -reach + i * dw;
      const double k = 0.5 * std::pow(w, p);
      const double density = std::exp(-nbeta * k - 0.5 * prior * w * w);
      z += density;
      energy += density * nbeta * k;
      curvature += density * (nbeta * 0.5 * p * (p - 1) * std::pow(w, p - 2) + prior);
    }
    out.llc += energy / z;
    out.mean_curvature = std::max(out.mean_curvature, curvature / z);
  }
  return out;
}

ImportanceReference rrr_posterior(const ReducedRankRegressionModel& model, double nbeta, double localization,
                                  double weight_decay, std::size_t samples, std::uint64_t seed) {
  const auto& o = model.options();
  const int M = o.input_dim, H = o.hidden_dim, N = o.output_dim;
  const std::size_t n = o.samples;
  // S = mean x xᵀ (M×M).
  std::vector<double> second(M * M, 0.0);
  for (std::size_t j = 0; j < n; ++j)
    for (int a = 0; a < M; ++a)
      for (int b = 0; b < M; ++b) second[a * M + b] += model.inputs()[j * M + a] * model.inputs()[j * M + b];
  for (double& v : second) v /= n;
  const auto truth = model.true_parameters();
  const std::size_t d = truth.size();
  // C = B₀A₀ (N×M).
  std::vector<double> product0(N * M, 0.0);
  for (int r = 0; r < N; ++r)
    for (int m = 0; m < M; ++m)
      for (int h = 0; h < H; ++h) product0[r * M + m] += double(truth[H * M + r * H + h]) * truth[h * M + m];
  // λ_max(S) by power iteration (S is symmetric positive semi-definite, M ≤ a few).
  std::vector<double> vector(M, 1.0), next(M);
  double largest_second_moment = 0;
  for (int iteration = 0; iteration < 200; ++iteration) {
    double norm = 0;
    for (int a = 0; a < M; ++a) {
      next[a] = 0;
      for (int b = 0; b < M; ++b) next[a] += second[a * M + b] * vector[b];
      norm += next[a] * next[a];
    }
    norm = std::sqrt(norm);
    for (int a = 0; a < M; ++a) vector[a] = next[a] / norm;
    largest_second_moment = norm;
  }
  const double precision = localization + weight_decay;
  const double proposal_std = 1.0 / std::sqrt(precision);
  const double scale = 1.0 / (2 * o.sigma * o.sigma);
  std::vector<double> w(d), diff(N * M);
  // Sums for the ratio estimate and its delta-method variance:
  // Σw, Σw·e, Σw², Σw²·e, Σw²·e².
  double weight_sum = 0, weighted_energy = 0, w2 = 0, w2e = 0, w2e2 = 0, weighted_curvature = 0;
  for (std::size_t s = 0; s < samples; ++s) {
    for (std::size_t i = 0; i < d; i += 4) {
      const Float4 z = philox_normal4(seed, s, i / 4);
      for (std::size_t lane = 0; lane < 4 && i + lane < d; ++lane)
        w[i + lane] = localization * truth[i + lane] / precision + proposal_std * z.v[lane];
    }
    const double* a = w.data();
    const double* b = w.data() + H * M;
    for (int r = 0; r < N; ++r)
      for (int m = 0; m < M; ++m) {
        double acc = -product0[r * M + m];
        for (int h = 0; h < H; ++h) acc += b[r * H + h] * a[h * M + m];
        diff[r * M + m] = acc;
      }
    double quadratic = 0;  // tr(D S Dᵀ)
    for (int r = 0; r < N; ++r)
      for (int m1 = 0; m1 < M; ++m1) {
        double row = 0;
        for (int m2 = 0; m2 < M; ++m2) row += second[m1 * M + m2] * diff[r * M + m2];
        quadratic += diff[r * M + m1] * row;
      }
    const double energy = nbeta * scale * quadratic;  // nβ(L − L(w*)) ≥ 0
    const double weight = std::exp(-energy);
    double weights_sq = 0, residual_sq = 0;  // ‖A‖²_F + ‖B‖²_F, ‖D S‖²_F (2·scale = 1/σ²)
    for (std::size_t i = 0; i < d; ++i) weights_sq += w[i] * w[i];
    for (int r = 0; r < N; ++r)
      for (int m1 = 0; m1 < M; ++m1) {
        double entry = 0;
        for (int m2 = 0; m2 < M; ++m2) entry += diff[r * M + m2] * second[m2 * M + m1];
        residual_sq += entry * entry;
      }
    const double curvature =
        nbeta * 2 * scale * (largest_second_moment * weights_sq + std::sqrt(residual_sq)) + precision;
    weighted_curvature += weight * curvature;
    weight_sum += weight;
    weighted_energy += weight * energy;
    w2 += weight * weight;
    w2e += weight * weight * energy;
    w2e2 += weight * weight * energy * energy;
  }
  ImportanceReference out;
  out.llc = weighted_energy / weight_sum;
  const double variance = w2e2 - 2 * out.llc * w2e + out.llc * out.llc * w2;  // Σw²(e − μ)²
  out.standard_error = std::sqrt(std::max(variance, 0.0)) / weight_sum;
  out.effective_samples = weight_sum * weight_sum / w2;
  out.mean_curvature = weighted_curvature / weight_sum;
  return out;
}

}  // namespace llcpress::slt::exact
