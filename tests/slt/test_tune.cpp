// The hyperparameter selection (slt/trace_checks.h, slt/tune.h): the pooled
// stationarity check against chain_health.h's per-chain one, a flat and a
// drifting trace, each health rule, the recommendation
// order, and a grid on a known-λ model written to HDF5.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "io/hdf5.h"
#include "slt/calibration.h"
#include "slt/trace_checks.h"
#include "slt/tune.h"

using namespace llcpress;
using namespace llcpress::slt;

namespace {

// AR(1): x_t = ρ x_{t−1} + √(1 − ρ²) z_t, stationary variance 1. The variance of
// the mean of n values is (1/n)(1 + ρ)/(1 − ρ) to O(1/n²).
std::vector<double> ar1(std::size_t n, double rho, unsigned seed) {
  std::mt19937_64 engine(seed);
  std::normal_distribution<double> normal;
  std::vector<double> x(n);
  double value = normal(engine);
  for (auto& v : x) v = value = rho * value + std::sqrt(1 - rho * rho) * normal(engine);
  return x;
}

// A result whose chains have the given draw traces (L_init 0, nβ 1).
LlcResult result_with(const std::vector<std::vector<double>>& traces, double acceptance = 0.95) {
  LlcResult r;
  r.config.sampler.nbeta = 1;
  r.init_loss = 0;
  r.sampled_parameters = 1000;  // chain_health's band: λ̂_c ≤ 4·d/2 = 2000
  for (std::size_t c = 0; c < traces.size(); ++c) {
    ChainResult chain;
    chain.chain = static_cast<int>(c);
    chain.draw_loss = traces[c];
    chain.mean_mala_acceptance = acceptance;
    chain.fraction_below_init = 0;
    r.chains.push_back(chain);
  }
  r.chains_used = static_cast<int>(traces.size());
  return r;
}

}  // namespace

TEST(TraceChecks, ThirdsPoolTheChainHealthStationarityOfEachChain) {
  // The pooled comparison is chain_health.h's per-chain check, averaged:
  // difference = mean over chains of (last − middle), se = √Σ(se_m² + se_l²)/C.
  std::vector<std::vector<double>> traces;
  for (unsigned c = 0; c < 3; ++c) traces.push_back(ar1(300, 0.7, 30 + c));
  const SegmentComparison pooled = compare_segments(result_with(traces), 1.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0, 1.0);
  double difference = 0, variance = 0;
  for (const auto& trace : traces) {
    const StationarityCheck check = check_stationarity(trace, 30);
    ASSERT_TRUE(check.checked);
    difference += (check.last_mean - check.middle_mean) / 3;
    variance += check.middle_standard_error * check.middle_standard_error +
                check.last_standard_error * check.last_standard_error;
  }
  EXPECT_NEAR(pooled.difference, difference, 1e-12);
  EXPECT_NEAR(pooled.standard_error, std::sqrt(variance) / 3, 1e-12);
}

TEST(TraceChecks, FlatTracesAreStationaryDriftingOnesAreNot) {
  HealthRules rules;
  std::vector<std::vector<double>> flat, rising;
  for (unsigned c = 0; c < 4; ++c) {
    auto noise = ar1(300, 0.5, 10 + c);
    flat.push_back(noise);
    // A relaxation like a chain leaving w*: 1 − exp(−t/τ) with τ = 150 draws,
    // so the last third still sits ≈ 0.27 above the middle third — over 10 SE.
    for (std::size_t t = 0; t < noise.size(); ++t) noise[t] = 0.2 * noise[t] + 2.0 * (1 - std::exp(-double(t) / 150));
    rising.push_back(noise);
  }
  const PointHealth flat_health = assess_point(result_with(flat));
  EXPECT_LE(std::abs(flat_health.thirds.z()), rules.stationarity_z);
  EXPECT_TRUE(judge_health(flat_health, rules, NAN).healthy) << judge_health(flat_health, rules, NAN).reasons;
  const PointHealth rising_health = assess_point(result_with(rising));
  EXPECT_GT(rising_health.thirds.z(), 10);
  const HealthVerdict verdict = judge_health(rising_health, rules, NAN);
  EXPECT_FALSE(verdict.healthy);
  // Each chain fails chain_health's own check (4 SE) and the pooled one (2 SE).
  EXPECT_EQ(verdict.reasons, "chain_health(not_stationary),not_stationary");
  // λ̂ late: nβ·(mean of the last two thirds − L_init), here the mean of draws 100..299.
  double late = 0;
  for (std::size_t c = 0; c < 4; ++c)
    for (std::size_t t = 100; t < 300; ++t) late += rising[c][t] / (4 * 200);
  EXPECT_NEAR(rising_health.llc_late_mean, late, 1e-12);
}

TEST(TraceChecks, EachRuleNamesItsFailure) {
  HealthRules rules;
  std::vector<std::vector<double>> flat;
  for (unsigned c = 0; c < 2; ++c) flat.push_back(ar1(120, 0.3, 20 + c));
  // chain_health's absolute floor (0.1 per chain), and 0.95 × the row's best acceptance.
  EXPECT_EQ(judge_health(assess_point(result_with(flat, 0.05)), rules, NAN).reasons, "chain_health(low_mala)");
  EXPECT_EQ(judge_health(assess_point(result_with(flat, 0.80)), rules, 0.95).reasons, "mala");
  EXPECT_TRUE(judge_health(assess_point(result_with(flat, 0.80)), rules, 0.83).healthy);
  LlcResult below = result_with(flat);
  for (auto& chain : below.chains) chain.fraction_below_init = 0.2;
  EXPECT_EQ(judge_health(assess_point(below), rules, NAN).reasons, "below_init");
  LlcResult diverged = result_with(flat);
  diverged.chains[1].diverged = true;
  diverged.chains_used = 1, diverged.chains_diverged = 1;
  EXPECT_EQ(judge_health(assess_point(diverged), rules, NAN).reasons, "diverged");
  // Every chain excluded by chain health and none diverged: the reason is the
  // health problem, not "diverged" (what the grid table used to print).
  LlcResult excluded = result_with(flat, 0.05);
  excluded.chains_used = 0;
  EXPECT_EQ(judge_health(assess_point(excluded), rules, NAN).reasons, "chain_health(low_mala)");
}

TEST(Tune, RecommendsLargestNbetaThenSmallestGammaThenLargestEpsilon) {
  auto point = [](double epsilon, double nbeta, double gamma, bool healthy) {
    TunePoint p;
    p.epsilon = epsilon, p.nbeta = nbeta, p.gamma = gamma;
    p.verdict.healthy = healthy;
    return p;
  };
  std::vector<TunePoint> points = {point(1e-3, 10, 100, true), point(3e-3, 10, 100, true),
                                   point(1e-3, 30, 100, true), point(3e-3, 30, 100, false),
                                   point(1e-4, 30, 300, true), point(1e-2, 100, 100, false)};
  EXPECT_EQ(recommend(points), 2);  // nβ 30 (100 is unhealthy), γ 100 before 300, then the healthy ε
  for (auto& p : points) p.verdict.healthy = false;
  EXPECT_EQ(recommend(points), -1);
}

TEST(Tune, GridOnAKnownLambdaModelRecommendsAHealthyPointAndWritesHdf5) {
  ReferenceModelSpec spec;
  spec.kind = "monomial";
  spec.powers = {2, 4};
  ReferenceModel reference = make_reference_model(spec);
  LlcConfig base;
  base.chains = 2, base.draws = 1500, base.steps_between_draws = 4, base.batch_size = 16, base.init_batches = 2;
  base.sampler.localization = 1, base.progress = false, base.seed = 5;
  TuneGrid grid{{1e-4, 3e-4, 0.5}, {1000}, {1}};
  TuneResult tune = tune_llc(*reference.model, base, grid, HealthRules{});
  ASSERT_EQ(tune.points.size(), 3u);
  // ε = 0.5 with nβ = 1000 on K = ½(w₁² + w₂⁴) is far past the stability limit ε·nβ < 4.
  EXPECT_GT(tune.points[2].health.chains_diverged, 0);
  EXPECT_FALSE(tune.points[2].verdict.healthy);
  ASSERT_GE(tune.recommended, 0);
  EXPECT_TRUE(tune.points[tune.recommended].verdict.healthy);
  EXPECT_EQ(tune.recommended_burn_in, base.steps() / 3);

  const auto path = std::filesystem::temp_directory_path() / "llcpress_test_tune.h5";
  {
    io::File file = io::File::create(path);
    io::Group group = file.root().require_group("tune");
    write_tune(group, tune);
    file.close();
  }
  {
    io::File file = io::File::open_read_only(path);
    const io::Group group = file.root().open_group("tune");
    const io::Table table = io::read_table(group, "points");
    ASSERT_EQ(table.num_rows(), 3);
    EXPECT_EQ(table.values<double>("epsilon")[1], 3e-4);
    EXPECT_EQ(table.values<std::uint8_t>("recommended")[tune.recommended], 1);
    EXPECT_EQ(group.attribute<std::int64_t>("recommended_index"), tune.recommended);
    EXPECT_EQ(group.read<double>("point_001/traces/draw_loss").shape, (io::Shape{2, 1500}));
  }
  EXPECT_EQ(io::open_hdf5_object_count(), 0);
  std::filesystem::remove(path);
}
