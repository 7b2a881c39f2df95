// The chain health rules (slt/chain_health.h) on hand-made traces whose
// verdicts and statistics follow from the definitions by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "slt/chain_health.h"

namespace llcpress::slt {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::vector<double> alternating(std::size_t n, double level, double amplitude) {
  std::vector<double> values(n);
  for (std::size_t i = 0; i < n; ++i) values[i] = level + (i % 2 ? amplitude : -amplitude);
  return values;
}

// The definition written out another way: batch j of k holds values
// [⌊j·n/k⌋, ⌊(j+1)·n/k⌋); fit m_j = a + b·x_j by the 2×2 normal equations in
// x = 1..k (not centred); se = √(Σ r²/(k−2)/k).
double reference_standard_error(const std::vector<double>& y, int k = kStationarityBatches) {
  const std::size_t n = y.size();
  std::vector<double> m(k);
  for (int j = 0; j < k; ++j) {
    const std::size_t begin = j * n / k, end = (j + 1) * n / k;
    double sum = 0;
    for (std::size_t i = begin; i < end; ++i) sum += y[i];
    m[j] = sum / static_cast<double>(end - begin);
  }
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (int j = 0; j < k; ++j) {
    const double x = j + 1;
    sx += x, sy += m[j], sxx += x * x, sxy += x * m[j];
  }
  const double b = (k * sxy - sx * sy) / (k * sxx - sx * sx), a = (sy - b * sx) / k;
  double rr = 0;
  for (int j = 0; j < k; ++j) rr += (m[j] - a - b * (j + 1)) * (m[j] - a - b * (j + 1));
  return std::sqrt(rr / (k - 2) / k);
}

TEST(ChainHealth, StandardErrorMatchesTheDefinition) {
  // 10 values, 10 batches of one: the residual spread of alternating values.
  const auto values = alternating(10, 0.5, 0.01);
  EXPECT_NEAR(batch_means_standard_error(values, 10), reference_standard_error(values), 1e-15);
  // 25 values in 10 batches of 2 or 3: uneven batches, as the definition cuts them.
  std::vector<double> uneven(25);
  for (std::size_t i = 0; i < uneven.size(); ++i) uneven[i] = std::sin(0.7 * i) + 0.01 * i;
  EXPECT_NEAR(batch_means_standard_error(uneven, 10), reference_standard_error(uneven), 1e-14);
  // Alternating values in batches of two: every batch mean is the level, so no noise at all.
  EXPECT_NEAR(batch_means_standard_error(alternating(20, 0.5, 0.01), 10), 0, 1e-15);
  // A pure line has no noise about itself: standard error 0.
  std::vector<double> line(20);  // equal batches of two: the batch means lie on a line too
  for (std::size_t i = 0; i < line.size(); ++i) line[i] = 3 + 0.5 * i;
  EXPECT_NEAR(batch_means_standard_error(line, 10), 0, 1e-12);
  EXPECT_TRUE(std::isnan(batch_means_standard_error(std::vector<double>{1.0, 2.0}, 10)));
}

TEST(ChainHealth, StationarityComparesTheLastThirdWithTheMiddleThird) {
  // 30 draws: first third anything (here 9), middle third 1 ± 0.01, last third 1.1 ± 0.01.
  std::vector<double> draws(10, 9.0);
  for (double v : alternating(10, 1.0, 0.01)) draws.push_back(v);
  for (double v : alternating(10, 1.1, 0.01)) draws.push_back(v);
  const auto check = check_stationarity(draws, 30);
  ASSERT_TRUE(check.checked);
  EXPECT_NEAR(check.middle_mean, 1.0, 1e-12);
  EXPECT_NEAR(check.last_mean, 1.1, 1e-12);
  const double se = reference_standard_error(alternating(10, 1.0, 0.01));
  ASSERT_GT(se, 0);
  EXPECT_NEAR(check.middle_standard_error, se, 1e-15);
  EXPECT_NEAR(check.z, 0.1 / std::sqrt(2 * se * se), 1e-6);
  // Too few draws: not checked.
  EXPECT_FALSE(check_stationarity(std::span(draws).subspan(0, 29), 30).checked);
}

ChainHealthInput healthy_input(const std::vector<double>& draws) {
  ChainHealthInput input;
  input.draw_loss = draws;
  input.mean_mala_acceptance = 0.9;
  input.init_loss = 0.99;
  input.nbeta = 10;
  input.sampled_parameters = 1000;
  return input;
}

TEST(ChainHealth, AStationaryChainInsideTheBandIsHealthy) {
  const auto draws = alternating(300, 1.0, 0.01);
  const ChainHealth health = assess_chain(healthy_input(draws));
  EXPECT_TRUE(health.healthy) << health.reason;
  EXPECT_EQ(health.problems, 0u);
  EXPECT_TRUE(health.reason.empty());
  EXPECT_NEAR(health.chain_llc, 10 * (1.0 - 0.99), 1e-12);
  EXPECT_DOUBLE_EQ(health.band_limit, 4.0 * 1000 / 2);
}

TEST(ChainHealth, EachRuleFlagsItsChain) {
  const auto draws = alternating(60, 1.0, 0.01);
  {  // the band: nβ·(mean − L_init) = 10·(1000 − 0.99) ≈ 9990 > 4·1000/2 = 2000
    const auto high = alternating(60, 1000.0, 0.01);
    const ChainHealth health = assess_chain(healthy_input(high));
    EXPECT_FALSE(health.healthy);
    EXPECT_EQ(health.problems, unsigned(kChainOutOfBand));
    EXPECT_NE(health.reason.find("out of band"), std::string::npos) << health.reason;
    // Just inside: λ̂_c = 1999 is kept.
    const auto edge = alternating(60, 0.99 + 199.9, 0.0);
    EXPECT_TRUE(assess_chain(healthy_input(edge)).healthy) << assess_chain(healthy_input(edge)).reason;
  }
  {
    ChainHealthInput input = healthy_input(draws);
    input.mean_mala_acceptance = 0.0;
    const ChainHealth health = assess_chain(input);
    EXPECT_EQ(health.problems, unsigned(kChainLowAcceptance));
    EXPECT_NE(health.reason.find("MALA acceptance 0 < 0.1"), std::string::npos) << health.reason;
    input.mean_mala_acceptance = kNaN;  // not estimated: the rule does not apply
    EXPECT_TRUE(assess_chain(input).healthy);
  }
  {
    // 300 draws (the default minimum) rising by 1e-5 per draw under ±0.001 noise.
    std::vector<double> rising(300);
    for (std::size_t i = 0; i < rising.size(); ++i) rising[i] = 1.0 + 1e-5 * i + (i % 2 ? 0.001 : -0.001);
    const ChainHealth health = assess_chain(healthy_input(rising));
    EXPECT_EQ(health.problems, unsigned(kChainNotStationary)) << health.reason;
    EXPECT_GT(health.stationarity.z, 4);
    // One draw fewer: not checked.
    const ChainHealth short_chain = assess_chain(healthy_input(std::vector<double>(rising.begin(), rising.end() - 1)));
    EXPECT_TRUE(short_chain.healthy) << short_chain.reason;
    EXPECT_FALSE(short_chain.stationarity.checked);
  }
  {
    ChainHealthInput input = healthy_input(std::vector<double>{1.0, kNaN});
    input.diverged = true;
    input.divergence_reason = "minibatch loss is nan at step 1";
    const ChainHealth health = assess_chain(input);
    EXPECT_EQ(health.problems, unsigned(kChainDiverged));
    EXPECT_TRUE(std::isnan(health.chain_llc));
    EXPECT_NE(health.reason.find("minibatch loss is nan"), std::string::npos);
    EXPECT_EQ(chain_problem_names(health.problems | kChainLowAcceptance), "diverged,low_mala");
  }
}

TEST(ChainHealth, AShardNeedsHalfItsChainsAndAtLeastTwo) {
  EXPECT_EQ(min_healthy_chains(1), 1);
  EXPECT_EQ(min_healthy_chains(2), 2);
  EXPECT_EQ(min_healthy_chains(3), 2);
  EXPECT_EQ(min_healthy_chains(4), 2);
  EXPECT_EQ(min_healthy_chains(5), 3);
  ChainHealth good, bad;
  bad.healthy = false;
  bad.problems = kChainLowAcceptance;
  bad.reason = "MALA acceptance 0 < 0.1";
  const std::vector<int> ids{0, 1, 2, 3};
  const std::vector<ChainHealth> two_good{bad, good, bad, good};
  EXPECT_FALSE(assess_shard(two_good, ids).failed);
  const std::vector<ChainHealth> one_good{bad, good, bad, bad};
  const ShardHealth shard = assess_shard(one_good, ids);
  EXPECT_TRUE(shard.failed);
  EXPECT_EQ(shard.healthy, 1);
  EXPECT_EQ(shard.reason,
            "1 of 4 chains healthy (need 2): chain 0: MALA acceptance 0 < 0.1; chain 2: MALA acceptance 0 < 0.1; "
            "chain 3: MALA acceptance 0 < 0.1");
}

}  // namespace
}  // namespace llcpress::slt
