// Exact expectations under the localized tempered posterior
//   p(w) ∝ exp(−nβ·(L(w) − L(w*)) − (γ/2)‖w − w*‖² − (λ_wd/2)‖w‖²)
// by deterministic quadrature, for the low-dimensional reference models:
// the quantity SGLD estimates, E_p[nβ(L(w) − L(w*))], at the same finite nβ,
// γ and data — an independent reference for the estimator (no sampling).
#pragma once

#include <vector>

#include "slt/reference_models/normal_crossing.h"
#include "slt/reference_models/reduced_rank_regression.h"

namespace llcpress::slt::exact {

struct PosteriorReference {
  double llc = 0;             // E_p[nβ(L(w) − L(w*))]
  double mean_curvature = 0;  // E_p[largest eigenvalue of ∇²U], U = −log p (for the ε-bias budget)
};

// Two-parameter normal crossing with the model's full-data loss (every sample),
// which depends on w only through f = w₁^{k₁}w₂^{k₂}:
//   L(w) − L(0) = (S_xx f² − 2 S_xy f)/(2σ²),  S_xx = mean x², S_xy = mean x·y.
// Trapezoid rule in u on the map w = a·sinh(u) per axis (points dense near
// the axes, where the singular posterior piles up).
PosteriorReference normal_crossing_posterior(const NormalCrossingModel& model, double nbeta, double localization,
                                             double weight_decay, int points_per_axis = 2001);

// Additive monomials K = ½ Σ w_i^{p_i} (w* = 0): the posterior factorizes, so
// the expectation is a sum of one-dimensional integrals (curvature: the sum of
// the per-coordinate expected curvatures is not needed; mean_curvature is the
// largest per-coordinate E[∂²U]).
PosteriorReference monomial_posterior(const std::vector<int>& powers, double nbeta, double localization,
                                      double weight_decay, int points = 200001);

// Reduced-rank regression with noiseless targets (the full-data loss is then
//   L(w) − L(w*) = tr(D S Dᵀ)/(2σ²),  D = BA − B₀A₀,  S = mean x xᵀ),
// by importance sampling from the Gaussian part of p (the localization and
// weight-decay terms: N(m, I/(γ + λ_wd)), m = γw*/(γ + λ_wd)) with weights
// exp(−nβ(L − L(w*))): exact at any nβ, no Markov chain. (Tried and dropped:
// isotropic proposals of several widths, and a half-Laplace mixture; neither
// raised the effective sample size much, because the posterior is curved
// along the GL(H) orbits of (A, B), not just narrow in fixed directions.) Also returns the
// Monte Carlo standard error (delta method for the ratio), the effective
// sample size, and E_p of a bound on the largest curvature of U:
//   nβ/σ²·(λ_max(S)·(‖A‖²_F + ‖B‖²_F) + ‖D S‖_F) + γ + λ_wd
// (Gauss–Newton part by Cauchy–Schwarz, plus the residual term's bound).
struct ImportanceReference {
  double llc = 0, standard_error = 0, effective_samples = 0, mean_curvature = 0;
};
ImportanceReference rrr_posterior(const ReducedRankRegressionModel& model, double nbeta, double localization,
                                  double weight_decay, std::size_t samples, std::uint64_t seed);

}  // namespace llcpress::slt::exact
