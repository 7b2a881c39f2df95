// The nested-lattice (Voronoi) group kernels: round trips inside the code,
// dithered error in the Voronoi cell, smallest-decodable-scale selection,
// and escapes.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "lattice/e8_batch.h"
#include "lattice/lattice.h"
#include "lattice/nested_code.h"

namespace llcpress::lattice {
namespace {

struct Kernel {
  const LatticeInfo& lattice;
  std::vector<float> betas, inverse_betas, offset;
  GroupCode code;
  Kernel(const LatticeInfo& l, int q, std::vector<float> scales) : lattice(l), betas(std::move(scales)) {
    for (float b : betas) inverse_betas.push_back(1.0f / b);
    offset.assign(l.dimension, voronoi_offset(l.is_integer_lattice(), q));
    code.q = q;
    code.inverse_q = 1.0f / q;
    code.num_scales = static_cast<int>(betas.size());
    code.betas = betas.data();
    code.inverse_betas = inverse_betas.data();
    code.offset = offset.data();
  }
  // Encodes one group of `blocks` blocks; returns class, fills digits and reconstruction-by-decoder.
  int encode(const std::vector<float>& x, int blocks, bool dither, std::vector<std::uint8_t>& digits,
             std::vector<float>& decoded, std::uint64_t stream = 3) {
    const int d = lattice.dimension;
    digits.assign(blocks * d, 0);
    std::vector<float> escapes(blocks * d);
    std::uint8_t cls = 0;
    std::vector<double> cross(betas.size() + 1), energy(betas.size() + 1);
    SegmentJob job;
    job.values = x.data();
    job.blocks = blocks;
    job.group_blocks = blocks;
    job.code = &code;
    job.dither = dither;
    job.seed = 77;
    job.dither_stream = stream;
    job.digits = digits.data();
    job.classes = &cls;
    job.cross = cross.data();
    job.energy = energy.data();
    job.escapes = escapes.data();
    lattice.encode_segment(job);
    // Decode with a fresh job, as a decoder would.
    decoded.assign(blocks * d, 0);
    SegmentJob reader = job;
    reader.escapes = escapes.data();
    reader.escape_count = 0;
    std::vector<float> gains(betas.size() + 1, 1.0f);
    lattice.decode_segment(decoded.data(), reader, gains.data());
    return cls;
  }
};

class NestedCode : public ::testing::TestWithParam<std::string> {};

// A point just off a coset leader (well inside its fine Voronoi cell) decodes
// to exactly β·(leader + offset) at the first scale.
TEST_P(NestedCode, UnditheredRoundTripInsideTheCode) {
  const auto& lattice = find_lattice(GetParam());
  const int d = lattice.dimension;
  CounterRng rng(8, static_cast<std::uint64_t>(d));
  for (int q : {2, 3, 6, 7, 8}) {
    const float beta = 0.37f;
    Kernel kernel(lattice, q, {beta});
    for (int trial = 0; trial < 100; ++trial) {
      std::vector<float> leader(d), x(d), u(d), point(d);
      std::vector<std::uint8_t> random_digits(d);
      for (int t = 0; t < d; ++t) random_digits[t] = static_cast<std::uint8_t>(rng.uniform(trial * 64 + t) * q) % q;
      for (int t = 0; t < d; ++t) u[t] = random_digits[t];
      lattice.from_coordinates(point.data(), u.data());
      lattice.reduce_mod_q(leader.data(), point.data(), q);
      // Perturbation of norm ≤ 0.3 × packing radius keeps Q(x/β − offset) = leader.
      for (int t = 0; t < d; ++t) {
        float noise = 0.3f * static_cast<float>(lattice.packing_radius) / std::sqrt(float(d)) *
                      (2 * rng.uniform(trial * 64 + 32 + t) - 1);
        x[t] = beta * (leader[t] + kernel.offset[t] + noise);
      }
      std::vector<std::uint8_t> digits;
      std::vector<float> decoded;
      ASSERT_EQ(kernel.encode(x, 1, false, digits, decoded), 0) << lattice.name << " q=" << q;
      for (int t = 0; t < d; ++t) ASSERT_EQ(digits[t], random_digits[t]) << lattice.name << " q=" << q;
      for (int t = 0; t < d; ++t)
        ASSERT_NEAR(decoded[t], beta * (leader[t] + kernel.offset[t]), 1e-5f) << lattice.name << " q=" << q;
    }
  }
}

// With subtractive dither the reconstruction error x̂ − x = β(Q(v) − v) lies in
// β·V (the Voronoi cell): no farther than β·covering radius, and its nearest
// lattice point (after dividing by β) is 0.
TEST_P(NestedCode, DitheredErrorLiesInTheVoronoiCell) {
  const auto& lattice = find_lattice(GetParam());
  const int d = lattice.dimension;
  const int q = 7;
  const float beta = 0.4f;
  Kernel kernel(lattice, q, {beta});
  CounterRng rng(9, static_cast<std::uint64_t>(d));
  int decoded_groups = 0;
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<float> x(2 * d);
    for (int t = 0; t < 2 * d; ++t) x[t] = 0.5f * rng.normal(trial * 64 + t);
    std::vector<std::uint8_t> digits;
    std::vector<float> decoded;
    int k = kernel.encode(x, 2, true, digits, decoded, static_cast<std::uint64_t>(trial));
    if (k != 0) continue;
    ++decoded_groups;
    for (int b = 0; b < 2; ++b) {
      std::vector<double> error(d), nearest(d);
      double norm2 = 0;
      for (int t = 0; t < d; ++t) {
        error[t] = (decoded[b * d + t] - x[b * d + t]) / beta;
        norm2 += error[t] * error[t];
      }
      // float arithmetic on values of size ≤ q: 1e-4 slack.
      EXPECT_LE(std::sqrt(norm2), lattice.covering_radius + 1e-4) << lattice.name;
      lattice.closest_point_double(nearest.data(), error.data());
      double nearest_norm = 0;
      for (int t = 0; t < d; ++t) nearest_norm += nearest[t] * nearest[t];
      if (nearest_norm != 0) {  // only allowed on the cell boundary
        double moved = 0;
        for (int t = 0; t < d; ++t) moved += (error[t] - nearest[t]) * (error[t] - nearest[t]);
        EXPECT_NEAR(moved, norm2, 1e-4) << lattice.name;
      }
    }
  }
  EXPECT_GT(decoded_groups, 200) << "β too small for this test to mean anything";
}

// The chosen class is the smallest scale that decodes; every smaller one overloads.
TEST_P(NestedCode, PicksTheSmallestDecodableScale) {
  const auto& lattice = find_lattice(GetParam());
  const int d = lattice.dimension;
  const int q = 5;
  std::vector<float> scales{0.2f, 0.3f, 0.45f, 0.7f, 1.1f};
  Kernel all(lattice, q, scales);
  CounterRng rng(10, static_cast<std::uint64_t>(d));
  std::vector<int> histogram(scales.size() + 1, 0);
  for (bool dither : {false, true}) {
    for (int trial = 0; trial < 150; ++trial) {
      std::vector<float> x(d);
      for (int t = 0; t < d; ++t) x[t] = rng.normal(trial * 64 + t + (dither ? 100000 : 0));
      std::vector<std::uint8_t> digits, single_digits;
      std::vector<float> decoded, single_decoded;
      int k = all.encode(x, 1, dither, digits, decoded, static_cast<std::uint64_t>(trial));
      ++histogram[k];
      for (int j = 0; j < static_cast<int>(scales.size()); ++j) {
        Kernel one(lattice, q, {scales[j]});
        int single = one.encode(x, 1, dither, single_digits, single_decoded, static_cast<std::uint64_t>(trial));
        if (j < k) {
          EXPECT_EQ(single, 1) << "scale " << j << " decodes but class " << k << " was chosen";
        }
        if (j == k) {
          EXPECT_EQ(single, 0);
          EXPECT_EQ(single_digits, digits);
          EXPECT_EQ(single_decoded, decoded);
        }
      }
    }
  }
  // The test exercises more than one class.
  int used = 0;
  for (int h : histogram) used += h > 0;
  EXPECT_GE(used, 2);
}

// When every scale overloads the group is sent raw and decodes exactly.
TEST_P(NestedCode, EscapeReproducesTheValues) {
  const auto& lattice = find_lattice(GetParam());
  const int d = lattice.dimension;
  Kernel kernel(lattice, 2, {1e-3f});
  std::vector<float> x(d);
  for (int t = 0; t < d; ++t) x[t] = 3.0f + t;
  std::vector<std::uint8_t> digits;
  std::vector<float> decoded;
  EXPECT_EQ(kernel.encode(x, 1, false, digits, decoded), 1);
  EXPECT_EQ(decoded, x);
}

INSTANTIATE_TEST_SUITE_P(Lattices, NestedCode, ::testing::Values("Z", "D3", "D4", "E8", "BW16"));

}  // namespace
}  // namespace llcpress::lattice

namespace llcpress::lattice {
namespace {

// The batched (AVX2) E8 kernels reproduce the reference kernels bit for bit:
// classes, digits, escapes, statistics and decoded values, on Gaussian data
// and on data from a coarse grid where closest-point ties are frequent.
TEST(E8Batched, MatchesTheReferenceKernels) {
  const auto& lattice = find_lattice("E8");
  std::vector<float> betas{0.25f, 0.4f, 0.47f, 0.58f, 0.9f}, inverse, offset(8, 0.0f);
  for (float b : betas) inverse.push_back(1.0f / b);
  for (int q : {2, 5, 7, 8}) {
    GroupCode code;
    code.q = q;
    code.inverse_q = 1.0f / q;
    code.num_scales = static_cast<int>(betas.size());
    code.betas = betas.data();
    code.inverse_betas = inverse.data();
    code.offset = offset.data();
    for (int pattern = 0; pattern < 2; ++pattern) {
      const std::int64_t blocks = 203;  // 25 batches of 8 and a tail of 3
      std::vector<float> x(blocks * 8);
      CounterRng rng(17, static_cast<std::uint64_t>(q * 2 + pattern));
      rng.fill_normal(x.data(), x.size());
      if (pattern == 1)  // multiples of β_1/4: many points on cell boundaries
        for (auto& v : x) v = std::round(v * 8) / 8 * 0.4f / 2;
      x[5] = 50;  // an escape
      struct Output {
        std::vector<std::uint8_t> digits, classes;
        std::vector<double> cross, energy;
        std::vector<float> escapes, decoded;
        std::int64_t escape_count = 0;
      };
      auto run = [&](bool batched) {
        Output o;
        o.digits.assign(blocks * 8, 0);
        o.classes.assign(blocks, 0);
        o.cross.assign(betas.size() + 1, 0);
        o.energy.assign(betas.size() + 1, 0);
        o.escapes.assign(blocks * 8, 0);
        SegmentJob job;
        job.values = x.data();
        job.blocks = blocks;
        job.group_blocks = 1;
        job.code = &code;
        job.digits = o.digits.data();
        job.classes = o.classes.data();
        job.cross = o.cross.data();
        job.energy = o.energy.data();
        job.escapes = o.escapes.data();
        if (batched)
          lattice.encode_segment(job);
        else
          encode_segment_e8_reference(job);
        o.escape_count = job.escape_count;
        std::vector<float> gains{1.0f, 0.99f, 0.98f, 0.97f, 0.96f, 1.0f};
        o.decoded.assign(blocks * 8, 0);
        SegmentJob reader = job;
        reader.escape_count = 0;
        if (batched)
          lattice.decode_segment(o.decoded.data(), reader, gains.data());
        else
          decode_segment_e8_reference(o.decoded.data(), reader, gains.data());
        return o;
      };
      Output reference = run(false), batched = run(true);
      EXPECT_EQ(batched.classes, reference.classes) << "q=" << q << " pattern " << pattern;
      EXPECT_EQ(batched.digits, reference.digits) << "q=" << q;
      EXPECT_EQ(batched.cross, reference.cross) << "q=" << q;
      EXPECT_EQ(batched.energy, reference.energy) << "q=" << q;
      EXPECT_EQ(batched.escape_count, reference.escape_count);
      EXPECT_EQ(batched.escapes, reference.escapes);
      EXPECT_EQ(batched.decoded, reference.decoded) << "q=" << q;
      EXPECT_GT(reference.escape_count, 0);
    }
  }
}

}  // namespace
}  // namespace llcpress::lattice
