#include "lattice/e8_batch.h"

#include <cstring>
#include <vector>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace llcpress::lattice {

namespace {

// The part of a job from block `start` on, for the reference kernel. Unused when the build targets no AVX2 (the device kit builds without -march=native).
[[maybe_unused]] SegmentJob tail_of(const SegmentJob& job, std::int64_t start) {
  SegmentJob tail = job;
  tail.values = job.values ? job.values + start * 8 : nullptr;
  tail.blocks = job.blocks - start;
  tail.digits = job.digits + start * 8;
  tail.classes = job.classes + start;
  tail.first_block = job.first_block + start;
  return tail;
}

}  // namespace

void encode_segment_e8_reference(SegmentJob& job) { encode_segment<LatticeE8>(job); }
void decode_segment_e8_reference(float* out, SegmentJob& job, const float* gains) {
  decode_segment<LatticeE8>(out, job, gains);
}

#if defined(__AVX2__)

namespace {

using Vec = __m256;

inline Vec splat(float value) { return _mm256_set1_ps(value); }
inline Vec select(Vec if_false, Vec if_true, Vec mask) { return _mm256_blendv_ps(if_false, if_true, mask); }

// rows[8] (row b = block b) ↔ columns (column c = coordinate c of all blocks).
inline void transpose(Vec r[8]) {
  Vec t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  Vec t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  Vec t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  Vec t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  Vec s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0)), s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
  Vec s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0)), s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
  Vec s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0)), s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
  Vec s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0)), s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
  r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
  r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
  r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
  r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
  r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

inline Vec odd_mask(Vec integer_sum) {
  __m256i as_int = _mm256_cvtps_epi32(integer_sum);  // exact: an integer below 2^24
  __m256i one = _mm256_set1_epi32(1);
  return _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(as_int, one), one));
}

// Re-round the first coordinate of largest |error| the other way where the
// coordinate sum is odd: the D_n parity fix of LatticeD::closest_point.
inline void parity_fix(Vec nearest[8], const Vec error[8], Vec sum) {
  const Vec sign_bit = splat(-0.0f), zero = _mm256_setzero_ps();
  Vec worst_magnitude = splat(-1.0f), worst_index = zero;
  for (int c = 0; c < 8; ++c) {
    Vec magnitude = _mm256_andnot_ps(sign_bit, error[c]);
    Vec larger = _mm256_cmp_ps(magnitude, worst_magnitude, _CMP_GT_OQ);
    worst_magnitude = select(worst_magnitude, magnitude, larger);
    worst_index = select(worst_index, splat(static_cast<float>(c)), larger);
  }
  Vec odd = odd_mask(sum);
  for (int c = 0; c < 8; ++c) {
    Vec here = _mm256_and_ps(odd, _mm256_cmp_ps(worst_index, splat(static_cast<float>(c)), _CMP_EQ_OQ));
    Vec step = select(splat(-1.0f), splat(1.0f), _mm256_cmp_ps(error[c], zero, _CMP_GE_OQ));
    nearest[c] = _mm256_add_ps(nearest[c], _mm256_and_ps(here, step));
  }
}

// LatticeD<8>::closest_point, lane-parallel.
inline void d8_closest(Vec out[8], const Vec in[8]) {
  const Vec half = splat(0.5f);
  Vec error[8], sum = _mm256_setzero_ps();
  for (int c = 0; c < 8; ++c) {
    out[c] = _mm256_floor_ps(_mm256_add_ps(in[c], half));
    error[c] = _mm256_sub_ps(in[c], out[c]);
    sum = _mm256_add_ps(sum, out[c]);
  }
  parity_fix(out, error, sum);
}

// LatticeE8::closest_point, lane-parallel.
inline void e8_closest(Vec out[8], const Vec in[8]) {
  const Vec half = splat(0.5f);
  Vec shifted[8], integer[8], halfway[8];
  for (int c = 0; c < 8; ++c) shifted[c] = _mm256_sub_ps(in[c], half);
  d8_closest(integer, in);
  d8_closest(halfway, shifted);
  Vec distance_integer = _mm256_setzero_ps(), distance_half = _mm256_setzero_ps();
  for (int c = 0; c < 8; ++c) {
    halfway[c] = _mm256_add_ps(halfway[c], half);
    Vec a = _mm256_sub_ps(in[c], integer[c]), b = _mm256_sub_ps(in[c], halfway[c]);
    distance_integer = _mm256_add_ps(distance_integer, _mm256_mul_ps(a, a));
    distance_half = _mm256_add_ps(distance_half, _mm256_mul_ps(b, b));
  }
  Vec take_half = _mm256_cmp_ps(distance_half, distance_integer, _CMP_LT_OQ);
  for (int c = 0; c < 8; ++c) out[c] = select(integer[c], halfway[c], take_half);
}

// LatticeE8::d8_nearest_scaled: D8 point nearest a/s for integer vectors a.
inline void d8_nearest_scaled(Vec nearest[8], const Vec a[8], float s) {
  const float two_s = 2.0f * s, inverse = 1.0f / two_s;
  const Vec half = splat(0.5f), s_vec = splat(s), inverse_vec = splat(inverse), two = splat(2.0f);
  Vec error[8], sum = _mm256_setzero_ps();
  for (int c = 0; c < 8; ++c) {
    Vec numerator = _mm256_add_ps(_mm256_mul_ps(two, a[c]), s_vec);
    nearest[c] = _mm256_floor_ps(_mm256_mul_ps(_mm256_add_ps(numerator, half), inverse_vec));
    error[c] = _mm256_sub_ps(a[c], _mm256_mul_ps(s_vec, nearest[c]));
    sum = _mm256_add_ps(sum, nearest[c]);
  }
  parity_fix(nearest, error, sum);
}

// LatticeE8::reduce_mod_q, lane-parallel (exact integer-valued arithmetic).
inline void e8_reduce(Vec leader[8], const Vec point[8], int q) {
  const float qf = static_cast<float>(q), two_q = 2.0f * qf;
  const Vec two = splat(2.0f), q_vec = splat(qf), two_q_vec = splat(two_q);
  Vec doubled[8], shifted[8], nearest_integer[8], nearest_half[8], error_integer[8], error_half[8];
  for (int c = 0; c < 8; ++c) {
    doubled[c] = _mm256_mul_ps(two, point[c]);
    shifted[c] = _mm256_sub_ps(doubled[c], q_vec);
  }
  d8_nearest_scaled(nearest_integer, doubled, two_q);
  d8_nearest_scaled(nearest_half, shifted, two_q);
  Vec distance_integer = _mm256_setzero_ps(), distance_half = _mm256_setzero_ps();
  for (int c = 0; c < 8; ++c) {
    error_integer[c] = _mm256_sub_ps(doubled[c], _mm256_mul_ps(two_q_vec, nearest_integer[c]));
    error_half[c] = _mm256_sub_ps(doubled[c], _mm256_add_ps(_mm256_mul_ps(two_q_vec, nearest_half[c]), q_vec));
    distance_integer = _mm256_add_ps(distance_integer, _mm256_mul_ps(error_integer[c], error_integer[c]));
    distance_half = _mm256_add_ps(distance_half, _mm256_mul_ps(error_half[c], error_half[c]));
  }
  Vec take_half = _mm256_cmp_ps(distance_half, distance_integer, _CMP_LT_OQ);
  Vec tie = _mm256_cmp_ps(distance_half, distance_integer, _CMP_EQ_OQ);
  // On a tie the first differing coordinate decides (smaller error vector wins).
  Vec decided = _mm256_setzero_ps(), tie_take_half = _mm256_setzero_ps();
  for (int c = 0; c < 8; ++c) {
    Vec differs = _mm256_cmp_ps(error_half[c], error_integer[c], _CMP_NEQ_OQ);
    Vec smaller = _mm256_cmp_ps(error_half[c], error_integer[c], _CMP_LT_OQ);
    Vec fresh = _mm256_andnot_ps(decided, differs);
    tie_take_half = select(tie_take_half, smaller, fresh);
    decided = _mm256_or_ps(decided, differs);
  }
  take_half = _mm256_or_ps(take_half, _mm256_and_ps(tie, tie_take_half));
  const Vec half = splat(0.5f);
  for (int c = 0; c < 8; ++c) leader[c] = _mm256_mul_ps(half, select(error_integer[c], error_half[c], take_half));
}

// Where a lattice point t lies relative to q·V(E8): t is the leader of its
// coset iff Q(t/q) = 0. V(E8) is cut out by the 240 roots r (‖r‖² = 2):
// ⟨t, r⟩ ≤ q for all of them. The largest ⟨t, r⟩ is |t|₍₁₎ + |t|₍₂₎ over the
// roots ±e_i ± e_j, and ½(Σ|t_i| − 2·min|t_i|·[odd number of t_i < 0]) over the
// roots ½(±1)^8 with an even number of minus signs. Strictly inside: t is its
// own leader; strictly outside: it is not; on the boundary the tie rule of the
// exact reduction decides (the caller runs it for those lanes). All exact:
// t has integer or half-integer coordinates.
inline void e8_voronoi_test(Vec& inside, Vec& boundary, const Vec point[8], int q) {
  const Vec sign_bit = splat(-0.0f), q_vec = splat(static_cast<float>(q));
  Vec magnitude = _mm256_andnot_ps(sign_bit, point[0]);
  Vec largest = magnitude, second = _mm256_setzero_ps(), total = magnitude, smallest = magnitude;
  Vec signs = point[0];
  for (int c = 1; c < 8; ++c) {
    magnitude = _mm256_andnot_ps(sign_bit, point[c]);
    second = _mm256_max_ps(second, _mm256_min_ps(largest, magnitude));
    largest = _mm256_max_ps(largest, magnitude);
    total = _mm256_add_ps(total, magnitude);
    smallest = _mm256_min_ps(smallest, magnitude);
    signs = _mm256_xor_ps(signs, point[c]);
  }
  Vec odd_negatives = _mm256_castsi256_ps(_mm256_srai_epi32(_mm256_castps_si256(signs), 31));
  Vec half_root =
      _mm256_mul_ps(splat(0.5f), _mm256_sub_ps(total, _mm256_and_ps(odd_negatives, _mm256_add_ps(smallest, smallest))));
  Vec pair_root = _mm256_add_ps(largest, second);
  inside = _mm256_and_ps(_mm256_cmp_ps(pair_root, q_vec, _CMP_LT_OQ), _mm256_cmp_ps(half_root, q_vec, _CMP_LT_OQ));
  Vec outside = _mm256_or_ps(_mm256_cmp_ps(pair_root, q_vec, _CMP_GT_OQ), _mm256_cmp_ps(half_root, q_vec, _CMP_GT_OQ));
  boundary = _mm256_andnot_ps(_mm256_or_ps(inside, outside), _mm256_castsi256_ps(_mm256_set1_epi32(-1)));
}

// LatticeE8::coordinates then mod q (digits_of_point), lane-parallel.
inline void e8_digits(Vec digits[8], const Vec point[8], int q, float inverse_q) {
  const Vec half = splat(0.5f), q_vec = splat(static_cast<float>(q)), inverse_vec = splat(inverse_q);
  Vec u[8];
  u[7] = _mm256_mul_ps(splat(2.0f), point[7]);
  Vec shift = _mm256_mul_ps(half, u[7]);
  Vec suffix = _mm256_setzero_ps();
  for (int i = 6; i >= 1; --i) {
    suffix = _mm256_add_ps(suffix, _mm256_sub_ps(point[i], shift));
    u[i] = suffix;
  }
  u[0] = _mm256_mul_ps(_mm256_sub_ps(_mm256_add_ps(suffix, point[0]), shift), half);
  for (int c = 0; c < 8; ++c) {
    Vec quotient = _mm256_floor_ps(_mm256_mul_ps(_mm256_add_ps(u[c], half), inverse_vec));
    digits[c] = _mm256_sub_ps(u[c], _mm256_mul_ps(q_vec, quotient));
  }
}

// LatticeE8::from_coordinates, lane-parallel.
inline void e8_from_coordinates(Vec point[8], const Vec u[8]) {
  Vec shift = _mm256_mul_ps(splat(0.5f), u[7]);
  point[0] = _mm256_add_ps(_mm256_sub_ps(_mm256_mul_ps(splat(2.0f), u[0]), u[1]), shift);
  for (int i = 1; i < 6; ++i) point[i] = _mm256_add_ps(_mm256_sub_ps(u[i], u[i + 1]), shift);
  point[6] = _mm256_add_ps(u[6], shift);
  point[7] = shift;
}

}  // namespace

bool e8_batched_is_vectorized() { return true; }

// Lanes are refilled as they finish: a lane keeps its block while it tries
// the next scale and takes the next block as soon as one decodes (or all
// overload), so every trial does useful work — a fixed batch of eight would
// run as many trials as its slowest block (≈ 4.4 instead of ≈ 1.8 on Gaussian
// data with the designed lists). Blocks therefore finish out of order; the
// per-block statistics and escapes are gathered afterwards in block order, so
// the sums and the escape stream are identical to the reference kernel's.
void encode_segment_e8_batched(SegmentJob& job) {
  if (job.dither || job.group_blocks != 1) {
    encode_segment<LatticeE8>(job);
    return;
  }
  const GroupCode& code = *job.code;
  const int num_scales = code.num_scales;
  const std::int64_t blocks = job.blocks;
  thread_local std::vector<double> block_cross, block_energy;
  block_cross.resize(blocks);
  block_energy.resize(blocks);

  alignas(32) float staging[8][8];  // [coordinate][lane] of the blocks in flight
  alignas(32) float digit_columns[8][8], point_columns[8][8];
  alignas(32) std::int32_t lane_scale[8];
  std::int64_t lane_block[8];
  std::int64_t next = 0;
  int active = 0;  // bit b: lane b holds a block
  auto refill = [&](int lane) {
    if (next < blocks) {
      const float* x = job.values + next * 8;
      for (int c = 0; c < 8; ++c) staging[c][lane] = x[c];
      lane_block[lane] = next++;
      lane_scale[lane] = 0;
      active |= 1 << lane;
    } else {
      for (int c = 0; c < 8; ++c) staging[c][lane] = 0;
      lane_scale[lane] = 0;
      active &= ~(1 << lane);
    }
  };
  for (int lane = 0; lane < 8; ++lane) refill(lane);

  while (active) {
    Vec columns[8], scaled[8], point[8];
    const Vec inverse_beta =
        _mm256_i32gather_ps(code.inverse_betas, _mm256_load_si256(reinterpret_cast<const __m256i*>(lane_scale)), 4);
    for (int c = 0; c < 8; ++c) {
      columns[c] = _mm256_load_ps(staging[c]);
      scaled[c] = _mm256_mul_ps(columns[c], inverse_beta);
    }
    e8_closest(point, scaled);
    Vec decodes, boundary;
    e8_voronoi_test(decodes, boundary, point, code.q);
    if (_mm256_movemask_ps(boundary) & active) {
      // Points on the boundary of qV: the exact reduction's tie rule decides.
      Vec leader[8];
      e8_reduce(leader, point, code.q);
      Vec own_leader = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
      for (int c = 0; c < 8; ++c)
        own_leader = _mm256_and_ps(own_leader, _mm256_cmp_ps(leader[c], point[c], _CMP_EQ_OQ));
      decodes = _mm256_or_ps(decodes, _mm256_and_ps(boundary, own_leader));
    }
    const int decoded = _mm256_movemask_ps(decodes) & active;
    int finished = decoded;
    for (int lane = 0; lane < 8; ++lane)
      if ((active >> lane & 1) && !(decoded >> lane & 1) && lane_scale[lane] == num_scales - 1) finished |= 1 << lane;
    if (decoded) {
      Vec digits[8];
      e8_digits(digits, point, code.q, code.inverse_q);
      for (int c = 0; c < 8; ++c) {
        _mm256_store_ps(digit_columns[c], digits[c]);
        _mm256_store_ps(point_columns[c], point[c]);
      }
    }
    for (int lane = 0; lane < 8; ++lane) {
      if (!(active >> lane & 1)) continue;
      if (!(finished >> lane & 1)) {
        ++lane_scale[lane];
        continue;
      }
      const std::int64_t block = lane_block[lane];
      const float* x = job.values + block * 8;
      std::uint8_t* out_digits = job.digits + block * 8;
      double cross = 0, energy = 0;
      if (decoded >> lane & 1) {
        const int k = lane_scale[lane];
        job.classes[block] = static_cast<std::uint8_t>(k);
        const float beta = code.betas[k];
        for (int c = 0; c < 8; ++c) {
          out_digits[c] = static_cast<std::uint8_t>(digit_columns[c][lane]);
          float reconstruction = beta * (point_columns[c][lane] + code.offset[c]);
          cross += static_cast<double>(x[c]) * reconstruction;
          energy += static_cast<double>(reconstruction) * reconstruction;
        }
      } else {  // every scale overloads: escape
        job.classes[block] = static_cast<std::uint8_t>(num_scales);
        for (int c = 0; c < 8; ++c) {
          out_digits[c] = 0;
          cross += static_cast<double>(x[c]) * x[c];
          energy += static_cast<double>(x[c]) * x[c];
        }
      }
      block_cross[block] = cross;
      block_energy[block] = energy;
      refill(lane);
    }
  }
  for (std::int64_t block = 0; block < blocks; ++block) {
    const int k = job.classes[block];
    job.cross[k] += block_cross[block];
    job.energy[k] += block_energy[block];
    if (k == num_scales) {
      const float* x = job.values + block * 8;
      for (int c = 0; c < 8; ++c) job.escapes[job.escape_count++] = x[c];
    }
  }
}

void decode_segment_e8_batched(float* out, SegmentJob& job, const float* gains) {
  if (job.dither || job.group_blocks != 1) {
    decode_segment<LatticeE8>(out, job, gains);
    return;
  }
  const GroupCode& code = *job.code;
  const int num_scales = code.num_scales;
  const std::int64_t batches = job.blocks / 8;
  alignas(32) float digit_rows[8][8];
  alignas(32) float scales[8];
  for (std::int64_t batch = 0; batch < batches; ++batch) {
    const std::uint8_t* digits = job.digits + batch * 64;
    Vec u[8];
    for (int b = 0; b < 8; ++b) {
      for (int c = 0; c < 8; ++c) digit_rows[b][c] = digits[8 * b + c];
      u[b] = _mm256_load_ps(digit_rows[b]);
      const int k = job.classes[batch * 8 + b];
      scales[b] = k < num_scales ? code.betas[k] * gains[k] : 0.0f;
    }
    transpose(u);
    Vec point[8], leader[8];
    e8_from_coordinates(point, u);
    e8_reduce(leader, point, code.q);
    const Vec scale = _mm256_load_ps(scales);
    for (int c = 0; c < 8; ++c) leader[c] = _mm256_mul_ps(scale, _mm256_add_ps(leader[c], splat(code.offset[c])));
    transpose(leader);
    for (int b = 0; b < 8; ++b) {
      float* target = out + (batch * 8 + b) * 8;
      if (job.classes[batch * 8 + b] < num_scales) {
        _mm256_storeu_ps(target, leader[b]);
      } else {
        for (int c = 0; c < 8; ++c) target[c] = job.escapes[job.escape_count++];
      }
    }
  }
  if (batches * 8 < job.blocks) {
    SegmentJob tail = tail_of(job, batches * 8);
    decode_segment<LatticeE8>(out + batches * 64, tail, gains);
    job.escape_count = tail.escape_count;
  }
}

#else  // no AVX2: the reference kernels

bool e8_batched_is_vectorized() { return false; }
void encode_segment_e8_batched(SegmentJob& job) { encode_segment<LatticeE8>(job); }
void decode_segment_e8_batched(float* out, SegmentJob& job, const float* gains) {
  decode_segment<LatticeE8>(out, job, gains);
}

#endif

}  // namespace llcpress::lattice
