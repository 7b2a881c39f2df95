// Fast Walsh–Hadamard transform and the randomized rotation.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "lattice/hadamard.h"

namespace llcpress::lattice {
namespace {

// Sylvester Hadamard entry H[i][j] = (−1)^{popcount(i & j)}.
float sylvester(std::int64_t i, std::int64_t j) { return __builtin_popcountll(i & j) % 2 ? -1.0f : 1.0f; }

TEST(Fwht, MatchesTheSylvesterMatrix) {
  for (std::int64_t n : {1, 2, 4, 8, 16, 64, 256}) {
    std::vector<float> x(n), y(n);
    CounterRng(1, static_cast<std::uint64_t>(n)).fill_normal(x.data(), n);
    y = x;
    fwht(y.data(), n);
    for (std::int64_t i = 0; i < n; ++i) {
      double expected = 0;
      for (std::int64_t j = 0; j < n; ++j) expected += sylvester(i, j) * x[j];
      // float sums of n terms of size ~1: error ≲ n·log2(n)·6e-8.
      EXPECT_NEAR(y[i], expected, 1e-5 * n) << "n=" << n << " i=" << i;
    }
  }
  std::vector<float> bad(6);
  EXPECT_THROW(fwht(bad.data(), 6), InternalError);
}

TEST(Rotation, LengthIsSmallOddTimesPowerOfTwo) {
  EXPECT_EQ(rotation_length(6144), 6144);  // 3·2^11
  EXPECT_EQ(rotation_length(2560), 2560);  // 5·2^9
  EXPECT_EQ(rotation_length(1), 1);
  EXPECT_EQ(rotation_length(65), 66);  // 65 = 65·1 has odd part > 63; 66 = 33·2
  for (std::int64_t n = 1; n < 3000; n += 37) {
    std::int64_t length = rotation_length(n);
    EXPECT_GE(length, n);
    EXPECT_LE(length, n + n / 32 + 1);  // odd factors up to 63 leave gaps below 1/32
  }
}

// R has orthonormal columns: rotate each basis vector, check RᵀR = I; and
// the inverse undoes the rotation.
TEST(Rotation, IsOrthogonal) {
  for (std::int64_t n : {1, 3, 8, 12, 20, 48, 100, 129}) {
    RandomizedRotation rotation(n, 42);
    const std::int64_t big_n = rotation.rotated_length();
    std::vector<std::vector<float>> columns(n, std::vector<float>(big_n));
    for (std::int64_t j = 0; j < n; ++j) {
      std::vector<float> e(n, 0.0f);
      e[j] = 1;
      rotation.forward(columns[j].data(), e.data());
    }
    for (std::int64_t i = 0; i < n; ++i) {
      for (std::int64_t j = 0; j < n; ++j) {
        double dot = 0;
        for (std::int64_t t = 0; t < big_n; ++t) dot += static_cast<double>(columns[i][t]) * columns[j][t];
        // float rotation of a unit vector: error ~ log2(N)·6e-8 per entry.
        EXPECT_NEAR(dot, i == j ? 1.0 : 0.0, 1e-5) << "n=" << n << " (" << i << "," << j << ")";
      }
    }
    std::vector<float> x(n), rotated(big_n), back(n);
    CounterRng(3, static_cast<std::uint64_t>(n)).fill_normal(x.data(), n);
    rotation.forward(rotated.data(), x.data(), 2.0f);
    rotation.inverse(back.data(), rotated.data(), 0.5f);
    for (std::int64_t i = 0; i < n; ++i) EXPECT_NEAR(back[i], x[i], 1e-5);
  }
}

// A spike is spread over every coordinate (the point of the rotation), for a
// power of two and for 6144 = 3·2^11 (odd factor mixed by O_3).
TEST(Rotation, SpreadsASpike) {
  for (std::int64_t n : {1024, 6144}) {
    RandomizedRotation rotation(n, 5);
    std::vector<float> e(n, 0.0f), rotated(rotation.rotated_length());
    e[17] = 1;
    rotation.forward(rotated.data(), e.data());
    float largest = 0;
    for (float v : rotated) largest = std::max(largest, std::fabs(v));
    // The Hadamard part puts ±1/√2^k on one row of 2^k entries; O_m mixes
    // rows with weights |O| ≤ 1, so no entry exceeds 1/√2^k. A spread that
    // failed would leave an entry near 1.
    EXPECT_LE(largest, 2.0f / std::sqrt(static_cast<float>(rotation.power_of_two())));
  }
}

TEST(Rotation, SameSeedSameRotation) {
  RandomizedRotation a(300, 9), b(300, 9), c(300, 10);
  std::vector<float> x(300), ra(a.rotated_length()), rb(b.rotated_length()), rc(c.rotated_length());
  CounterRng(4, 4).fill_normal(x.data(), x.size());
  a.forward(ra.data(), x.data());
  b.forward(rb.data(), x.data());
  c.forward(rc.data(), x.data());
  EXPECT_EQ(ra, rb);
  EXPECT_NE(ra, rc);
}

}  // namespace
}  // namespace llcpress::lattice
