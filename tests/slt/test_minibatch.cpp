#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "core/error.h"
#include "core/rng.h"
#include "slt/minibatch.h"

using namespace llcpress;
using namespace llcpress::slt;

TEST(Minibatch, DistinctSortedInRangeAndReproducible) {
  MinibatchSampler sampler({100, 150}, 20);
  std::vector<std::int64_t> a, b;
  sampler.draw(5, stream_id(1, 2), a);
  sampler.draw(5, stream_id(1, 2), b);
  EXPECT_EQ(a, b);
  ASSERT_EQ(a.size(), 20u);
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
  EXPECT_EQ(std::set<std::int64_t>(a.begin(), a.end()).size(), 20u);
  for (auto i : a) EXPECT_TRUE(i >= 100 && i < 150);
  sampler.draw(5, stream_id(1, 3), b);
  EXPECT_NE(a, b);
}

TEST(Minibatch, FullBatchIsTheRangeInOrder) {
  MinibatchSampler sampler({3, 8}, 5);
  EXPECT_TRUE(sampler.full_batch());
  std::vector<std::int64_t> a;
  sampler.draw(1, 2, a);
  EXPECT_EQ(a, (std::vector<std::int64_t>{3, 4, 5, 6, 7}));
}

// Each index is in a batch with probability b/N. Over B batches its count is
// Binomial(B, b/N): mean 600, sd ≈ 21.9 for B = 3000, b = 10, N = 50. Six
// standard deviations bounds every one of the 50 counts with probability
// > 1 − 1e-7 for a uniform sampler.
TEST(Minibatch, IndicesAreUniform) {
  const int N = 50, b = 10, B = 3000;
  MinibatchSampler sampler({0, N}, b);
  std::vector<int> counts(N, 0);
  std::vector<std::int64_t> batch;
  for (int k = 0; k < B; ++k) {
    sampler.draw(77, stream_id(k), batch);
    for (auto i : batch) ++counts[i];
  }
  const double p = double(b) / N, mean = B * p, sd = std::sqrt(B * p * (1 - p));
  for (int i = 0; i < N; ++i) EXPECT_NEAR(counts[i], mean, 6 * sd) << "index " << i;
}

TEST(Minibatch, BadRangesAreConfigErrors) {
  EXPECT_THROW(MinibatchSampler({5, 5}, 1), ConfigError);
  EXPECT_THROW(MinibatchSampler({0, 4}, 5), ConfigError);
  EXPECT_THROW(MinibatchSampler({0, 4}, 0), ConfigError);
  EXPECT_THROW(MinibatchSampler({-1, 4}, 1), ConfigError);
}
