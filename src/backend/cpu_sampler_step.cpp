#include "backend/cpu_sampler_step.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <iterator>
#include <vector>

#include "backend/cpu_normals.h"
#include "backend/elementwise.h"

namespace llcpress::backend {

namespace {

using StepScalars = SamplerStepScalars;

// Normals per sub-block of a chunk: generated together (vectorized Philox and
// Box–Muller, slt/noise.h), then consumed by the update loop.
constexpr std::size_t kNoiseBlockElements = 1024;

// Accumulation lanes of the sums: element j of a sub-block adds into lane
// j mod kLanes, in order of j, and at the end of each sub-block the lanes are
// folded (in lane order, in double) into the chunk's double totals. The
// summation order is thus a function of the ranges alone, and one group of
// kLanes elements is one SIMD vector, so the compiler vectorizes the loop
// without reassociating anything.
constexpr std::size_t kLanes = 8;

// The sums, by index into Lanes::sum.
enum SumIndex : int {
  kDistance,
  kWeight,
  kGradient,
  kDriftGradient,
  kDriftLocalization,
  kDriftDecay,
  kNoise,
  kDistanceAfter,
  kOpenDot,
  kOpenDriftSq,
  kCloseDot,
  kCloseDriftSq,
  kSumCount
};

// The lanes are float: each term is formed in float (a few roundings of
// 2⁻²⁴) and a lane adds at most kNoiseBlockElements / kLanes = 128 of them
// before it is folded into double, so a sub-block's partial of a sum of
// non-negative terms is within (128 + 4)·2⁻²⁴ ≈ 7.9e-6 of its exact value
// (relative; for signed sums, relative to the sum of the terms' magnitudes),
// and the double totals add nothing of note. Rounding errors of independent
// terms mostly cancel: on the Pythia-14m shape (all sums, SGLD and pSGLD,
// with and without the box) the totals agree with the former element-by-
// element double accumulation to within 4e-7, most of them to 2e-8. Double
// lanes cost up to 1.7 ns per parameter more (bench/slt/bench_sampler_step).
// A term above ~1.8e19 (the square of a weight that has already diverged)
// overflows the float lane to +∞.
using Accumulator = float;

struct Lanes {
  alignas(64) Accumulator sum[kSumCount][kLanes];
  alignas(32) std::uint32_t nonfinite[kLanes], clamped[kLanes];
};

// One group of `count` ≤ kLanes consecutive elements of a sub-block, element
// first + l in lane l; the pointers start at the sub-block. kRmsprop selects
// pSGLD, kSums the diagnostic sums, kOpen / kClose the MALA terms (which imply
// kSums); the update itself is the same in every variant. With the bounding
// box off, s.box is +∞ and the clamp never fires.
template <bool kRmsprop, bool kSums, bool kOpen, bool kClose>
[[gnu::always_inline]] inline void update_group(float* __restrict w, const float* __restrict g,
                                                const float* __restrict center, float* __restrict v,
                                                float* __restrict d, const float* __restrict normals, std::size_t first,
                                                std::size_t count, const StepScalars& s, Lanes& lanes) {
  using A = Accumulator;
#pragma omp simd
  for (std::size_t l = 0; l < count; ++l) {
    const std::size_t j = first + l;
    const float wj = w[j];
    const float gj = g[j];
    const float w0 = center[j];
    float v_old = 0.0f;
    if constexpr (kRmsprop) v_old = v[j];
    // The shared element update (backend/elementwise.h), the CUDA kernel's too.
    const SgldElement e = sgld_update_element<kRmsprop, kClose>(wj, gj, w0, v_old, normals[j], s);
    if constexpr (kRmsprop) v[j] = e.square_avg;
    const float updated = e.updated, drift = e.drift;
    const float precondition = e.precondition, previous_precondition = e.previous_precondition;
    const bool below = e.below, above = e.above;
    w[j] = updated;
    lanes.nonfinite[l] += nonfinite(updated) ? 1u : 0u;
    if constexpr (kClose) {
      const A previous_step = d[j];
      lanes.sum[kCloseDot][l] += previous_step * drift;
      lanes.sum[kCloseDriftSq][l] += A(previous_precondition) * A(drift) * drift;
    }
    if constexpr (kOpen) {
      const float step = updated - wj;
      d[j] = step;
      lanes.sum[kOpenDot][l] += A(step) * drift;
      lanes.sum[kOpenDriftSq][l] += A(precondition) * A(drift) * drift;
    }
    if constexpr (kSums) {
      lanes.clamped[l] += below || above ? 1u : 0u;
      const SgldSquares squares = sgld_squares(e, wj, gj, w0);  // the CUDA kernel's terms too
      lanes.sum[kDistance][l] += squares.distance;
      lanes.sum[kWeight][l] += squares.weight;
      lanes.sum[kGradient][l] += squares.gradient;
      lanes.sum[kDriftGradient][l] += squares.drift_gradient;
      lanes.sum[kDriftLocalization][l] += squares.drift_localization;
      lanes.sum[kDriftDecay][l] += squares.drift_decay;
      lanes.sum[kNoise][l] += squares.noise;
      lanes.sum[kDistanceAfter][l] += squares.distance_after;
    }
  }
}

// The fused update of one chunk, sub-block by sub-block.
template <bool kRmsprop, bool kSums, bool kOpen, bool kClose>
void update_chunk(float* parameters, const float* gradient, const float* center, float* square_avg, float* displacement,
                  std::size_t begin, std::size_t end, std::size_t compact, const StepScalars& s, StepSums& sums) {
  static_assert(kSums || !(kOpen || kClose), "the MALA terms imply the sums");
  alignas(64) float normals[kNoiseBlockElements + 4];
  // A step that changes nothing (s.apply false) updates copies of w and V.
  alignas(64) float w_scratch[kNoiseBlockElements], v_scratch[kNoiseBlockElements];
  Lanes lanes;
  std::fill(std::begin(lanes.nonfinite), std::end(lanes.nonfinite), 0u);
  std::fill(std::begin(lanes.clamped), std::end(lanes.clamped), 0u);
  double totals[kSumCount] = {};
  for (std::size_t sub_begin = begin; sub_begin < end;) {
    const std::size_t first_block = sub_begin / 4;
    const std::size_t sub_end = std::min(end, first_block * 4 + kNoiseBlockElements);
    fill_block_normals(s.seed, s.stream, first_block, (sub_end - 1) / 4 - first_block + 1, normals);
    const std::size_t n = sub_end - sub_begin;
    const std::size_t c = compact + (sub_begin - begin);
    const float* xi = normals + (sub_begin - first_block * 4);  // xi[j] is element sub_begin + j's normal
    float* w = parameters + sub_begin;
    float* v = nullptr;
    if constexpr (kRmsprop) v = square_avg + c;
    float* d = nullptr;
    if constexpr (kOpen || kClose) d = displacement + c;
    if (!s.apply) {
      std::copy(w, w + n, w_scratch);
      w = w_scratch;
      if constexpr (kRmsprop) {
        std::copy(v, v + n, v_scratch);
        v = v_scratch;
      }
    }
    if constexpr (kSums)
      for (auto& lane : lanes.sum) std::fill(std::begin(lane), std::end(lane), Accumulator(0));
    std::size_t j = 0;
    for (; j + kLanes <= n; j += kLanes)
      update_group<kRmsprop, kSums, kOpen, kClose>(w, gradient + sub_begin, center + sub_begin, v, d, xi, j, kLanes, s,
                                                   lanes);
    if (j < n)
      update_group<kRmsprop, kSums, kOpen, kClose>(w, gradient + sub_begin, center + sub_begin, v, d, xi, j, n - j, s,
                                                   lanes);
    if constexpr (kSums) {
      for (int k = 0; k < kSumCount; ++k) {
        double part = 0;
        for (std::size_t l = 0; l < kLanes; ++l) part += double(lanes.sum[k][l]);
        totals[k] += part;
      }
    }
    sub_begin = sub_end;
  }
  for (std::size_t l = 0; l < kLanes; ++l) {
    sums.nonfinite += lanes.nonfinite[l];
    sums.clamped += lanes.clamped[l];
  }
  if constexpr (kSums) {
    sums.distance_sq = totals[kDistance];
    sums.weight_sq = totals[kWeight];
    sums.gradient_sq = totals[kGradient];
    sums.drift_gradient_sq = totals[kDriftGradient];
    sums.drift_localization_sq = totals[kDriftLocalization];
    sums.drift_weight_decay_sq = totals[kDriftDecay];
    sums.noise_sq = totals[kNoise];
    sums.distance_after_sq = totals[kDistanceAfter];
    sums.open_displacement_dot_drift = totals[kOpenDot];
    sums.open_drift_sq_preconditioned = totals[kOpenDriftSq];
    sums.close_displacement_dot_drift = totals[kCloseDot];
    sums.close_drift_sq_preconditioned = totals[kCloseDriftSq];
  }
}

}  // namespace

StepSums cpu_sampler_step(float* parameters, float* square_avg, float* displacement, const float* gradient,
                          const float* center, std::span<const SamplerChunk> chunks, const SamplerStepScalars& s) {
  using ChunkFunction = void (*)(float*, const float*, const float*, float*, float*, std::size_t, std::size_t,
                                 std::size_t, const StepScalars&, StepSums&);
  // MALA needs ‖w − w*‖² and ‖w‖² for the potential, so it implies the sums.
  const bool with_sums = s.sums || s.open_mala || s.close_mala;
  const int mala = (s.open_mala ? 1 : 0) + (s.close_mala ? 2 : 0);
  auto pick = [&]<bool kRmsprop>() -> ChunkFunction {
    if (!with_sums) return update_chunk<kRmsprop, false, false, false>;
    switch (mala) {
      case 1:
        return update_chunk<kRmsprop, true, true, false>;
      case 2:
        return update_chunk<kRmsprop, true, false, true>;
      case 3:
        return update_chunk<kRmsprop, true, true, true>;
      default:
        return update_chunk<kRmsprop, true, false, false>;
    }
  };
  const ChunkFunction update = s.rmsprop ? pick.template operator()<true>() : pick.template operator()<false>();
  const std::ptrdiff_t chunk_count = static_cast<std::ptrdiff_t>(chunks.size());
  // Partial sums per chunk, added in chunk order below (the reduction order).
  // (thread_local: kept between steps, so a step allocates nothing; the
  // reference is what the OpenMP threads see, not their own instances.)
  thread_local std::vector<StepSums> chunk_sums_storage;
  std::vector<StepSums>& chunk_sums = chunk_sums_storage;
  chunk_sums.assign(chunks.size(), StepSums{});
  auto run_chunk = [&](std::ptrdiff_t k) {
    const SamplerChunk& chunk = chunks[static_cast<std::size_t>(k)];
    StepSums local;
    update(parameters, gradient, center, square_avg, displacement, chunk.begin, chunk.end, chunk.compact, s, local);
    chunk_sums[static_cast<std::size_t>(k)] = local;
  };
  // Small buffers (the reference models) skip the OpenMP region: its start-up
  // costs more than their whole update.
  if (chunk_count == 1) {
    run_chunk(0);
  } else {
#pragma omp parallel for schedule(static)
    for (std::ptrdiff_t k = 0; k < chunk_count; ++k) run_chunk(k);
  }
  StepSums total;
  for (const auto& part : chunk_sums) add_sums(total, part);
  return total;
}

}  // namespace llcpress::backend
