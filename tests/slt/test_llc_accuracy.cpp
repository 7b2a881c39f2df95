// λ̂ against the truth on models whose learning coefficient is known, for
// both samplers, with fixed seeds.
//
// Two references per case:
//   λ      the true learning coefficient (theory: the nβ → ∞ limit);
//   λ_ref  E_p[nβ(L(w) − L(w*))] under the SAME localized tempered posterior
//          the chain samples (same nβ, γ, data), computed without any Markov
//          chain: quadrature (normal crossing, monomials) or importance
//          sampling from the localization Gaussian (reduced-rank regression).
// λ_ref − λ is the finite-nβ bias of the estimator itself (for singular models
// it decays slowly: like (nβ)^−δ or 1/log nβ when the multiplicity is 2), so
// it is computed exactly instead of budgeted.
//
// Tolerance on |λ̂ − λ_ref| (every term derived, none tuned to pass):
//   statistical  t·√(se_chains² + se_ref²), se_chains = std across chains/√C,
//                t = 5.408, the two-sided 99.9% Student-t quantile with C − 1 = 7
//                degrees of freedom (chains are independent: own noise, own batches);
//   step size    2·λ_ref·x/(1 − x), x = ε_eff·h̄/4: for a Gaussian direction of
//                curvature h, Euler–Maruyama SGLD has stationary variance
//                1/(h(1 − εh/4)), i.e. a relative excess εh/4/(1 − εh/4) in E[nβK];
//                h̄ = E_p[largest curvature of U] (from the reference), ε_eff = ε for
//                SGLD and ε/eps_p (the largest step P allows) for pSGLD; the factor 2
//                covers the non-Gaussian (singular) directions.
// Minibatch gradient noise is second order here (noiseless targets: every
// per-sample gradient vanishes at w*, and ε·nβ²·Var(g) ≪ 1) and is covered by
// the same factor 2.
// Then |λ̂ − λ| ≤ |λ_ref − λ| + tolerance follows and is asserted as well.
//
// pSGLD runs with α = 0.9999: with the default α = 0.99 its preconditioner
// follows the local gradient scale, and without the Γ correction term the chain
// then samples ∝ e^{−U}/P instead of e^{−U} (a position-dependent bias of +20…
// +100% on these singular models, documented in docs/llc.md). A slowly moving
// P is the regime in which pSGLD targets the right distribution.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "reference_posterior.h"
#include "slt/llc_estimator.h"
#include "slt/reference_models/monomial.h"
#include "slt/reference_models/normal_crossing.h"
#include "slt/reference_models/reduced_rank_regression.h"

using namespace llcpress;
using namespace llcpress::slt;

namespace {

constexpr int kChains = 8;
constexpr double kStudentT999With7Dof = 5.408;
constexpr double kNonGaussianFactor = 2.0;
// Importance samples for the RRR reference: its standard error enters the
// tolerance, and with 2e6 samples it dominated it in the multiplicity-2 case
// (se_ref 0.059 against se_chains 0.023); 16e6 brings it to the chains' level
// (se ∝ 1/√samples) for a few seconds per case.
constexpr std::size_t kImportanceSamples = 16'000'000;

struct Reference {
  double llc = 0, standard_error = 0, mean_curvature = 0;
};

LlcConfig base_config(SamplerKind kind, double nbeta, double localization, double epsilon, int burn_in, int draws) {
  LlcConfig c;
  c.sampler.kind = kind;
  c.sampler.nbeta = nbeta;
  c.sampler.localization = localization;
  c.sampler.epsilon = kind == SamplerKind::Sgld ? epsilon : epsilon * 0.1;  // same ε_eff (eps_p = 0.1)
  c.sampler.rmsprop_alpha = 0.9999;
  c.sampler.rmsprop_eps = 0.1;
  c.chains = kChains;
  c.burn_in = burn_in;
  c.draws = draws;
  c.steps_between_draws = 4;
  c.batch_size = 16;
  c.init_batches = 4;
  c.seed = 2024;
  c.mala = false;
  c.progress = false;
  return c;
}

void check_against_references(const std::string& name, LossModel& model, double truth, const Reference& ref,
                              const LlcConfig& config) {
  const LlcResult r = estimate_llc(model, config);
  ASSERT_EQ(r.chains_diverged, 0) << name;
  const double se_chains = r.llc_std / std::sqrt(double(r.chains_used));
  const double statistical = kStudentT999With7Dof * std::hypot(se_chains, ref.standard_error);
  const double epsilon_effective = config.sampler.kind == SamplerKind::Sgld
                                       ? config.sampler.epsilon
                                       : config.sampler.epsilon / config.sampler.rmsprop_eps;
  const double x = epsilon_effective * ref.mean_curvature / 4;
  ASSERT_LT(x, 0.5) << name << ": the step size is outside the regime the budget describes";
  const double step_bias = kNonGaussianFactor * ref.llc * x / (1 - x);
  const double tolerance = statistical + step_bias;
  std::printf(
      "[llc] %-34s %-12s lambda %.4f  ref %.4f±%.4f  llc %.4f±%.4f  |llc-ref| %.4f  tol %.4f (stat %.4f, eps %.4f)  "
      "finite-nbeta bias %+.4f\n",
      name.c_str(), sampler_kind_name(config.sampler.kind), truth, ref.llc, ref.standard_error, r.llc_mean, se_chains,
      std::abs(r.llc_mean - ref.llc), tolerance, statistical, step_bias, ref.llc - truth);
  EXPECT_NEAR(r.llc_mean, ref.llc, tolerance) << name << " " << sampler_kind_name(config.sampler.kind);
  EXPECT_NEAR(r.llc_mean, truth, std::abs(ref.llc - truth) + tolerance) << name;
}

// Normal crossing with noiseless targets (y = 0): L(w) − L(0) = (S_xx/2σ²)·Π w_i^{2k_i}.
void normal_crossing_case(std::vector<int> powers, double nbeta, double epsilon, int burn_in, int draws) {
  NormalCrossingOptions o;
  o.powers = powers;
  o.samples = 1000;
  o.noise_std = 0.0;
  const double localization = 1.0;
  for (auto kind : {SamplerKind::Sgld, SamplerKind::RmspropSgld}) {
    NormalCrossingModel model(o);
    const auto quad = exact::normal_crossing_posterior(model, nbeta, localization, 0.0);
    const std::string name = "normal crossing k=[" + std::to_string(powers[0]) + "," + std::to_string(powers[1]) + "]";
    check_against_references(name, model, model.true_learning_coefficient().lambda, {quad.llc, 0, quad.mean_curvature},
                             base_config(kind, nbeta, localization, epsilon, burn_in, draws));
  }
}

void rrr_case(int M, int H, int N, int r, double nbeta, double epsilon, int burn_in, int draws) {
  RrrOptions o;
  o.input_dim = M, o.hidden_dim = H, o.output_dim = N, o.rank = r;
  o.samples = 1000;
  o.noise_std = 0.0;
  const double localization = 1.0;
  ReducedRankRegressionModel reference_model(o);
  const auto is = exact::rrr_posterior(reference_model, nbeta, localization, 0.0, kImportanceSamples, 99);
  for (auto kind : {SamplerKind::Sgld, SamplerKind::RmspropSgld}) {
    ReducedRankRegressionModel model(o);
    const auto truth = model.true_learning_coefficient();
    const std::string name = "rrr M=" + std::to_string(M) + " H=" + std::to_string(H) + " N=" + std::to_string(N) +
                             " r=" + std::to_string(r) + " " + truth.formula.substr(0, 6);
    check_against_references(name, model, truth.lambda, {is.llc, is.standard_error, is.mean_curvature},
                             base_config(kind, nbeta, localization, epsilon, burn_in, draws));
  }
}

}  // namespace

TEST(LlcAccuracy, NormalCrossing11) { normal_crossing_case({1, 1}, 10, 1.5e-4, 40000, 25000); }
TEST(LlcAccuracy, NormalCrossing12) { normal_crossing_case({1, 2}, 30, 1.5e-4, 30000, 25000); }
TEST(LlcAccuracy, NormalCrossing23) { normal_crossing_case({2, 3}, 100, 4e-4, 20000, 20000); }

TEST(LlcAccuracy, Monomials) {
  for (std::vector<int> powers : {std::vector<int>{2, 4}, std::vector<int>{2, 2, 2, 6}}) {
    const double nbeta = 1000, localization = 1.0;
    const auto quad = exact::monomial_posterior(powers, nbeta, localization, 0.0);
    for (auto kind : {SamplerKind::Sgld, SamplerKind::RmspropSgld}) {
      MonomialOptions o;
      o.powers = powers;
      MonomialModel model(o);
      std::string name = "monomials p=[";
      for (std::size_t i = 0; i < powers.size(); ++i) {
        if (i) name += ',';
        name += std::to_string(powers[i]);
      }
      check_against_references(name + "]", model, model.true_learning_coefficient().lambda,
                               {quad.llc, 0, quad.mean_curvature},
                               base_config(kind, nbeta, localization, 2e-5, 5000, 20000));
    }
  }
}

// Every case of the Aoyagi–Watanabe formula, with true rank > 0 in four of them.
TEST(LlcAccuracy, RrrCase1Even) { rrr_case(2, 2, 2, 0, 100, 1e-4, 40000, 25000); }
TEST(LlcAccuracy, RrrCase1OddMultiplicity2) { rrr_case(2, 2, 2, 1, 100, 1e-4, 40000, 25000); }
TEST(LlcAccuracy, RrrCase2) { rrr_case(1, 2, 3, 1, 100, 1e-4, 40000, 25000); }
TEST(LlcAccuracy, RrrCase3) { rrr_case(3, 2, 1, 1, 100, 1e-4, 40000, 25000); }
TEST(LlcAccuracy, RrrCase4) { rrr_case(1, 2, 1, 1, 100, 1e-4, 40000, 25000); }
