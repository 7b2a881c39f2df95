// Closest-point (nearest lattice vector) algorithms of Conway & Sloane, "Fast
// quantizing and decoding algorithms for lattice quantizers and codes" (IEEE
// Trans. IT 28, 1982) and "Sphere Packings, Lattices and Groups" ch. 20, for
//
//   Z      the integers (one coordinate; Z^n is n independent copies),
//   D_n    integer vectors with an even coordinate sum (n = 2..8 are registered),
//   E8     D8 ∪ (D8 + ½·1), the Gosset lattice (covolume 1),
//   BW16   the Barnes–Wall lattice Λ16 = RM(1,4) + 2·D16, the union of 32
//          cosets c + 2D16 over the first-order Reed–Muller codewords c
//          (the union-of-cosets decoder of Conway & Sloane 1982; integer
//          scaling: minimum norm² 8, covolume 2^12).
//
// Each lattice is a struct of static inline functions so that the encoder and
// decoder loops in nested_code.h inline them; lattice.h puts them in one table.
//
// Two kinds of closest point:
//
//   closest_point(out, in)       any real point, in float or double. Ties (a
//                                point equidistant from two lattice vectors)
//                                are broken deterministically: coordinates round
//                                half up (floor(x + ½)), the D_n parity fix
//                                re-rounds the first coordinate of largest
//                                rounding error, E8 prefers the D8 coset.
//
//   reduce_mod_q(leader, point, q)
//                                for a LATTICE point p: the coset leader
//                                p − q·Q_Λ(p/q), computed in exact arithmetic
//                                (every intermediate is an integer below 2^24,
//                                exact in float). The tie rule depends only on
//                                p/q − Q_Λ(p/q), which does not change when p
//                                moves by a vector of qΛ, so any two members of
//                                one coset get the same leader. That is what
//                                makes the Voronoi code well defined: the
//                                decoder reduces whatever representative it
//                                rebuilds from the index and gets the encoder's
//                                leader bit for bit.
//
// Basis coordinates (coordinates / from_coordinates) identify Λ/qΛ with
// (Z/q)^d: a lattice point is Σ u_i·v_i for the generator rows v_i below, and
// its coset is u mod q.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>

namespace llcpress::lattice {

// Parity of an integer-valued float or double (|value| < 2^53).
template <typename T>
inline bool is_odd(T integer_value) {
  return (static_cast<std::int64_t>(integer_value) & 1) != 0;
}

// floor(x + ½): ties go up, so round(x + k) == round(x) + k for integers k.
template <typename T>
inline T round_half_up(T x) {
  return std::floor(x + T(0.5));
}

// floor(a / b) for integer-valued a and a positive integer b, both below 2^22
// in magnitude, computed in float. a/b is either an integer or at least 1/b
// away from one, so the 0.5 offset keeps the product with the rounded
// reciprocal on the correct side of the integer.
inline float exact_floor_div(float a, float b, float inverse_b) { return std::floor((a + 0.5f) * inverse_b); }

// ---------------------------------------------------------------- Z
struct LatticeZ {
  static constexpr int kDim = 1;
  static constexpr const char* kName = "Z";

  template <typename T>
  static void closest_point(T* out, const T* in) {
    out[0] = round_half_up(in[0]);
  }

  // p − q·round(p/q) with round(p/q) = floor((2p + q) / 2q): leader in [−q/2, q/2).
  static void reduce_mod_q(float* leader, const float* point, int q) {
    const float two_q = 2.0f * q;
    float nearest = exact_floor_div(2.0f * point[0] + q, two_q, 1.0f / two_q);
    leader[0] = point[0] - q * nearest;
  }

  static void coordinates(float* u, const float* point) { u[0] = point[0]; }
  static void from_coordinates(float* point, const float* u) { point[0] = u[0]; }
  // Generator rows (for the dither's fundamental parallelepiped).
  static void generator_row(double* row, int i) { row[0] = 1.0; }
};

// ---------------------------------------------------------------- D_n
template <int N>
struct LatticeD {
  static_assert(N >= 2 && N <= 16, "D_n is registered for small n only");
  static constexpr int kDim = N;

  // Round every coordinate; if the coordinate sum is odd, re-round the
  // coordinate with the largest rounding error the other way (C&S Alg. 2).
  template <typename T>
  static void closest_point(T* out, const T* in) {
    T sum = 0;
    int worst = 0;
    T worst_error = -1;
    T worst_signed = 0;
    for (int i = 0; i < N; ++i) {
      out[i] = round_half_up(in[i]);
      sum += out[i];
      T error = in[i] - out[i];
      T magnitude = std::fabs(error);
      if (magnitude > worst_error) {  // strict: the first maximal coordinate wins
        worst_error = magnitude;
        worst = i;
        worst_signed = error;
      }
    }
    // sum is an integer-valued T; its parity decides membership.
    if (is_odd(sum)) out[worst] += worst_signed >= 0 ? T(1) : T(-1);
  }

  // Exact Q_{D_n}(p/q) for integer p, in units of 1/q: rounding errors are the
  // integers p_i − q·f_i, so comparisons are exact.
  static void reduce_mod_q(float* leader, const float* point, int q) {
    const float two_q = 2.0f * q, inverse = 1.0f / two_q;
    float nearest[N];
    float sum = 0, worst_error = -1, worst_signed = 0;
    int worst = 0;
    for (int i = 0; i < N; ++i) {
      nearest[i] = exact_floor_div(2.0f * point[i] + q, two_q, inverse);
      sum += nearest[i];
      float error = point[i] - q * nearest[i];  // q·(p_i/q − f_i), exact
      float magnitude = std::fabs(error);
      if (magnitude > worst_error) {
        worst_error = magnitude;
        worst = i;
        worst_signed = error;
      }
    }
    if (is_odd(sum)) nearest[worst] += worst_signed >= 0 ? 1.0f : -1.0f;
    for (int i = 0; i < N; ++i) leader[i] = point[i] - q * nearest[i];
  }

  // Generator rows: v_1 = 2e_1, v_i = e_i − e_{i−1} (i ≥ 2); det 2 = covolume of D_n.
  // Inverse: u_i = Σ_{j≥i} x_j for i ≥ 2, u_1 = (Σ_j x_j)/2 (an integer: the sum is even).
  static void coordinates(float* u, const float* point) {
    float suffix = 0;
    for (int i = N - 1; i >= 1; --i) {
      suffix += point[i];
      u[i] = suffix;
    }
    u[0] = (suffix + point[0]) * 0.5f;
  }
  static void from_coordinates(float* point, const float* u) {
    point[0] = 2.0f * u[0] - u[1];
    for (int i = 1; i < N - 1; ++i) point[i] = u[i] - u[i + 1];
    point[N - 1] = u[N - 1];
  }
  static void generator_row(double* row, int i) {
    for (int j = 0; j < N; ++j) row[j] = 0;
    if (i == 0) {
      row[0] = 2;
    } else {
      row[i] = 1;
      row[i - 1] = -1;
    }
  }
};

// ---------------------------------------------------------------- E8
struct LatticeE8 {
  static constexpr int kDim = 8;
  static constexpr const char* kName = "E8";

  // Closest point in D8 and in D8 + ½; keep the nearer (D8 on a tie).
  template <typename T>
  static void closest_point(T* out, const T* in) {
    T shifted[8], candidate_integer[8], candidate_half[8];
    for (int i = 0; i < 8; ++i) shifted[i] = in[i] - T(0.5);
    LatticeD<8>::closest_point(candidate_integer, in);
    LatticeD<8>::closest_point(candidate_half, shifted);
    T distance_integer = 0, distance_half = 0;
    for (int i = 0; i < 8; ++i) {
      candidate_half[i] += T(0.5);
      T a = in[i] - candidate_integer[i], b = in[i] - candidate_half[i];
      distance_integer += a * a;
      distance_half += b * b;
    }
    const T* best = distance_half < distance_integer ? candidate_half : candidate_integer;
    for (int i = 0; i < 8; ++i) out[i] = best[i];
  }

  // Exact Q_{E8}(p/q) for p ∈ E8: everything is done on P = 2p (integers) in
  // units of 1/(2q). The two D8-coset candidates are compared by exact squared
  // distance; on a tie the one whose error vector is lexicographically smaller
  // wins — the error vectors do not change under translation by qE8 (the two
  // candidates just swap roles under a half-integer translation), so the rule
  // is equivariant, unlike "prefer the D8 coset".
  static void reduce_mod_q(float* leader, const float* point, int q) {
    float doubled[8], shifted[8];
    for (int i = 0; i < 8; ++i) {
      doubled[i] = 2.0f * point[i];
      shifted[i] = doubled[i] - q;  // 2q·(p/q − ½)
    }
    float nearest_integer[8], nearest_half[8];
    d8_nearest_scaled(nearest_integer, doubled, 2 * q);
    d8_nearest_scaled(nearest_half, shifted, 2 * q);
    float error_integer[8], error_half[8];
    float distance_integer = 0, distance_half = 0;
    for (int i = 0; i < 8; ++i) {
      // λ1 = nearest_half + ½ ⇒ 2q·λ1 = 2q·nearest_half + q.
      error_integer[i] = doubled[i] - 2.0f * q * nearest_integer[i];
      error_half[i] = doubled[i] - (2.0f * q * nearest_half[i] + q);
      distance_integer += error_integer[i] * error_integer[i];
      distance_half += error_half[i] * error_half[i];
    }
    bool take_half = distance_half < distance_integer;
    if (distance_half == distance_integer) {
      for (int i = 0; i < 8; ++i) {
        if (error_half[i] != error_integer[i]) {
          take_half = error_half[i] < error_integer[i];
          break;
        }
      }
    }
    // leader = p − q·λ = (P − 2q·λ)/2 = error/2.
    const float* error = take_half ? error_half : error_integer;
    for (int i = 0; i < 8; ++i) leader[i] = 0.5f * error[i];
  }

  // Generator rows (Conway & Sloane fig. 4.10 layout): v_1 = 2e_1,
  // v_i = e_i − e_{i−1} for i = 2..7, v_8 = ½·1. det = ½·2 = 1.
  static void coordinates(float* u, const float* point) {
    u[7] = 2.0f * point[7];
    float half = 0.5f * u[7];  // remove u_8·v_8, leaving an integer vector with x'_8 = 0
    float suffix = 0;
    for (int i = 6; i >= 1; --i) {
      suffix += point[i] - half;
      u[i] = suffix;
    }
    u[0] = (suffix + point[0] - half) * 0.5f;
  }
  static void from_coordinates(float* point, const float* u) {
    float half = 0.5f * u[7];
    point[0] = 2.0f * u[0] - u[1] + half;
    for (int i = 1; i < 6; ++i) point[i] = u[i] - u[i + 1] + half;
    point[6] = u[6] + half;
    point[7] = half;
  }
  static void generator_row(double* row, int i) {
    for (int j = 0; j < 8; ++j) row[j] = 0;
    if (i == 0) {
      row[0] = 2;
    } else if (i < 7) {
      row[i] = 1;
      row[i - 1] = -1;
    } else {
      for (int j = 0; j < 8; ++j) row[j] = 0.5;
    }
  }

 private:
  // D8 closest point to a/s for integer vector a and integer s > 0, returned as
  // integers; comparisons on the exact integer errors a_i − s·f_i.
  static void d8_nearest_scaled(float* nearest, const float* a, int s) {
    const float two_s = 2.0f * s, inverse = 1.0f / two_s;
    float sum = 0, worst_error = -1, worst_signed = 0;
    int worst = 0;
    for (int i = 0; i < 8; ++i) {
      nearest[i] = exact_floor_div(2.0f * a[i] + s, two_s, inverse);
      sum += nearest[i];
      float error = a[i] - s * nearest[i];
      float magnitude = std::fabs(error);
      if (magnitude > worst_error) {
        worst_error = magnitude;
        worst = i;
        worst_signed = error;
      }
    }
    if (is_odd(sum)) nearest[worst] += worst_signed >= 0 ? 1.0f : -1.0f;
  }
};

// ---------------------------------------------------------------- BW16
// The 32 codewords of RM(1,4): bit i of codeword (a0, a) is a0 ⊕ parity(a & i).
constexpr std::array<std::uint16_t, 32> reed_muller_1_4() {
  std::array<std::uint16_t, 32> words{};
  for (int w = 0; w < 32; ++w) {
    std::uint16_t bits = 0;
    for (int i = 0; i < 16; ++i) {
      int parity = (w >> 4) & 1;
      for (int b = 0; b < 4; ++b) parity ^= ((w >> b) & 1) & ((i >> b) & 1);
      bits |= static_cast<std::uint16_t>(parity << i);
    }
    words[w] = bits;
  }
  return words;
}

// A triangular integer basis of Λ16 (row i starts at column i), computed once
// by Hermite reduction of the generators {RM(1,4) rows, 2·D16 basis}.
struct Bw16Basis {
  std::array<std::array<std::int32_t, 16>, 16> rows;
};
const Bw16Basis& bw16_basis();

struct LatticeBW16 {
  static constexpr int kDim = 16;
  static constexpr std::array<std::uint16_t, 32> kCodewords = reed_muller_1_4();

  // bits[i][w] = bit i of codeword w, as 0/1 in T (so the scoring loops are
  // plain arithmetic over 32 lanes).
  template <typename T>
  static const T* codeword_bits(int i) {
    static const auto table = [] {
      std::array<std::array<T, 32>, 16> bits{};
      for (int b = 0; b < 16; ++b)
        for (int w = 0; w < 32; ++w) bits[b][w] = static_cast<T>((kCodewords[w] >> b) & 1);
      return bits;
    }();
    return table[i].data();
  }

  // For each coset c + 2D16 the D16 decode of (x − c)/2 needs, per coordinate,
  // one of two roundings (c_i = 0 or 1); both are computed once. Then all 32
  // cosets are scored together, coordinate by coordinate, in arrays indexed by
  // codeword (the inner loops run over the 32 codewords and vectorise): the
  // squared error, the coordinate sum (its parity) and the first coordinate of
  // largest |error|. The distance after the parity fix replaces that
  // coordinate's |e| by 1 − |e|. Nearest coset wins; on a tie the first
  // codeword in the table.
  template <typename T>
  static void closest_point(T* out, const T* in) {
    T rounded[2][16], error[2][16], square[2][16], magnitude[2][16];
    for (int i = 0; i < 16; ++i) {
      for (int bit = 0; bit < 2; ++bit) {
        T half = (in[i] - T(bit)) * T(0.5);
        rounded[bit][i] = round_half_up(half);
        error[bit][i] = half - rounded[bit][i];
        square[bit][i] = error[bit][i] * error[bit][i];
        magnitude[bit][i] = std::fabs(error[bit][i]);
      }
    }
    T distance[32] = {}, sum[32] = {}, worst_error[32], worst_index[32] = {};
    for (int w = 0; w < 32; ++w) worst_error[w] = -1;
    // Selections are written as bit·a + (1 − bit)·b with bit ∈ {0, 1}: exactly
    // a or b, and branch-free so that the loops over w vectorise.
    for (int i = 0; i < 16; ++i) {
      const T* bits = codeword_bits<T>(i);
      const T square0 = square[0][i], square1 = square[1][i], rounded0 = rounded[0][i], rounded1 = rounded[1][i];
      const T magnitude0 = magnitude[0][i], magnitude1 = magnitude[1][i], index = T(i);
      for (int w = 0; w < 32; ++w) {
        const T one = bits[w], zero = T(1) - bits[w];
        distance[w] += one * square1 + zero * square0;
        sum[w] += one * rounded1 + zero * rounded0;
        const T m = one * magnitude1 + zero * magnitude0;
        const T current = worst_error[w];
        const bool larger = m > current;
        worst_index[w] = larger ? index : worst_index[w];
        worst_error[w] = larger ? m : current;
      }
    }
    int best_word = 0;
    T best_distance = 0;
    for (int w = 0; w < 32; ++w) {
      T d = is_odd(sum[w]) ? distance[w] + (T(1) - T(2) * worst_error[w]) : distance[w];
      if (w == 0 || d < best_distance) {
        best_distance = d;
        best_word = w;
      }
    }
    const std::uint16_t word = kCodewords[best_word];
    const bool odd = is_odd(sum[best_word]);
    const int worst = static_cast<int>(worst_index[best_word]);
    for (int i = 0; i < 16; ++i) {
      int bit = (word >> i) & 1;
      T value = rounded[bit][i];
      if (odd && i == worst) value += error[bit][i] >= 0 ? T(1) : T(-1);
      out[i] = T(bit) + T(2) * value;
    }
  }

  // Exact Q_{Λ16}(p/q) for p ∈ Λ16: for coset c the D16 point nearest
  // (p − q·c)/(2q) is found from a_i = p_i − q·c_i with s = 2q; its error
  // vector a − s·n is p − q·λ (the leader candidate). The winner has the
  // smallest squared error, then the lexicographically smallest error vector
  // (invariant under p → p + qΛ16, so the rule is equivariant). All values are
  // integers below 2^24, exact in float; the 32 cosets are scored together.
  static void reduce_mod_q(float* leader, const float* point, int q) {
    const float qf = static_cast<float>(q), s = 2.0f * qf, two_s = 2.0f * s, inverse = 1.0f / two_s;
    float nearest[2][16], error[2][16], square[2][16], magnitude[2][16];
    for (int i = 0; i < 16; ++i) {
      for (int bit = 0; bit < 2; ++bit) {
        float a = point[i] - (bit ? qf : 0.0f);
        nearest[bit][i] = exact_floor_div(2.0f * a + s, two_s, inverse);
        error[bit][i] = a - s * nearest[bit][i];
        square[bit][i] = error[bit][i] * error[bit][i];
        magnitude[bit][i] = std::fabs(error[bit][i]);
      }
    }
    float distance[32] = {}, sum[32] = {}, worst_error[32], worst_index[32] = {};
    for (int w = 0; w < 32; ++w) worst_error[w] = -1;
    for (int i = 0; i < 16; ++i) {
      const float* bits = codeword_bits<float>(i);
      const float square0 = square[0][i], square1 = square[1][i], nearest0 = nearest[0][i], nearest1 = nearest[1][i];
      const float magnitude0 = magnitude[0][i], magnitude1 = magnitude[1][i], index = float(i);
      for (int w = 0; w < 32; ++w) {
        const float one = bits[w], zero = 1.0f - bits[w];
        distance[w] += one * square1 + zero * square0;
        sum[w] += one * nearest1 + zero * nearest0;
        const float m = one * magnitude1 + zero * magnitude0;
        const float current = worst_error[w];
        const bool larger = m > current;
        worst_index[w] = larger ? index : worst_index[w];
        worst_error[w] = larger ? m : current;
      }
    }
    // The parity fix moves the worst error e to e ∓ s: (|e| − s)² = e² − 2s|e| + s².
    float fixed_distance[32];
    float best_distance = 0;
    for (int w = 0; w < 32; ++w) {
      fixed_distance[w] = is_odd(sum[w]) ? distance[w] + s * (s - 2.0f * worst_error[w]) : distance[w];
      best_distance = w == 0 || fixed_distance[w] < best_distance ? fixed_distance[w] : best_distance;
    }
    // Among the nearest cosets (usually one), the smallest error vector.
    bool found = false;
    float best[16] = {};
    for (int w = 0; w < 32; ++w) {
      if (fixed_distance[w] != best_distance) continue;
      float candidate[16];
      const std::uint16_t word = kCodewords[w];
      for (int i = 0; i < 16; ++i) candidate[i] = error[(word >> i) & 1][i];
      if (is_odd(sum[w])) {
        const int worst = static_cast<int>(worst_index[w]);
        candidate[worst] += candidate[worst] >= 0 ? -s : s;
      }
      bool better = !found;
      for (int i = 0; i < 16 && !better; ++i) {
        if (candidate[i] != best[i]) {
          better = candidate[i] < best[i];
          break;
        }
      }
      if (better) {
        found = true;
        for (int i = 0; i < 16; ++i) best[i] = candidate[i];
      }
    }
    for (int i = 0; i < 16; ++i) leader[i] = best[i];
  }

  // Triangular basis: point_j = Σ_{i ≤ j} u_i·B[i][j], solved forwards.
  static void coordinates(float* u, const float* point) {
    const auto& basis = bw16_basis().rows;
    std::int64_t solved[16];
    for (int j = 0; j < 16; ++j) {
      std::int64_t rest = static_cast<std::int64_t>(point[j]);
      for (int i = 0; i < j; ++i) rest -= solved[i] * basis[i][j];
      solved[j] = rest / basis[j][j];  // exact for lattice points
      u[j] = static_cast<float>(solved[j]);
    }
  }
  static void from_coordinates(float* point, const float* u) {
    const auto& basis = bw16_basis().rows;
    for (int j = 0; j < 16; ++j) {
      std::int64_t value = 0;
      for (int i = 0; i <= j; ++i) value += static_cast<std::int64_t>(u[i]) * basis[i][j];
      point[j] = static_cast<float>(value);
    }
  }
  static void generator_row(double* row, int i) {
    const auto& basis = bw16_basis().rows;
    for (int j = 0; j < 16; ++j) row[j] = basis[i][j];
  }
};

}  // namespace llcpress::lattice
