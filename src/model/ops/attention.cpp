#include "model/ops/attention.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/check.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define LLCPRESS_ATTENTION_AVX2 1
#endif

namespace llcpress::ops {

namespace {

constexpr int kLanes = 8;        // floats per vector
constexpr int kMaxTileRows = 6;  // rows of one micro-kernel tile: 4 × 3 or 6 × 2 vectors
constexpr int kTileVectors = 3;  // at most this many 8-float columns per tile (12 accumulators)

inline int round_up(int n, int multiple) { return (n + multiple - 1) / multiple * multiple; }

// ---------------------------------------------------------------- 8-float vectors
#ifdef LLCPRESS_ATTENTION_AVX2
using Vec = __m256;
inline Vec load(const float* p) { return _mm256_loadu_ps(p); }
inline void store(float* p, Vec v) { _mm256_storeu_ps(p, v); }
inline Vec broadcast(const float* p) { return _mm256_broadcast_ss(p); }
inline Vec set1(float x) { return _mm256_set1_ps(x); }
inline Vec zero() { return _mm256_setzero_ps(); }
inline Vec add(Vec a, Vec b) { return _mm256_add_ps(a, b); }
inline Vec sub(Vec a, Vec b) { return _mm256_sub_ps(a, b); }
inline Vec mul(Vec a, Vec b) { return _mm256_mul_ps(a, b); }
inline Vec div(Vec a, Vec b) { return _mm256_div_ps(a, b); }
inline Vec fmadd(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
inline Vec max(Vec a, Vec b) { return _mm256_max_ps(a, b); }
// Lanes [0, count) kept, the rest replaced by `fill`.
inline Vec keep_first(Vec v, int count, Vec fill) {
  static const std::int32_t table[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  const Vec mask = _mm256_castsi256_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(table + 8 - count)));
  return _mm256_blendv_ps(fill, v, mask);
}
inline float horizontal_max(Vec v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}
inline float horizontal_sum(Vec v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
// exp(x) for x ≤ 0 (Cephes expf: range reduction by ln 2, degree-5 polynomial;
// ≤ 2 ulp). Inputs below −87 return exp(−87) ≈ 1.6e-38 instead of a smaller
// number or 0 — no caller relies on the difference (masked lanes are zeroed).
inline Vec exp_nonpositive(Vec x) {
  x = _mm256_max_ps(_mm256_min_ps(x, set1(88.0f)), set1(-87.0f));
  const Vec n = _mm256_round_ps(mul(x, set1(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  x = _mm256_fnmadd_ps(n, set1(0.693359375f), x);
  x = _mm256_fnmadd_ps(n, set1(-2.12194440e-4f), x);
  Vec p = set1(1.9875691500e-4f);
  p = fmadd(p, x, set1(1.3981999507e-3f));
  p = fmadd(p, x, set1(8.3334519073e-3f));
  p = fmadd(p, x, set1(4.1665795894e-2f));
  p = fmadd(p, x, set1(1.6666665459e-1f));
  p = fmadd(p, x, set1(5.0000001201e-1f));
  p = fmadd(p, mul(x, x), add(x, set1(1.0f)));
  const __m256i exponent = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return mul(p, _mm256_castsi256_ps(exponent));
}
// dst[c·dst_stride + t] = src[t·src_stride + c] for t, c < 8: an 8 × 8 block
// transposed in registers.
inline void transpose_8x8(float* dst, std::int64_t dst_stride, const float* src, std::int64_t src_stride) {
  Vec r[8], t[8];
  for (int i = 0; i < 8; ++i) r[i] = load(src + i * src_stride);
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    r[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
    r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
    r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int i = 0; i < 4; ++i) {
    store(dst + i * dst_stride, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
    store(dst + (i + 4) * dst_stride, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
  }
}

// log(x) for positive, normal x (Cephes logf: x = 2^e · m with m in
// [√½, √2), degree-8 polynomial in m − 1; ≤ 1 ulp).
inline Vec log_positive(Vec x) {
  const __m256i bits = _mm256_castps_si256(x);
  Vec e = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(126)));
  Vec m = _mm256_castsi256_ps(
      _mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi32(0x007fffff)), _mm256_set1_epi32(0x3f000000)));
  // m in [0.5, 1): below √½ use 2m − 1 and e − 1, else m − 1.
  const Vec small = _mm256_cmp_ps(m, set1(0.707106781186547524f), _CMP_LT_OQ);
  e = sub(e, _mm256_and_ps(small, set1(1.0f)));
  m = sub(add(m, _mm256_and_ps(small, m)), set1(1.0f));
  const Vec z = mul(m, m);
  Vec y = set1(7.0376836292e-2f);
  y = fmadd(y, m, set1(-1.1514610310e-1f));
  y = fmadd(y, m, set1(1.1676998740e-1f));
  y = fmadd(y, m, set1(-1.2420140846e-1f));
  y = fmadd(y, m, set1(1.4249322787e-1f));
  y = fmadd(y, m, set1(-1.6668057665e-1f));
  y = fmadd(y, m, set1(2.0000714765e-1f));
  y = fmadd(y, m, set1(-2.4999993993e-1f));
  y = fmadd(y, m, set1(3.3333331174e-1f));
  y = mul(mul(y, m), z);
  y = fmadd(e, set1(-2.12194440e-4f), y);
  y = fmadd(z, set1(-0.5f), y);
  return fmadd(e, set1(0.693359375f), add(m, y));
}
#else
// Portable fallback with the same algorithm, lane by lane.
struct Vec {
  float v[kLanes];
};
inline Vec load(const float* p) {
  Vec r;
  std::memcpy(r.v, p, sizeof(r.v));
  return r;
}
inline void store(float* p, Vec v) { std::memcpy(p, v.v, sizeof(v.v)); }
inline Vec set1(float x) {
  Vec r;
  for (float& lane : r.v) lane = x;
  return r;
}
inline Vec broadcast(const float* p) { return set1(*p); }
inline Vec zero() { return set1(0.0f); }
template <typename Op>
inline Vec lanewise(Vec a, Vec b, Op op) {
  for (int i = 0; i < kLanes; ++i) a.v[i] = op(a.v[i], b.v[i]);
  return a;
}
inline Vec add(Vec a, Vec b) {
  return lanewise(a, b, [](float x, float y) { return x + y; });
}
inline Vec sub(Vec a, Vec b) {
  return lanewise(a, b, [](float x, float y) { return x - y; });
}
inline Vec mul(Vec a, Vec b) {
  return lanewise(a, b, [](float x, float y) { return x * y; });
}
inline Vec div(Vec a, Vec b) {
  return lanewise(a, b, [](float x, float y) { return x / y; });
}
inline Vec fmadd(Vec a, Vec b, Vec c) {
  for (int i = 0; i < kLanes; ++i) c.v[i] = std::fma(a.v[i], b.v[i], c.v[i]);
  return c;
}
inline Vec max(Vec a, Vec b) {
  return lanewise(a, b, [](float x, float y) { return std::max(x, y); });
}
inline Vec keep_first(Vec v, int count, Vec fill) {
  for (int i = count; i < kLanes; ++i) v.v[i] = fill.v[i];
  return v;
}
inline float horizontal_max(Vec v) { return *std::max_element(v.v, v.v + kLanes); }
inline float horizontal_sum(Vec v) {
  float s = 0.0f;
  for (float lane : v.v) s += lane;
  return s;
}
inline Vec exp_nonpositive(Vec x) {
  for (float& lane : x.v) lane = std::exp(std::max(lane, -87.0f));
  return x;
}
inline Vec log_positive(Vec x) {
  for (float& lane : x.v) lane = std::log(lane);
  return x;
}
inline void transpose_8x8(float* dst, std::int64_t dst_stride, const float* src, std::int64_t src_stride) {
  for (int t = 0; t < kLanes; ++t)
    for (int c = 0; c < kLanes; ++c) dst[c * dst_stride + t] = src[t * src_stride + c];
}
#endif

// ---------------------------------------------------------------- micro-kernel
// Keeps the compiler from folding a vector load into each FMA that uses it:
// the kernel reuses each B vector for M rows, and M folded loads per vector
// would make the loop load-bound instead of FMA-bound.
inline void keep_in_register(Vec& v) {
#ifdef LLCPRESS_ATTENTION_AVX2
  asm("" : "+x"(v));
#else
  (void)v;
#endif
}
// C (M × 8·NV) = alpha(m) · Σ_{t < depth} a(m, t) · B(t, ·), or C += that
// when `accumulate`; alpha(m) = alpha[m·alpha_m]. a(m, t) = a[m·a_m + t·a_t] (broadcast), B's row t is the NV
// vectors at b + t·b_t; C's row m is at c + m·ldc. M·NV ≤ 12 accumulators stay
// in registers for the whole reduction.
template <int M, int NV>
void tile(float* c, std::int64_t ldc, const float* a, std::int64_t a_m, std::int64_t a_t, const float* b,
          std::int64_t b_t, int depth, bool accumulate, const float* alpha, std::int64_t alpha_m) {
  Vec acc[M][NV];
#pragma GCC unroll 16
  for (int m = 0; m < M; ++m)
#pragma GCC unroll 16
    for (int n = 0; n < NV; ++n) acc[m][n] = zero();
  for (int t = 0; t < depth; ++t) {
    const float* b_row = b + t * b_t;
    Vec b_vec[NV];
#pragma GCC unroll 16
    for (int n = 0; n < NV; ++n) {
      b_vec[n] = load(b_row + n * kLanes);
      keep_in_register(b_vec[n]);
    }
    const float* a_col = a + t * a_t;
#pragma GCC unroll 16
    for (int m = 0; m < M; ++m) {
      const Vec a_value = broadcast(a_col + m * a_m);
#pragma GCC unroll 16
      for (int n = 0; n < NV; ++n) acc[m][n] = fmadd(a_value, b_vec[n], acc[m][n]);
    }
  }
#pragma GCC unroll 16
  for (int m = 0; m < M; ++m) {
    const Vec alpha_vec = set1(alpha[m * alpha_m]);
#pragma GCC unroll 16
    for (int n = 0; n < NV; ++n) {
      float* out = c + m * ldc + n * kLanes;
      const Vec value = mul(acc[m][n], alpha_vec);
      store(out, accumulate ? add(load(out), value) : value);
    }
  }
}

constexpr float kOne = 1.0f;

using TileFunction = void (*)(float*, std::int64_t, const float*, std::int64_t, std::int64_t, const float*,
                              std::int64_t, int, bool, const float*, std::int64_t);

template <int M>
constexpr TileFunction tile_for(int vectors) {
  return vectors == 1 ? &tile<M, 1> : vectors == 2 ? &tile<M, 2> : M <= 4 ? &tile<M, 3> : nullptr;
}

// Any rows (1–6) × vectors (1–3) tile with at most 12 accumulators.
inline void run_tile(int rows, int vectors, float* c, std::int64_t ldc, const float* a, std::int64_t a_m,
                     std::int64_t a_t, const float* b, std::int64_t b_t, int depth, bool accumulate,
                     const float* alpha = &kOne, std::int64_t alpha_m = 0) {
  static constexpr TileFunction table[kMaxTileRows][kTileVectors] = {
      {tile_for<1>(1), tile_for<1>(2), tile_for<1>(3)}, {tile_for<2>(1), tile_for<2>(2), tile_for<2>(3)},
      {tile_for<3>(1), tile_for<3>(2), tile_for<3>(3)}, {tile_for<4>(1), tile_for<4>(2), tile_for<4>(3)},
      {tile_for<5>(1), tile_for<5>(2), tile_for<5>(3)}, {tile_for<6>(1), tile_for<6>(2), tile_for<6>(3)},
  };
  table[rows - 1][vectors - 1](c, ldc, a, a_m, a_t, b, b_t, depth, accumulate, alpha, alpha_m);
}

// Width (in vectors) of the next column chunk when `remaining` vectors are
// left: chunks of at most 3, and 4 as 2 + 2 rather than 3 + 1.
inline int chunk_vectors(int remaining) { return remaining == 4 ? 2 : std::min(kTileVectors, remaining); }
// Rows of the tiles for a chunk `vectors` wide: 4 × 3 or 6 × 2 (or 6 × 1)
// accumulators, each loaded B vector used by 4 or 6 rows.
inline int tile_rows_for(int vectors) { return vectors == 3 ? 4 : kMaxTileRows; }

// C (rows × padded_dim, stride ldc) (+)= row_alpha(r) · A · B with A (rows ×
// depth, stride lda) and B (depth × padded_dim, stride ldb), where the
// reduction of each row tile stops at depth_end(last row of the tile) (the
// causal edge). row_alpha: one factor per row, or null for 1.
template <typename DepthEnd>
void rows_times_matrix(float* c, std::int64_t ldc, int rows, int padded_dim, const float* a, std::int64_t lda,
                       const float* b, std::int64_t ldb, DepthEnd depth_end, bool accumulate, const float* row_alpha) {
  for (int col = 0; col < padded_dim;) {
    const int vectors = chunk_vectors((padded_dim - col) / kLanes);
    const int tile_rows = tile_rows_for(vectors);
    for (int r = 0; r < rows; r += tile_rows) {
      const int m = std::min(tile_rows, rows - r);
      run_tile(m, vectors, c + r * ldc + col, ldc, a + r * lda, lda, 1, b + col, ldb, depth_end(r + m - 1), accumulate,
               row_alpha ? row_alpha + r : &kOne, row_alpha ? 1 : 0);
    }
    col += vectors * kLanes;
  }
}

// S (rows × …, stride padded_keys) = scale · X · Yᵀ with X (rows × d, stride
// ldx) and yt = Yᵀ (d × keys, stride padded_keys); each 4-row tile only up to
// the keys its last row sees (first_row + last tile row + 1, rounded up to
// whole vectors).
void scores(float* s, int padded_keys, int rows, int first_row, const float* x, std::int64_t ldx, const float* yt,
            int head_dim, float scale) {
  constexpr int kScoreTileRows = 4;
  for (int r = 0; r < rows; r += kScoreTileRows) {
    const int m = std::min(kScoreTileRows, rows - r);
    const int key_vectors = (first_row + r + m + kLanes - 1) / kLanes;
    for (int v = 0; v < key_vectors;) {
      const int vectors = std::min(kTileVectors, key_vectors - v);
      run_tile(m, vectors, s + static_cast<std::int64_t>(r) * padded_keys + v * kLanes, padded_keys, x + r * ldx, ldx,
               1, yt + v * kLanes, padded_keys, head_dim, false, &scale, 0);
      v += vectors;
    }
  }
}

// C (keys × padded_dim, stride padded_dim) += Aᵀ · X: a is (rows × keys,
// stride padded_keys) for query rows first_row + [0, rows), x is (rows ×
// padded_dim, stride ldx). The key tile starting at key j only sums the rows
// that see it (first_row + r ≥ j): A is zero (masked) above the diagonal.
void transposed_times_matrix(float* c, int keys, int padded_dim, const float* a, int padded_keys, int rows,
                             int first_row, const float* x, std::int64_t ldx) {
  for (int col = 0; col < padded_dim;) {
    const int vectors = chunk_vectors((padded_dim - col) / kLanes);
    const int tile_rows = tile_rows_for(vectors);
    for (int j = 0; j < keys; j += tile_rows) {
      const int m = std::min(tile_rows, keys - j);
      const int first = std::max(0, j - first_row);
      run_tile(m, vectors, c + static_cast<std::int64_t>(j) * padded_dim + col, padded_dim,
               a + static_cast<std::int64_t>(first) * padded_keys + j, 1, padded_keys, x + first * ldx + col, ldx,
               rows - first, true);
    }
    col += vectors * kLanes;
  }
}

// Zeroes row entries [visible, visible + kMaxTileRows) that the vector passes
// did not write, so tiles reaching past a row's causal edge (by at most
// kMaxTileRows − 1 keys) read zeros.
inline void zero_past_edge(float* row, int visible, int padded_keys) {
  const int end = std::min(padded_keys, visible + kMaxTileRows);
  for (int j = round_up(visible, kLanes); j < end; ++j) row[j] = 0.0f;
}

// The per-thread buffers of one (sequence, head) task.
struct HeadBuffers {
  float* probabilities;  // (kQueryBlock, padded_keys)
  float* d_scores;       // (kQueryBlock, padded_keys)
  float* q;              // (T, padded_dim), rows of 8-float vectors, zero padded
  float* k;              // (T, padded_dim)
  float* v;              // (T, padded_dim)
  float* d_out;          // (T, padded_dim)
  float* out;            // (T, padded_dim): forward output, backward dq
  float* dk;             // (T, padded_dim)
  float* dv;             // (T, padded_dim)
  float* kt;             // (d, padded_keys): kᵀ
  float* vt;             // (d, padded_keys): vᵀ
  float* row_values;     // (padded_keys): 1/sum (forward), dO·O (backward)
};

inline std::size_t thread_floats_for(int padded_keys, int padded_dim) {
  const std::size_t keys = padded_keys, dim = padded_dim;
  return 2 * kQueryBlock * keys + 7 * keys * dim + 2 * dim * keys + keys;
}

HeadBuffers head_buffers(AttentionWorkspace& workspace, int thread, int padded_dim) {
  const std::size_t keys = workspace.padded_keys(), dim = padded_dim;
  float* p = workspace.thread_buffer(thread);
  HeadBuffers h;
  h.probabilities = p;
  h.d_scores = p += kQueryBlock * keys;
  h.q = p += kQueryBlock * keys;
  h.k = p += keys * dim;
  h.v = p += keys * dim;
  h.d_out = p += keys * dim;
  h.out = p += keys * dim;
  h.dk = p += keys * dim;
  h.dv = p += keys * dim;
  h.kt = p += keys * dim;
  h.vt = p += dim * keys;
  h.row_values = p += dim * keys;
  return h;
}

// The rows a task reads and writes are strided (one head's slice of each
// token's row), which the hardware prefetchers follow poorly: the row loops
// prefetch the cache lines of the row kPrefetchRows ahead.
constexpr int kPrefetchRows = 8;
inline void prefetch_span(const float* begin, int floats, bool for_write) {
  for (int c = 0; c < floats; c += 16) {
    if (for_write)
      __builtin_prefetch(begin + c, 1);
    else
      __builtin_prefetch(begin + c, 0);
  }
  if (for_write)
    __builtin_prefetch(begin + floats - 1, 1);
  else
    __builtin_prefetch(begin + floats - 1, 0);
}

inline void copy_padded(float* dst, const float* src, int dim, int padded_dim) {
  for (int c = 0; c < dim; ++c) dst[c] = src[c];
  for (int c = dim; c < padded_dim; ++c) dst[c] = 0.0f;
}

// One pass over a head's `rows` rows (source stride `stride`, each holding q,
// k, v of `dim` floats back to back) into the non-null destinations: q, k, v
// as (rows × padded_dim), zero padded; kᵀ, vᵀ as (dim × padded_keys), keys
// past `rows` zeroed up to the next whole vector (tiles at the causal edge
// read them).
inline void pack_head(const float* src, std::int64_t stride, int rows, int dim, int padded_dim, int padded_keys,
                      float* q, float* k, float* kt, float* v, float* vt) {
  for (int t = 0; t < std::min(rows, kPrefetchRows); ++t) prefetch_span(src + t * stride, 3 * dim, false);
  const int whole_rows = rows / kLanes * kLanes;  // rows of whole 8-row blocks
  for (int t = 0; t < rows; ++t) {
    const float* row = src + t * stride;
    if (t + kPrefetchRows < rows) prefetch_span(row + kPrefetchRows * stride, 3 * dim, false);
    const std::int64_t at = static_cast<std::int64_t>(t) * padded_dim;
    if (q) copy_padded(q + at, row, dim, padded_dim);
    if (k) copy_padded(k + at, row + dim, dim, padded_dim);
    if (v) copy_padded(v + at, row + 2 * dim, dim, padded_dim);
    if (dim % kLanes == 0 && t < whole_rows) {
      // Every 8th row, the last 8 rows' k and v go in as 8 × 8 blocks.
      if (t % kLanes == kLanes - 1) {
        const float* block = row - (kLanes - 1) * stride;
        for (int c = 0; c < dim; c += kLanes) {
          if (kt)
            transpose_8x8(kt + static_cast<std::int64_t>(c) * padded_keys + t - (kLanes - 1), padded_keys,
                          block + dim + c, stride);
          if (vt)
            transpose_8x8(vt + static_cast<std::int64_t>(c) * padded_keys + t - (kLanes - 1), padded_keys,
                          block + 2 * dim + c, stride);
        }
      }
      continue;
    }
    if (kt)
      for (int c = 0; c < dim; ++c) kt[static_cast<std::int64_t>(c) * padded_keys + t] = row[dim + c];
    if (vt)
      for (int c = 0; c < dim; ++c) vt[static_cast<std::int64_t>(c) * padded_keys + t] = row[2 * dim + c];
  }
  const int end = std::min(padded_keys, round_up(rows, kLanes));
  for (float* transposed : {kt, vt})
    if (transposed)
      for (int c = 0; c < dim; ++c)
        for (int t = rows; t < end; ++t) transposed[static_cast<std::int64_t>(c) * padded_keys + t] = 0.0f;
}

// Copies (rows × padded_dim) back to `dim` floats per row with stride `stride`.
inline void unpack_rows(float* dst, std::int64_t stride, const float* src, int rows, int dim, int padded_dim) {
  for (int t = 0; t < rows; ++t) {
    const float* row = src + static_cast<std::int64_t>(t) * padded_dim;
    float* out = dst + t * stride;
    if (t + kPrefetchRows < rows) prefetch_span(out + kPrefetchRows * stride, dim, true);
    for (int c = 0; c < dim; ++c) out[c] = row[c];
  }
}

// Where head `head` of sequence `sequence` starts, for q (part 0), k (1), v (2).
inline std::int64_t head_offset(std::int64_t sequence, int seq_len, int row_width, int head, int head_dim, int part) {
  return sequence * seq_len * row_width + static_cast<std::int64_t>(head) * 3 * head_dim +
         static_cast<std::int64_t>(part) * head_dim;
}

}  // namespace

AttentionWorkspace::AttentionWorkspace(int max_seq_len, int head_dim)
    : threads_(std::max(1, omp_get_max_threads())), max_seq_len_(max_seq_len) {
  LLC_REQUIRE(max_seq_len > 0, "max_seq_len {}", max_seq_len);
  LLC_REQUIRE(head_dim >= 0, "head_dim {}", head_dim);
  reserve_head_dim(std::max(head_dim, 1));
}

void AttentionWorkspace::reserve_head_dim(int head_dim) {
  LLC_REQUIRE(head_dim > 0, "head_dim {}", head_dim);
  const int padded = round_up(head_dim, kLanes);
  if (padded <= padded_head_dim_) return;
  padded_head_dim_ = padded;
  thread_floats_ = round_up(static_cast<int>(thread_floats_for(padded_keys(), padded)), 16);  // 64-byte aligned
  buffer_.assign(static_cast<std::size_t>(threads_) * thread_floats_, 0.0f);
}

void attention_forward(float* output, float* row_log_sum_exp, const float* qkv, std::int64_t batch, int seq_len,
                       int heads, int head_dim, AttentionWorkspace& workspace) {
  LLC_REQUIRE(seq_len <= workspace.max_seq_len(), "seq_len {} > workspace {}", seq_len, workspace.max_seq_len());
  workspace.reserve_head_dim(head_dim);
  const int row_width = 3 * heads * head_dim;  // qkv row
  const int hidden = heads * head_dim;         // output row
  const int padded_dim = round_up(head_dim, kLanes);
  const int padded_keys = workspace.padded_keys();
  // torch multiplies q·kᵀ by head_dim^-0.5 after the product; so do we.
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  const std::int64_t tasks = batch * heads;
#pragma omp parallel num_threads(workspace.threads())
  {
    const HeadBuffers h = head_buffers(workspace, omp_get_thread_num(), padded_dim);
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t task = 0; task < tasks; ++task) {
      const std::int64_t sequence = task / heads;
      const int head = static_cast<int>(task % heads);
      // The kernels read q in place (they only broadcast from it), and
      // contiguous, zero-padded copies of kᵀ and v; they write a padded output
      // that is copied out at the end. (Reading v and writing the output in
      // place, at the row stride, measured slower, even for d = 24.)
      const float* q = qkv + head_offset(sequence, seq_len, row_width, head, head_dim, 0);  // row stride row_width
      pack_head(q, row_width, seq_len, head_dim, padded_dim, padded_keys, nullptr, nullptr, h.kt, h.v, nullptr);
      float* head_output = output + sequence * seq_len * hidden + static_cast<std::int64_t>(head) * head_dim;
      float* lse = row_log_sum_exp + (sequence * heads + head) * seq_len;  // (seq_len)
      for (int first_row = 0; first_row < seq_len; first_row += kQueryBlock) {
        const int rows = std::min(seq_len - first_row, kQueryBlock);
        // torch multiplies q·kᵀ by the scale after the product; so does the kernel.
        scores(h.probabilities, padded_keys, rows, first_row, q + static_cast<std::int64_t>(first_row) * row_width,
               row_width, h.kt, head_dim, scale);
        // Causal mask, max, exp and sum, one row at a time.
        for (int r = 0; r < rows; ++r) {
          float* row = h.probabilities + static_cast<std::int64_t>(r) * padded_keys;
          const int visible = first_row + r + 1;
          const int full = visible / kLanes * kLanes, tail = visible - full;
          const Vec minus_infinity = set1(-std::numeric_limits<float>::infinity());
          Vec max_vec = minus_infinity;
          for (int j = 0; j < full; j += kLanes) max_vec = max(max_vec, load(row + j));
          if (tail) {
            const Vec x = keep_first(load(row + full), tail, minus_infinity);
            store(row + full, x);
            max_vec = max(max_vec, x);
          }
          const Vec max_score = set1(horizontal_max(max_vec));
          Vec sum_vec = zero();
          for (int j = 0; j < full; j += kLanes) {
            const Vec p = exp_nonpositive(sub(load(row + j), max_score));
            store(row + j, p);
            sum_vec = add(sum_vec, p);
          }
          if (tail) {
            const Vec p = keep_first(exp_nonpositive(sub(load(row + full), max_score)), tail, zero());
            store(row + full, p);
            sum_vec = add(sum_vec, p);
          }
          zero_past_edge(row, visible, padded_keys);
          lse[first_row + r] = horizontal_max(max_vec);           // the row's max, for now
          h.row_values[first_row + r] = horizontal_sum(sum_vec);  // the row's sum, for now
        }
        // lse = max + log(sum), and 1/sum to normalise the output, 8 rows at a time.
        for (int r = 0; r < rows; r += kLanes) {
          float* lse_rows = lse + first_row + r;
          float* sum_rows = h.row_values + first_row + r;
          if (rows - r >= kLanes) {
            const Vec sum = load(sum_rows);
            store(lse_rows, add(load(lse_rows), log_positive(sum)));
            store(sum_rows, div(set1(1.0f), sum));
          } else {
            for (int i = 0; i < rows - r; ++i) {
              lse_rows[i] += std::log(sum_rows[i]);
              sum_rows[i] = 1.0f / sum_rows[i];
            }
          }
        }
        // out (rows, d) = exp-scores · v / sum.
        rows_times_matrix(
            h.out + static_cast<std::int64_t>(first_row) * padded_dim, padded_dim, rows, padded_dim, h.probabilities,
            padded_keys, h.v, padded_dim, [&](int last_row) { return first_row + last_row + 1; }, false,
            h.row_values + first_row);
      }
      unpack_rows(head_output, hidden, h.out, seq_len, head_dim, padded_dim);
    }
  }
}

void attention_backward(float* d_qkv, const float* d_output, const float* output, const float* row_log_sum_exp,
                        const float* qkv, std::int64_t batch, int seq_len, int heads, int head_dim,
                        AttentionWorkspace& workspace) {
  LLC_REQUIRE(seq_len <= workspace.max_seq_len(), "seq_len {} > workspace {}", seq_len, workspace.max_seq_len());
  workspace.reserve_head_dim(head_dim);
  const int row_width = 3 * heads * head_dim;
  const int hidden = heads * head_dim;
  const int padded_dim = round_up(head_dim, kLanes);
  const int padded_keys = workspace.padded_keys();
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  const std::int64_t tasks = batch * heads;
#pragma omp parallel num_threads(workspace.threads())
  {
    const HeadBuffers h = head_buffers(workspace, omp_get_thread_num(), padded_dim);
    // One task per (sequence, head): its dk and dv sum over all query blocks,
    // so a single thread owns them (no atomics, deterministic order).
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t task = 0; task < tasks; ++task) {
      const std::int64_t sequence = task / heads;
      const int head = static_cast<int>(task % heads);
      const float* lse = row_log_sum_exp + (sequence * heads + head) * seq_len;  // (seq_len)
      const float* q_src = qkv + head_offset(sequence, seq_len, row_width, head, head_dim, 0);
      const std::int64_t out_offset = sequence * seq_len * hidden + static_cast<std::int64_t>(head) * head_dim;
      // As in the forward pass, the kernels read contiguous zero-padded copies
      // (faster than reading the strided rows in place, even for d = 24 or 32).
      pack_head(q_src, row_width, seq_len, head_dim, padded_dim, padded_keys, h.q, h.k, h.kt, nullptr, h.vt);
      const float* q_all = h.q;
      const float* k_all = h.k;
      const std::int64_t ld_qk = padded_dim;
      const float* d_out_all = h.d_out;
      const std::int64_t ld_d_out = padded_dim;
      float* d_head = d_qkv + head_offset(sequence, seq_len, row_width, head, head_dim, 0);
      float* dq_all = h.out;
      const std::int64_t ld_dq = padded_dim;

      // rowsum(dP ⊙ P) = dO · O per query row.
      for (int t = 0; t < seq_len; ++t) {
        const float* o = output + out_offset + static_cast<std::int64_t>(t) * hidden;
        const float* d_o = d_output + out_offset + static_cast<std::int64_t>(t) * hidden;
        if (t + kPrefetchRows < seq_len) {
          prefetch_span(o + kPrefetchRows * hidden, head_dim, false);
          prefetch_span(d_o + kPrefetchRows * hidden, head_dim, false);
        }
        Vec dot_vec = zero();
        int c = 0;
        for (; c + kLanes <= head_dim; c += kLanes) dot_vec = fmadd(load(d_o + c), load(o + c), dot_vec);
        float dot = horizontal_sum(dot_vec);
        for (; c < head_dim; ++c) dot += d_o[c] * o[c];
        copy_padded(h.d_out + static_cast<std::int64_t>(t) * padded_dim, d_o, head_dim, padded_dim);
        h.row_values[t] = dot;
      }
      std::fill(h.dk, h.dk + static_cast<std::int64_t>(seq_len) * padded_dim, 0.0f);
      std::fill(h.dv, h.dv + static_cast<std::int64_t>(seq_len) * padded_dim, 0.0f);
      for (int first_row = 0; first_row < seq_len; first_row += kQueryBlock) {
        const int rows = std::min(seq_len - first_row, kQueryBlock);
        const int keys = first_row + rows;
        const float* q = q_all + first_row * ld_qk;
        const float* d_out = d_out_all + first_row * ld_d_out;
        // Scores q·kᵀ and dP = d_out · vᵀ of this block.
        scores(h.probabilities, padded_keys, rows, first_row, q, ld_qk, h.kt, head_dim, scale);
        scores(h.d_scores, padded_keys, rows, first_row, d_out, ld_d_out, h.vt, head_dim, 1.0f);
        // P = exp(s − lse), dS = P ⊙ (dP − dO·O) · scale; zero past the causal edge.
        for (int r = 0; r < rows; ++r) {
          float* p_row = h.probabilities + static_cast<std::int64_t>(r) * padded_keys;
          float* ds_row = h.d_scores + static_cast<std::int64_t>(r) * padded_keys;
          const int visible = first_row + r + 1;
          const Vec scale_vec = set1(scale), lse_vec = set1(lse[first_row + r]);
          const Vec row_dot = set1(h.row_values[first_row + r]);
          for (int j = 0; j < visible; j += kLanes) {
            Vec p = exp_nonpositive(sub(load(p_row + j), lse_vec));
            if (visible - j < kLanes) p = keep_first(p, visible - j, zero());
            store(p_row + j, p);
            store(ds_row + j, mul(mul(p, sub(load(ds_row + j), row_dot)), scale_vec));
          }
          zero_past_edge(p_row, visible, padded_keys);
          zero_past_edge(ds_row, visible, padded_keys);
        }
        // dq (rows, d) = dS · k;  dv (keys, d) += Pᵀ · d_out;  dk (keys, d) += dSᵀ · q
        rows_times_matrix(
            dq_all + first_row * ld_dq, ld_dq, rows, padded_dim, h.d_scores, padded_keys, k_all, ld_qk,
            [&](int last_row) { return first_row + last_row + 1; }, false, nullptr);
        transposed_times_matrix(h.dv, keys, padded_dim, h.probabilities, padded_keys, rows, first_row, d_out, ld_d_out);
        transposed_times_matrix(h.dk, keys, padded_dim, h.d_scores, padded_keys, rows, first_row, q, ld_qk);
      }
      // One pass writing each row's dq, dk, dv (contiguous in d_qkv).
      for (int t = 0; t < seq_len; ++t) {
        float* row = d_head + static_cast<std::int64_t>(t) * row_width;
        if (t + kPrefetchRows < seq_len) prefetch_span(row + kPrefetchRows * row_width, 3 * head_dim, true);
        const std::int64_t at = static_cast<std::int64_t>(t) * padded_dim;
        for (int c = 0; c < head_dim; ++c) row[c] = h.out[at + c];
        for (int c = 0; c < head_dim; ++c) row[head_dim + c] = h.dk[at + c];
        for (int c = 0; c < head_dim; ++c) row[2 * head_dim + c] = h.dv[at + c];
      }
    }
  }
}

}  // namespace llcpress::ops
