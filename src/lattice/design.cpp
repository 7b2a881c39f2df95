#include "lattice/design.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>

#include "core/check.h"
#include "core/rng.h"
#include "lattice/hadamard.h"

namespace llcpress::lattice {

namespace {

constexpr std::uint64_t kDesignSeed = 0x5343414c45534545ull;  // fixed: designs are part of the method
constexpr double kGridLow = 0.8;                              // β·q at the bottom of the grid
constexpr double kGridRatio = 1.03;                           // 3% steps in β
constexpr int kGridSize = 110;                                // up to β·q ≈ 0.8·1.03^109 ≈ 20

struct Calibration {
  int samples = 0, grid = 0, coordinates = 0;  // coordinates per sample group
  std::vector<double> signal;                  // [samples] Σx²
  std::vector<std::uint8_t> decodes;           // [samples][grid]
  std::vector<float> cross, energy;            // [samples][grid] ⟨x, x̂⟩, ‖x̂‖²
  std::vector<float> betas;                    // [grid]
  int first_useful = 0, last_useful = 0;       // grid range run on the full sample
};

// Runs the single-scale code at grid scale j on samples [first, last): one
// encode and one decode over all of them (so E8 uses its batched kernels),
// then the per-sample statistics.
void run_grid_point(Calibration& c, const LatticeInfo& lattice, int q, int group_blocks, bool dither,
                    const std::vector<float>& x, int j, int first, int last) {
  const int count = last - first;
  if (count <= 0) return;
  const std::int64_t blocks = static_cast<std::int64_t>(count) * group_blocks;
  const std::size_t coordinates = static_cast<std::size_t>(count) * c.coordinates;
  std::vector<std::uint8_t> digits(coordinates), classes(count);
  std::vector<float> escapes(coordinates), decoded(coordinates);
  float beta = c.betas[j], inverse = 1.0f / beta;
  std::vector<float> offset(lattice.dimension, voronoi_offset(lattice.is_integer_lattice(), q));
  GroupCode code;
  code.q = q;
  code.inverse_q = 1.0f / q;
  code.num_scales = 1;
  code.betas = &beta;
  code.inverse_betas = &inverse;
  code.offset = offset.data();
  double cross[2] = {0, 0}, energy[2] = {0, 0};
  SegmentJob job;
  job.values = x.data() + static_cast<std::size_t>(first) * c.coordinates;
  job.blocks = blocks;
  job.group_blocks = group_blocks;
  job.code = &code;
  job.dither = dither;
  job.seed = kDesignSeed;
  job.dither_stream = stream_id(0xD1);
  job.first_block = static_cast<std::int64_t>(first) * group_blocks;
  job.digits = digits.data();
  job.classes = classes.data();
  job.cross = cross;
  job.energy = energy;
  job.escapes = escapes.data();
  lattice.encode_segment(job);
  SegmentJob reader = job;
  reader.escape_count = 0;
  const float gains[2] = {1.0f, 1.0f};
  lattice.decode_segment(decoded.data(), reader, gains);
  for (int i = 0; i < count; ++i) {
    const float* xi = job.values + static_cast<std::size_t>(i) * c.coordinates;
    const float* yi = decoded.data() + static_cast<std::size_t>(i) * c.coordinates;
    double sample_cross = 0, sample_energy = 0;
    for (int t = 0; t < c.coordinates; ++t) {
      sample_cross += static_cast<double>(xi[t]) * yi[t];
      sample_energy += static_cast<double>(yi[t]) * yi[t];
    }
    std::size_t at = static_cast<std::size_t>(first + i) * c.grid + j;
    c.decodes[at] = classes[i] == 0;
    c.cross[at] = static_cast<float>(sample_cross);
    c.energy[at] = static_cast<float>(sample_energy);
  }
}

Calibration calibrate(const LatticeInfo& lattice, int q, int group_blocks, bool dither, int samples) {
  Calibration c;
  c.samples = samples;
  c.grid = kGridSize;
  c.coordinates = group_blocks * lattice.dimension;
  for (int j = 0; j < kGridSize; ++j) c.betas.push_back(static_cast<float>(kGridLow * std::pow(kGridRatio, j) / q));
  std::vector<float> x(static_cast<std::size_t>(samples) * c.coordinates);
  CounterRng rng(kDesignSeed, stream_id(lattice.dimension, q, group_blocks, dither ? 1 : 0));
  rng.fill_normal(x.data(), x.size());
  c.signal.assign(samples, 0);
  for (int i = 0; i < samples; ++i)
    for (int t = 0; t < c.coordinates; ++t)
      c.signal[i] += static_cast<double>(x[i * c.coordinates + t]) * x[i * c.coordinates + t];
  c.decodes.assign(static_cast<std::size_t>(samples) * kGridSize, 0);
  c.cross.assign(c.decodes.size(), 0);
  c.energy.assign(c.decodes.size(), 0);

  // Scout on a subsample: scales where (almost) nothing decodes, or where
  // everything already did at a smaller scale, never enter a good list, so
  // the full sample is run only between them.
  const int scout = std::min(samples, 512);
#pragma omp parallel for schedule(dynamic)
  for (int j = 0; j < kGridSize; ++j) run_grid_point(c, lattice, q, group_blocks, dither, x, j, 0, scout);
  int first_useful = 0, last_useful = kGridSize - 1;
  for (int j = 0; j < kGridSize; ++j) {
    int decoded = 0;
    for (int i = 0; i < scout; ++i) decoded += c.decodes[static_cast<std::size_t>(i) * c.grid + j];
    if (decoded <= scout / 100) first_useful = j;
    if (decoded == scout) {
      last_useful = std::min(kGridSize - 1, j + 12);  // margin for the rare large samples
      break;
    }
  }
  c.first_useful = first_useful;
  c.last_useful = last_useful;
#pragma omp parallel for schedule(dynamic)
  for (int j = first_useful; j <= last_useful; ++j)
    run_grid_point(c, lattice, q, group_blocks, dither, x, j, scout, samples);
  return c;
}

struct Evaluation {
  double objective = 0, rate = 0, distortion = 0, mmse_distortion = 0;
  std::vector<double> probability;
};

Evaluation evaluate(const Calibration& c, const std::vector<int>& list, int q, bool mmse) {
  const int k_count = static_cast<int>(list.size());
  std::vector<double> count(k_count + 1, 0), signal(k_count + 1, 0), cross(k_count + 1, 0), energy(k_count + 1, 0);
  for (int i = 0; i < c.samples; ++i) {
    const std::uint8_t* decodes = &c.decodes[static_cast<std::size_t>(i) * c.grid];
    int k = 0;
    while (k < k_count && !decodes[list[k]]) ++k;
    count[k] += 1;
    signal[k] += c.signal[i];
    if (k < k_count) {
      std::size_t at = static_cast<std::size_t>(i) * c.grid + list[k];
      cross[k] += c.cross[at];
      energy[k] += c.energy[at];
    }
  }
  Evaluation e;
  double total = static_cast<double>(c.samples) * c.coordinates;
  double plain = 0, best = 0, entropy = 0;
  for (int k = 0; k < k_count; ++k) {
    plain += signal[k] - 2 * cross[k] + energy[k];
    best += energy[k] > 0 ? signal[k] - cross[k] * cross[k] / energy[k] : signal[k];
  }
  e.probability.resize(k_count + 1);
  for (int k = 0; k <= k_count; ++k) {
    double p = count[k] / c.samples;
    e.probability[k] = p;
    if (p > 0) entropy -= p * std::log2(p);
  }
  double escape = e.probability[k_count];
  e.rate = std::log2(static_cast<double>(q)) * (1 - escape) + 32.0 * escape + entropy / c.coordinates;
  e.distortion = plain / total;
  e.mmse_distortion = best / total;
  e.objective = (mmse ? e.mmse_distortion : e.distortion) * std::exp2(2 * e.rate);
  return e;
}

ScaleDesign optimise(const LatticeInfo& lattice, int q, const DesignOptions& options, int group_blocks) {
  const int samples =
      options.samples > 0 ? options.samples : std::max(4096, 98304 / (group_blocks * lattice.dimension));
  Calibration c = calibrate(lattice, q, group_blocks, options.dither, samples);
  // Fraction decoding at each grid scale (increasing in β, up to lattice effects).
  std::vector<double> success(c.grid, 0);
  for (int i = 0; i < c.samples; ++i)
    for (int j = c.first_useful; j <= c.last_useful; ++j)
      success[j] += c.decodes[static_cast<std::size_t>(i) * c.grid + j];
  auto first_reaching = [&](double share) {
    for (int j = c.first_useful; j <= c.last_useful; ++j)
      if (success[j] >= share * c.samples) return j;
    return c.last_useful;
  };
  const int useful = c.last_useful - c.first_useful + 1;
  const int k_count = std::min(options.num_scales, useful);
  std::vector<int> list;
  Evaluation best;
  if (k_count == 1) {
    for (int j = c.first_useful; j <= c.last_useful; ++j) {
      Evaluation e = evaluate(c, {j}, q, options.mmse);
      if (list.empty() || e.objective < best.objective) {
        best = e;
        list = {j};
      }
    }
  } else {
    // Coordinate descent over grid positions from a few starting spreads
    // (between the p%- and 100%-decoding scales); the best result is kept.
    auto descend = [&](std::vector<int> start) {
      Evaluation current = evaluate(c, start, q, options.mmse);
      const int moves[] = {-5, -3, -2, -1, 1, 2, 3, 5};
      for (int sweep = 0; sweep < 60; ++sweep) {
        bool improved = false;
        for (int k = 0; k < k_count; ++k) {
          for (int move : moves) {
            int moved = start[k] + move;
            int lower = k == 0 ? c.first_useful : start[k - 1] + 1;
            int upper = k + 1 == k_count ? c.last_useful : start[k + 1] - 1;
            if (moved < lower || moved > upper) continue;
            std::vector<int> candidate = start;
            candidate[k] = moved;
            Evaluation e = evaluate(c, candidate, q, options.mmse);
            if (e.objective < current.objective * (1 - 1e-9)) {
              current = e;
              start = candidate;
              improved = true;
            }
          }
        }
        if (!improved) break;
      }
      return std::make_pair(current, start);
    };
    for (double share : {0.1, 0.3, 0.5}) {
      int low = std::max(c.first_useful, first_reaching(share));
      int high = std::min(c.last_useful, first_reaching(1.0));
      high = std::max(high, std::min(c.last_useful, low + k_count - 1));
      low = std::max(c.first_useful, std::min(low, high - (k_count - 1)));
      std::vector<int> start;
      for (int k = 0; k < k_count; ++k)
        start.push_back(low + static_cast<int>(std::lround(double(high - low) * k / (k_count - 1))));
      for (int k = 1; k < k_count; ++k) start[k] = std::max(start[k], start[k - 1] + 1);
      if (start.back() > c.last_useful) continue;
      auto [result, found] = descend(start);
      if (list.empty() || result.objective < best.objective) {
        best = result;
        list = found;
      }
    }
    LLC_REQUIRE(!list.empty(), "no starting scale list fits the grid");
  }
  ScaleDesign design;
  design.lattice = lattice.name;
  design.q = q;
  design.group_blocks = group_blocks;
  design.dither = options.dither;
  design.mmse = options.mmse;
  for (int j : list) design.betas.push_back(c.betas[j]);
  design.class_probability = best.probability;
  design.rate = best.rate;
  design.distortion = best.distortion;
  design.mmse_distortion = best.mmse_distortion;
  design.objective = best.objective;
  return design;
}

}  // namespace

const ScaleDesign& design_scales(const LatticeInfo& lattice, int q, const DesignOptions& options) {
  LLC_CHECK(q >= 2 && q <= 256, ConfigError, "lattice design", "q must be in 2..256", "q = {}", q);
  LLC_CHECK(options.num_scales >= 1 && options.num_scales <= 64 && (options.samples == 0 || options.samples >= 64),
            ConfigError, "lattice design", "use 1..64 scales and at least 64 samples", "num_scales = {}, samples = {}",
            options.num_scales, options.samples);
  const int group_blocks = options.group_blocks > 0 ? options.group_blocks : default_group_blocks(lattice);
  LLC_CHECK(group_blocks * lattice.dimension <= kMaxGroupCoordinates, ConfigError, "lattice design",
            "use a smaller group", "group of {} blocks is too large", group_blocks);
  using Key = std::tuple<std::string, int, int, int, bool, bool, int>;
  static std::mutex mutex;
  static std::map<Key, std::unique_ptr<ScaleDesign>> cache;
  Key key{lattice.name, q, group_blocks, options.num_scales, options.dither, options.mmse, options.samples};
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto found = cache.find(key);
    if (found != cache.end()) return *found->second;
  }
  auto design = std::make_unique<ScaleDesign>(optimise(lattice, q, options, group_blocks));
  std::lock_guard<std::mutex> lock(mutex);
  auto [it, inserted] = cache.emplace(key, std::move(design));
  return *it->second;
}

CodecSpec fixed_q_spec(int q, std::vector<float> betas, const PlanOptions& options) {
  const LatticeInfo& lattice = find_lattice(options.lattice);
  CodecSpec spec;
  spec.lattice = options.lattice;
  spec.group_blocks = options.design.group_blocks > 0 ? options.design.group_blocks : default_group_blocks(lattice);
  spec.dither = options.design.dither;
  spec.mmse = options.design.mmse;
  spec.norm_bits = options.norm_bits;
  spec.seed = options.seed;
  spec.dither_tag = options.dither_tag;
  if (betas.empty()) betas = design_scales(lattice, q, options.design).betas;
  spec.segments.push_back({q, std::move(betas), 1.0});
  return spec;
}

namespace {
CodecPlan plan_once(double bits_per_entry, double fixed_bits_per_entry, std::int64_t n, const PlanOptions& options);
}

// Bits a matrix pays once, whatever its size (see RateBreakdown).
double fixed_bits(const CodecSpec& spec) {
  double bits = 256;  // header
  for (const auto& s : spec.segments) {
    if (s.q == 0) continue;
    const double scales = static_cast<double>(s.betas.size());
    bits += (scales + 1) * (FrequencyTable::kPrecisionBits + 1) + 32 + 32 * scales + (spec.mmse ? 32 * scales : 0);
  }
  return bits;
}

CodecPlan plan_codec(double bits_per_entry, std::int64_t n, const PlanOptions& options, std::int64_t vectors) {
  CodecPlan plan = plan_once(bits_per_entry, 0.0, n, options);
  if (vectors <= 0) return plan;
  // The fixed costs depend on the segments chosen; two passes settle them.
  for (int pass = 0; pass < 2; ++pass) {
    double fixed = fixed_bits(plan.spec) / (static_cast<double>(vectors) * static_cast<double>(n));
    plan = plan_once(bits_per_entry, fixed, n, options);
  }
  return plan;
}

namespace {
CodecPlan plan_once(double bits_per_entry, double fixed_bits_per_entry, std::int64_t n, const PlanOptions& options) {
  const LatticeInfo& lattice = find_lattice(options.lattice);
  LLC_CHECK(std::isfinite(bits_per_entry) && bits_per_entry >= 0, ConfigError, "lattice plan",
            "pass a rate in bits per entry >= 0", "rate {}", bits_per_entry);
  LLC_CHECK(n >= 1, InputError, "lattice plan", "vectors need at least one entry", "length {}", n);
  const int d = lattice.dimension;
  const std::int64_t coded = (rotation_length(n) + d - 1) / d * d;
  const double side_bits_per_entry = (32.0 + options.norm_bits) / static_cast<double>(n) + fixed_bits_per_entry;
  // Bits per coded coordinate the lattice segments may spend.
  const double code_rate = std::max(0.0, (bits_per_entry - side_bits_per_entry) * static_cast<double>(n) / coded);

  struct Point {
    int q;
    double rate, product;
  };
  auto point_for = [&](int q) {
    const ScaleDesign& design = design_scales(lattice, q, options.design);
    double dm = options.design.mmse ? design.mmse_distortion : design.distortion;
    return Point{q, design.rate, 2 * dm - dm * dm};
  };
  // Smallest q whose rate reaches code_rate (rates grow with q): start from
  // the guess log2 q ≈ code_rate − 0.15 (the scale index costs ~0.1–0.2 bits)
  // and step; each step is one (cached) design.
  int low = std::clamp(static_cast<int>(std::lround(std::exp2(code_rate - 0.15))), 2, 256);
  if (point_for(low).rate >= code_rate) {
    while (low > 2 && point_for(low - 1).rate >= code_rate) --low;
  } else {
    while (low < 256 && point_for(low).rate < code_rate) ++low;
  }
  std::vector<Point> points{{0, 0.0, 1.0}};
  for (int q = std::max(2, low - 1); q <= std::min(256, low + 1); ++q) points.push_back(point_for(q));
  // Near zero rate the tangent from (0, 1) may touch a smaller q.
  if (low <= 6)
    for (int q = 2; q < std::max(2, low - 1); ++q) points.push_back(point_for(q));
  std::sort(points.begin(), points.end(), [](const Point& a, const Point& b) { return a.rate < b.rate; });
  // Lower convex hull (monotone chain).
  std::vector<Point> hull;
  for (const auto& p : points) {
    while (hull.size() >= 2) {
      const Point &a = hull[hull.size() - 2], &b = hull.back();
      double turn = (b.rate - a.rate) * (p.product - a.product) - (b.product - a.product) * (p.rate - a.rate);
      if (turn <= 0)
        hull.pop_back();
      else
        break;
    }
    hull.push_back(p);
  }
  CodecPlan plan;
  Point lower = hull.front(), upper = hull.front();
  double share_upper = 0;
  if (code_rate >= hull.back().rate) {
    lower = upper = hull.back();
    share_upper = 1;
  } else {
    for (std::size_t i = 0; i + 1 < hull.size(); ++i) {
      if (code_rate >= hull[i].rate && code_rate <= hull[i + 1].rate) {
        lower = hull[i];
        upper = hull[i + 1];
        share_upper = (code_rate - lower.rate) / (upper.rate - lower.rate);
        break;
      }
    }
  }
  CodecSpec& spec = plan.spec;
  spec.lattice = options.lattice;
  spec.group_blocks = options.design.group_blocks > 0 ? options.design.group_blocks : default_group_blocks(lattice);
  spec.dither = options.design.dither;
  spec.mmse = options.design.mmse;
  spec.norm_bits = options.norm_bits;
  spec.seed = options.seed;
  spec.dither_tag = options.dither_tag;
  auto segment_for = [&](const Point& p, double fraction) {
    SegmentSpec s;
    s.q = p.q;
    if (p.q > 0) s.betas = design_scales(lattice, p.q, options.design).betas;
    s.fraction = fraction;
    return s;
  };
  if (share_upper > 0) spec.segments.push_back(segment_for(upper, share_upper));
  if (share_upper < 1 && !(lower.q == upper.q)) spec.segments.push_back(segment_for(lower, 1 - share_upper));
  if (spec.segments.empty()) spec.segments.push_back(segment_for(lower, 1.0));
  plan.hull_q = {upper.q, lower.q};
  double rate = share_upper * upper.rate + (1 - share_upper) * lower.rate;
  plan.predicted_bits_per_entry = rate * coded / static_cast<double>(n) + side_bits_per_entry;
  plan.predicted_product_distortion = share_upper * upper.product + (1 - share_upper) * lower.product;
  return plan;
}

}  // namespace

}  // namespace llcpress::lattice
