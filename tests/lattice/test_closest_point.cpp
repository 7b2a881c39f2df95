// Closest point of every registered lattice against exhaustive search, lattice
// membership, basis coordinates, and the exact coset-leader reduction.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "enumeration.h"
#include "lattice/lattice.h"

namespace llcpress::lattice {
namespace {

using testing::Enumerator;
using testing::Matrix;

// Distances are sums of at most 16 squares of numbers below ~10, computed in
// double: rounding error is far below this; a wrong closest point is off by
// at least (distance gap between lattice points) ≫ 1e-9.
constexpr double kDistanceTolerance = 1e-9;

Matrix generator_of(const LatticeInfo& lattice) {
  Matrix rows(lattice.dimension, std::vector<double>(lattice.dimension));
  for (int i = 0; i < lattice.dimension; ++i) lattice.generator_row(rows[i].data(), i);
  return rows;
}

double distance2(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
  return s;
}

// True iff p is in the lattice: its basis coordinates are integers and map back to p.
bool is_lattice_point(const LatticeInfo& lattice, const std::vector<double>& p) {
  const int d = lattice.dimension;
  std::vector<float> point(d), u(d), back(d);
  for (int i = 0; i < d; ++i) {
    point[i] = static_cast<float>(p[i]);
    if (point[i] != p[i] || std::fabs(2 * p[i] - std::round(2 * p[i])) > 0) return false;  // half-integers at most
  }
  lattice.coordinates(u.data(), point.data());
  for (int i = 0; i < d; ++i)
    if (u[i] != std::round(u[i])) return false;
  lattice.from_coordinates(back.data(), u.data());
  for (int i = 0; i < d; ++i)
    if (back[i] != point[i]) return false;
  return true;
}

// Test points: Gaussian (scale 3), and points on a ¼-grid, where ties between
// lattice points (equidistant neighbours) are common.
std::vector<std::vector<double>> test_points(int d, int count, std::uint64_t stream) {
  CounterRng rng(2024, stream);
  std::vector<std::vector<double>> points;
  for (int i = 0; i < count; ++i) {
    std::vector<double> x(d);
    for (int t = 0; t < d; ++t) {
      double g = rng.normal(static_cast<std::uint64_t>(i * d + t));
      x[t] = i % 2 == 0 ? 3.0 * g : std::round(4.0 * g) / 4.0;
    }
    points.push_back(x);
  }
  return points;
}

class EveryLattice : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryLattice, GeneratorHasTheTabulatedCovolume) {
  const auto& lattice = find_lattice(GetParam());
  Matrix g = generator_of(lattice);
  // Determinant by Gaussian elimination with partial pivoting.
  const int d = lattice.dimension;
  double det = 1;
  for (int c = 0; c < d; ++c) {
    int pivot = c;
    for (int r = c + 1; r < d; ++r)
      if (std::fabs(g[r][c]) > std::fabs(g[pivot][c])) pivot = r;
    ASSERT_GT(std::fabs(g[pivot][c]), 1e-12);
    if (pivot != c) {
      std::swap(g[pivot], g[c]);
      det = -det;
    }
    det *= g[c][c];
    for (int r = c + 1; r < d; ++r) {
      double f = g[r][c] / g[c][c];
      for (int t = c; t < d; ++t) g[r][t] -= f * g[c][t];
    }
  }
  EXPECT_NEAR(std::fabs(det), lattice.covolume, 1e-9 * lattice.covolume);
}

TEST_P(EveryLattice, ClosestPointEqualsExhaustiveSearch) {
  const auto& lattice = find_lattice(GetParam());
  const int d = lattice.dimension;
  Enumerator enumerator(generator_of(lattice));
  const int count = d >= 16 ? 160 : 600;
  int index = 0;
  for (const auto& x : test_points(d, count, static_cast<std::uint64_t>(d))) {
    std::vector<double> p(d);
    lattice.closest_point_double(p.data(), x.data());
    ASSERT_TRUE(is_lattice_point(lattice, p)) << lattice.name << " point " << index;
    double found = distance2(x, p);
    double best = enumerator.min_distance2(x, found + 1e-6);
    EXPECT_LE(found, best + kDistanceTolerance) << lattice.name << " point " << index;
    // No point farther than the covering radius from the lattice.
    EXPECT_LE(found, lattice.covering_radius * lattice.covering_radius + kDistanceTolerance);
    // The float version finds a point as close (ties may pick another one).
    std::vector<float> xf(x.begin(), x.end()), pf(d);
    lattice.closest_point_float(pf.data(), xf.data());
    std::vector<double> pd(pf.begin(), pf.end()), xd(xf.begin(), xf.end());
    ASSERT_TRUE(is_lattice_point(lattice, pd));
    // xf is x rounded to float: distances agree to a few float ulps of |x|² (≤ 1e-4 here).
    EXPECT_NEAR(distance2(xd, pd), distance2(xd, p), 1e-4) << lattice.name << " point " << index;
    ++index;
  }
}

TEST_P(EveryLattice, CoordinatesRoundTrip) {
  const auto& lattice = find_lattice(GetParam());
  const int d = lattice.dimension;
  CounterRng rng(7, 7);
  for (int i = 0; i < 200; ++i) {
    std::vector<float> u(d), point(d), back(d);
    for (int t = 0; t < d; ++t) u[t] = std::round(5 * rng.normal(static_cast<std::uint64_t>(i * d + t)));
    lattice.from_coordinates(point.data(), u.data());
    lattice.coordinates(back.data(), point.data());
    for (int t = 0; t < d; ++t) ASSERT_EQ(back[t], u[t]) << lattice.name;
  }
}

// The coset leader p − q·Q(p/q): (a) congruent to p mod qΛ, (b) as short as
// any member of the coset (exhaustive search of p − qΛ), (c) the same for every
// member of the coset (p + qλ), including ties — the property the Voronoi code
// needs so that the decoder rebuilds the encoder's leader.
TEST_P(EveryLattice, CosetLeaderIsShortestAndEquivariant) {
  const auto& lattice = find_lattice(GetParam());
  const int d = lattice.dimension;
  Matrix scaled = generator_of(lattice);
  CounterRng rng(11, static_cast<std::uint64_t>(d));
  for (int q : {2, 3, 6, 7}) {
    Matrix coarse = scaled;
    for (auto& row : coarse)
      for (auto& v : row) v *= q;
    Enumerator enumerator(coarse);
    const int count = d >= 16 ? 40 : 150;
    for (int i = 0; i < count; ++i) {
      std::vector<float> u(d), p(d), leader(d), shift_u(d), shift(d), moved(d), leader_moved(d);
      for (int t = 0; t < d; ++t) {
        u[t] = std::round(q * rng.normal(static_cast<std::uint64_t>(2 * i * d + t)));
        shift_u[t] = std::round(2 * rng.normal(static_cast<std::uint64_t>((2 * i + 1) * d + t)));
      }
      lattice.from_coordinates(p.data(), u.data());
      lattice.reduce_mod_q(leader.data(), p.data(), q);
      // (a) p − leader ∈ qΛ: its basis coordinates are multiples of q.
      std::vector<float> difference(d), difference_u(d);
      for (int t = 0; t < d; ++t) difference[t] = p[t] - leader[t];
      lattice.coordinates(difference_u.data(), difference.data());
      for (int t = 0; t < d; ++t) ASSERT_EQ(std::fmod(difference_u[t], static_cast<float>(q)), 0.0f) << lattice.name;
      // (b) shortest in its coset.
      std::vector<double> pd(p.begin(), p.end()), zero(d, 0.0), leader_d(leader.begin(), leader.end());
      double norm2 = distance2(leader_d, zero);
      EXPECT_LE(norm2, enumerator.min_distance2(pd, norm2 + 1e-6) + kDistanceTolerance) << lattice.name << " q=" << q;
      // (c) p + q·λ reduces to the same leader.
      lattice.from_coordinates(shift.data(), shift_u.data());
      for (int t = 0; t < d; ++t) moved[t] = p[t] + q * shift[t];
      lattice.reduce_mod_q(leader_moved.data(), moved.data(), q);
      for (int t = 0; t < d; ++t) ASSERT_EQ(leader_moved[t], leader[t]) << lattice.name << " q=" << q;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Lattices, EveryLattice,
                         ::testing::Values("Z", "D2", "D3", "D4", "D5", "D6", "D7", "D8", "E8", "BW16"));

TEST(LatticeTable, NamesAreUniqueAndLookupFailsClearly) {
  std::set<std::string> names;
  for (const auto& row : lattice_table()) EXPECT_TRUE(names.insert(row.name).second) << row.name;
  EXPECT_THROW(find_lattice("A2"), ConfigError);
}

// D3 with q = 6: the 216 cosets have 216 distinct leaders, each its own leader.
TEST(VoronoiCodebook, D3ModSixHasOneLeaderPerCoset) {
  const auto& lattice = find_lattice("D3");
  std::set<std::vector<float>> leaders;
  for (int a = 0; a < 6; ++a)
    for (int b = 0; b < 6; ++b)
      for (int c = 0; c < 6; ++c) {
        float u[3] = {float(a), float(b), float(c)}, p[3], leader[3], again[3];
        lattice.from_coordinates(p, u);
        lattice.reduce_mod_q(leader, p, 6);
        lattice.reduce_mod_q(again, leader, 6);
        for (int t = 0; t < 3; ++t) ASSERT_EQ(again[t], leader[t]);
        leaders.insert({leader[0], leader[1], leader[2]});
      }
  EXPECT_EQ(leaders.size(), 216u);
}

}  // namespace
}  // namespace llcpress::lattice
