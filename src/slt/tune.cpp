#include "slt/tune.h"

#include <algorithm>
#include <cmath>
#include <tuple>

#include "core/check.h"
#include "core/log.h"
#include "slt/llc_output.h"

namespace llcpress::slt {

void TuneGrid::validate() const {
  LLC_CHECK(!epsilons.empty() && !nbetas.empty() && !gammas.empty(), ConfigError, "--grid-epsilon/nbeta/gamma",
            "give at least one value of each", "an empty grid ({} ε, {} nβ, {} γ)", epsilons.size(), nbetas.size(),
            gammas.size());
  for (double e : epsilons) LLC_CHECK(e > 0, ConfigError, "--grid-epsilon", "use positive step sizes", "ε = {}", e);
  for (double n : nbetas) LLC_CHECK(n >= 0, ConfigError, "--grid-nbeta", "use nβ > 0 (0: b/ln b)", "nβ = {}", n);
  for (double g : gammas) LLC_CHECK(g >= 0, ConfigError, "--grid-gamma", "use γ ≥ 0", "γ = {}", g);
}

int recommend(const std::vector<TunePoint>& points) {
  int best = -1;
  // Lexicographic: larger nβ, then smaller γ, then larger ε.
  auto key = [](const TunePoint& p) { return std::make_tuple(p.nbeta, -p.gamma, p.epsilon); };
  for (int i = 0; i < static_cast<int>(points.size()); ++i)
    if (points[i].verdict.healthy && (best < 0 || key(points[best]) < key(points[i]))) best = i;
  return best;
}

TuneResult tune_llc(LossModel& model, const LlcConfig& base, const TuneGrid& grid, const HealthRules& rules) {
  grid.validate();
  LLC_CHECK(base.chains >= 2, ConfigError, "--chains", "use at least 2 chains (λ̂'s standard error needs them)",
            "{} chain", base.chains);
  LLC_CHECK(base.draws >= 12, ConfigError, "--draws", "use at least 12 draws (4 per third of the trace)",
            "{} draws are too few for the stationarity check", base.draws);
  TuneResult out;
  out.rules = rules;
  const std::size_t total = grid.epsilons.size() * grid.nbetas.size() * grid.gammas.size();
  for (double nbeta : grid.nbetas)
    for (double gamma : grid.gammas)
      for (double epsilon : grid.epsilons) {
        LlcConfig config = base;
        config.sampler.epsilon = epsilon;
        config.sampler.nbeta = nbeta;
        config.sampler.localization = gamma;
        TunePoint point;
        point.result = estimate_llc(model, config);
        point.epsilon = epsilon;
        point.nbeta = point.result.config.sampler.nbeta;
        point.gamma = gamma;
        point.health = assess_point(point.result);
        spdlog::info(
            "tune {}/{}: ε {:.3g} nβ {:.4g} γ {:.4g}: λ̂ {:.4f} ± {:.4f}, MALA {:.3f}, below {:.3f}, "
            "last−middle third {:+.2g} ± {:.2g} nats",
            out.points.size() + 1, total, epsilon, point.nbeta, gamma, point.result.llc_mean,
            point.result.chains_used >= 2 ? point.result.llc_std / std::sqrt(point.result.chains_used) : NAN,
            point.health.mean_mala_acceptance, point.health.fraction_below_init, point.health.thirds.difference,
            point.health.thirds.standard_error);
        out.points.push_back(std::move(point));
      }
  // The MALA ratio rule needs the whole (nβ, γ) row: judge after the grid ran.
  for (TunePoint& point : out.points) {
    double reference = NAN;
    for (const TunePoint& other : out.points)
      if (other.nbeta == point.nbeta && other.gamma == point.gamma && std::isfinite(other.health.mean_mala_acceptance))
        reference = std::isfinite(reference) ? std::max(reference, other.health.mean_mala_acceptance)
                                             : other.health.mean_mala_acceptance;
    point.mala_reference = reference;
    point.verdict = judge_health(point.health, rules, reference);
  }
  out.recommended = recommend(out.points);
  out.recommended_burn_in = base.steps() / 3;
  return out;
}

void write_tune(io::Group& group, const TuneResult& r) {
  const std::size_t n = r.points.size();
  std::vector<double> epsilon(n), nbeta(n), gamma(n), llc(n), llc_std(n), llc_se(n), late(n), late_se(n), mala(n),
      below(n), mala_reference(n), halves(n), halves_se(n), thirds(n), thirds_se(n), seconds(n);
  std::vector<std::int64_t> used(n), diverged(n), unhealthy(n);
  std::vector<std::uint8_t> stationary(n), healthy(n), recommended(n);
  std::vector<std::string> reasons(n);
  for (std::size_t i = 0; i < n; ++i) {
    const TunePoint& p = r.points[i];
    epsilon[i] = p.epsilon, nbeta[i] = p.nbeta, gamma[i] = p.gamma;
    llc[i] = p.result.llc_mean, llc_std[i] = p.result.llc_std;
    llc_se[i] = p.result.chains_used >= 2 ? p.result.llc_std / std::sqrt(double(p.result.chains_used)) : NAN;
    late[i] = p.health.llc_late_mean, late_se[i] = p.health.llc_late_standard_error;
    mala[i] = p.health.mean_mala_acceptance, below[i] = p.health.fraction_below_init;
    mala_reference[i] = p.mala_reference;
    halves[i] = p.health.halves.difference, halves_se[i] = p.health.halves.standard_error;
    thirds[i] = p.health.thirds.difference, thirds_se[i] = p.health.thirds.standard_error;
    seconds[i] = p.result.seconds;
    used[i] = p.health.chains_used, diverged[i] = p.health.chains_diverged;
    unhealthy[i] = p.health.chains_unhealthy;
    stationary[i] = p.verdict.stationary, healthy[i] = p.verdict.healthy;
    recommended[i] = static_cast<int>(i) == r.recommended;
    reasons[i] = p.verdict.reasons;
  }
  io::Table table;
  table.add("epsilon", epsilon, "1", "SGLD step size ε")
      .add("nbeta", nbeta, "1", "inverse temperature nβ (resolved)")
      .add("gamma", gamma, "1", "localization strength γ")
      .add("llc_mean", llc, "1", "λ̂ over all draws, mean over non-diverged chains")
      .add("llc_std", llc_std, "1", "std (n-1) of the per-chain λ̂")
      .add("llc_standard_error", llc_se, "1", "llc_std / sqrt(chains_used)")
      .add("llc_late_mean", late, "1", "λ̂ from the last two thirds of the draws (first third as burn-in)")
      .add("llc_late_standard_error", late_se, "1", "standard error over chains of llc_late_mean")
      .add("chains_used", used, "1", "chains that did not diverge")
      .add("chains_diverged", diverged, "1", "chains stopped by NaN/Inf")
      .add("mala_acceptance", mala, "1", "mean MALA acceptance estimate over chains (minibatch: biased low)")
      .add("mala_reference", mala_reference, "1",
           "largest mala_acceptance among the points with this nbeta and gamma (the ratio rule's reference)")
      .add("fraction_below_init", below, "1", "mean fraction of draws with loss below L_init")
      .add("halves_difference", halves, "nats", "mean draw loss of the second half minus the first half")
      .add("halves_standard_error", halves_se, "nats", "batch-means standard error of halves_difference")
      .add("thirds_difference", thirds, "nats", "mean draw loss of the last third minus the middle third")
      .add("thirds_standard_error", thirds_se, "nats", "batch-means standard error of thirds_difference")
      .add("stationary", stationary, "1", "|thirds_difference| <= stationarity_z * thirds_standard_error")
      .add("healthy", healthy, "1", "passes every rule (attributes)")
      .add("chains_unhealthy", unhealthy, "1", "chains failing the per-chain rules of slt/chain_health.h")
      .add("reasons", reasons, "", "rules failed: diverged, chain_health(<problems>), mala, below_init, not_stationary")
      .add("recommended", recommended, "1", "1 for the recommended point")
      .add("seconds", seconds, "s", "wall time of the point's chains");
  io::write_table(group, "points", table, "one row per grid point (ε × nβ × γ), nβ-major then γ then ε");
  for (std::size_t i = 0; i < n; ++i) {
    io::Group point = group.require_group(fmt::format("point_{:03d}", i));
    write_llc(point, r.points[i].result);
  }
  group.set_attribute("minimum_mala_ratio", r.rules.minimum_mala_ratio);
  group.set_attribute("maximum_fraction_below_init", r.rules.maximum_fraction_below_init);
  group.set_attribute("stationarity_z", r.rules.stationarity_z);
  group.set_attribute("recommended_index", static_cast<std::int64_t>(r.recommended));
  group.set_attribute("recommended_burn_in", static_cast<std::int64_t>(r.recommended_burn_in));
  group.set_attribute(
      "rule",
      "healthy = no divergence, every chain healthy by slt/chain_health.h, MALA acceptance >= "
      "minimum_mala_ratio * mala_reference, fraction below L_init <= "
      "maximum_fraction_below_init, |last third - middle third| <= stationarity_z * standard error; "
      "recommended = among healthy points the largest nbeta, then smallest gamma, then largest epsilon");
  if (r.true_lambda) group.set_attribute("true_lambda", *r.true_lambda);
}

std::string format_tune(const TuneResult& r) {
  std::string out =
      fmt::format("{:>9} {:>8} {:>7} {:>9} {:>7} {:>9} {:>7} {:>6} {:>6} {:>17} {:>4}  {}\n", "epsilon", "nbeta",
                  "gamma", "llc", "se", "llc_late", "se", "MALA", "below", "last-mid (z)", "div", "verdict");
  for (std::size_t i = 0; i < r.points.size(); ++i) {
    const TunePoint& p = r.points[i];
    const double se = p.result.chains_used >= 2 ? p.result.llc_std / std::sqrt(double(p.result.chains_used)) : NAN;
    out += fmt::format(
        "{:>9.3g} {:>8.4g} {:>7.4g} {:>9.4f} {:>7.4f} {:>9.4f} {:>7.4f} {:>6.3f} {:>6.3f} {:>+9.2g} ({:>+5.1f}) "
        "{:>4}  {}{}\n",
        p.epsilon, p.nbeta, p.gamma, p.result.llc_mean, se, p.health.llc_late_mean, p.health.llc_late_standard_error,
        p.health.mean_mala_acceptance, p.health.fraction_below_init, p.health.thirds.difference, p.health.thirds.z(),
        p.health.chains_diverged, p.verdict.healthy ? "healthy" : p.verdict.reasons,
        static_cast<int>(i) == r.recommended ? "  <- recommended" : "");
  }
  out += fmt::format(
      "rules: healthy = no divergence, every chain healthy by chain_health.h, MALA acceptance ≥ {} × the largest "
      "acceptance of its (nβ, γ) row, draws below L_init ≤ {}, |last third − middle third| ≤ {}·SE; recommended = "
      "largest nβ, then smallest γ, then largest ε among healthy points.\n",
      r.rules.minimum_mala_ratio, r.rules.maximum_fraction_below_init, r.rules.stationarity_z);
  if (r.recommended < 0) {
    out += "no healthy point: widen the grid (smaller ε, smaller nβ, larger γ) or run longer chains (--draws).\n";
  } else {
    const TunePoint& p = r.points[r.recommended];
    out += fmt::format(
        "recommended: --epsilon {:.3g} --nbeta {:.4g} --gamma {:.4g} --burn-in {} (λ̂ late {:.4f} ± {:.4f})\n",
        p.epsilon, p.nbeta, p.gamma, r.recommended_burn_in, p.health.llc_late_mean, p.health.llc_late_standard_error);
    if (r.true_lambda)
      out += fmt::format("true λ {:.4f}: recommended λ̂ late − λ = {:+.4f} ({:+.1f}%)\n", *r.true_lambda,
                         p.health.llc_late_mean - *r.true_lambda,
                         100 * (p.health.llc_late_mean - *r.true_lambda) / *r.true_lambda);
  }
  return out;
}

}  // namespace llcpress::slt
