#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <vector>

#include "core/rng.h"

using namespace llcpress;

TEST(Rng, SameKeyGivesSameNumbers) {
  CounterRng a(42, stream_id(1, 2, 3)), b(42, stream_id(1, 2, 3));
  std::vector<float> x(1001), y(1001);
  a.fill_normal(x.data(), x.size());
  b.fill_normal(y.data(), y.size());
  EXPECT_EQ(x, y);
}

TEST(Rng, DifferentSeedsOrStreamsDiffer) {
  std::vector<float> base(64), other(64);
  CounterRng(42, stream_id(1, 2)).fill_normal(base.data(), base.size());
  CounterRng(43, stream_id(1, 2)).fill_normal(other.data(), other.size());
  EXPECT_NE(base, other);
  CounterRng(42, stream_id(2, 1)).fill_normal(other.data(), other.size());
  EXPECT_NE(base, other);
}

// A buffer filled in pieces at arbitrary offsets equals one filled at once:
// the property that makes results independent of how work is split.
TEST(Rng, PiecewiseFillEqualsWholeFill) {
  CounterRng rng(7, stream_id(9));
  const std::size_t n = 300000;  // large enough to take the OpenMP path
  std::vector<float> whole(n), pieces(n);
  rng.fill_normal(whole.data(), n);
  std::size_t cuts[] = {0, 1, 7, 13, 4096, 123457, n};
  for (std::size_t i = 0; i + 1 < std::size(cuts); ++i)
    rng.fill_normal(pieces.data() + cuts[i], cuts[i + 1] - cuts[i], cuts[i]);
  EXPECT_EQ(whole, pieces);
  for (std::size_t e : {0ul, 5ul, 123456ul}) EXPECT_EQ(rng.normal(e), whole[e]);
}

// Moments of N(0,1) and U(0,1]: with n = 10^6 draws the standard error of the
// mean is 1e-3 (normal) and 2.9e-4 (uniform); 5 standard errors is the bound,
// so a correct generator fails with probability < 1e-6.
TEST(Rng, MomentsMatchTheDistributions) {
  const std::size_t n = 1'000'000;
  std::vector<float> z(n), u(n);
  CounterRng rng(2024, stream_id(5));
  rng.fill_normal(z.data(), n);
  rng.fill_uniform(u.data(), n);
  double mean = 0, second = 0, fourth = 0, umean = 0, umin = 1;
  for (std::size_t i = 0; i < n; ++i) {
    mean += z[i];
    second += double(z[i]) * z[i];
    fourth += std::pow(double(z[i]), 4);
    umean += u[i];
    umin = std::min<double>(umin, u[i]);
  }
  mean /= n, second /= n, fourth /= n, umean /= n;
  EXPECT_NEAR(mean, 0.0, 5 * 1.0 / std::sqrt(double(n)));
  EXPECT_NEAR(second, 1.0, 5 * std::sqrt(2.0 / n));   // var(z^2) = 2
  EXPECT_NEAR(fourth, 3.0, 5 * std::sqrt(96.0 / n));  // var(z^4) = 105 - 9
  EXPECT_NEAR(umean, 0.5, 5 * std::sqrt(1.0 / 12 / n));
  EXPECT_GT(umin, 0.0);  // never exactly zero: safe for log()
}

TEST(Rng, StreamIdsDoNotCollideOnSmallGrid) {
  std::set<std::uint64_t> seen;
  for (std::uint64_t a = 0; a < 40; ++a)
    for (std::uint64_t b = 0; b < 40; ++b)
      for (std::uint64_t c = 0; c < 40; ++c) seen.insert(stream_id(a, b, c));
  EXPECT_EQ(seen.size(), 40u * 40u * 40u);
}

// Philox4x32-10 known-answer test from the Random123 distribution (kat_vectors):
// counter = key = 0 gives 6627e8d5 e169c58d bc57ac4c 9b00dbd8.
TEST(Rng, PhiloxKnownAnswer) {
  auto bits = philox_bits(0, 0, 0);
  EXPECT_EQ(bits.v[0], 0x6627e8d5u);
  EXPECT_EQ(bits.v[1], 0xe169c58du);
  EXPECT_EQ(bits.v[2], 0xbc57ac4cu);
  EXPECT_EQ(bits.v[3], 0x9b00dbd8u);
}
