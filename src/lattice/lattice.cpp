#include "lattice/lattice.h"

#include <array>
#include <cmath>
#include <cstdlib>
#include <numbers>

#include "core/check.h"
#include "lattice/closest_point.h"
#include "lattice/e8_batch.h"
#include "lattice/nested_code.h"

namespace llcpress::lattice {

double nsm_of_d(int n) {
  const double m = n;
  double pyramid = 0.5 * (1.0 / m - 1.0 / (m + 1.0) + 1.0 / (4.0 * (m + 2.0))) + (m - 1.0) / (24.0 * (m + 2.0));
  double second_moment = m / 12.0 + 2.0 * m * pyramid;
  return second_moment / (m * std::pow(2.0, 1.0 + 2.0 / m));
}

double granular_loss_bits(double nsm) { return 0.5 * std::log2(2.0 * std::numbers::pi * std::numbers::e * nsm); }

const Bw16Basis& bw16_basis() {
  // Hermite reduction (integer row operations, column by column) of the 21
  // generators: the 5 rows of RM(1,4) (all-ones and the four coordinate-bit
  // functions) and 2× the D16 basis {2e_1, e_i − e_{i−1}}.
  static const Bw16Basis basis = [] {
    std::vector<std::array<std::int64_t, 16>> pending;
    for (int g = 0; g < 5; ++g) {
      std::array<std::int64_t, 16> row{};
      for (int i = 0; i < 16; ++i) row[i] = g == 0 ? 1 : (i >> (g - 1)) & 1;
      pending.push_back(row);
    }
    for (int g = 0; g < 16; ++g) {
      std::array<std::int64_t, 16> row{};
      if (g == 0) {
        row[0] = 4;
      } else {
        row[g] = 2;
        row[g - 1] = -2;
      }
      pending.push_back(row);
    }
    Bw16Basis result;
    for (int column = 0; column < 16; ++column) {
      while (true) {
        int pivot = -1;
        for (int r = 0; r < static_cast<int>(pending.size()); ++r)
          if (pending[r][column] != 0 &&
              (pivot < 0 || std::llabs(pending[r][column]) < std::llabs(pending[pivot][column])))
            pivot = r;
        LLC_REQUIRE(pivot >= 0, "BW16 generators are not of full rank");
        bool reduced = true;
        for (int r = 0; r < static_cast<int>(pending.size()); ++r) {
          if (r == pivot || pending[r][column] == 0) continue;
          std::int64_t factor = pending[r][column] / pending[pivot][column];
          for (int j = 0; j < 16; ++j) pending[r][j] -= factor * pending[pivot][j];
          if (pending[r][column] != 0) reduced = false;
        }
        if (!reduced) continue;
        auto row = pending[pivot];
        pending.erase(pending.begin() + pivot);
        if (row[column] < 0)
          for (auto& value : row) value = -value;
        for (int j = 0; j < 16; ++j) result.rows[column][j] = static_cast<std::int32_t>(row[j]);
        break;
      }
    }
    return result;
  }();
  return basis;
}

namespace {

template <typename L>
LatticeInfo make_row(std::string name, double covolume, double nsm, double covering, double packing,
                     std::string source) {
  LatticeInfo row;
  row.name = std::move(name);
  row.dimension = L::kDim;
  row.covolume = covolume;
  row.nsm = nsm;
  row.covering_radius = covering;
  row.packing_radius = packing;
  row.nsm_source = std::move(source);
  row.closest_point_float = &L::template closest_point<float>;
  row.closest_point_double = &L::template closest_point<double>;
  row.reduce_mod_q = &L::reduce_mod_q;
  row.coordinates = &L::coordinates;
  row.from_coordinates = &L::from_coordinates;
  row.generator_row = &L::generator_row;
  row.encode_segment = &encode_segment<L>;
  row.decode_segment = &decode_segment<L>;
  row.make_dither = &make_dither<L>;
  return row;
}

template <int N>
LatticeInfo make_d_row() {
  // Covering radius of D_n: 1 for n ≤ 4 (the hole e_1), √n/2 beyond (the hole ½·1).
  double covering = N <= 4 ? 1.0 : std::sqrt(double(N)) / 2.0;
  return make_row<LatticeD<N>>("D" + std::to_string(N), 2.0, nsm_of_d(N), covering, std::sqrt(2.0) / 2.0,
                               "closed form from the Voronoi cell (cube + 2n pyramids), see nsm_of_d");
}

std::vector<LatticeInfo> build_table() {
  std::vector<LatticeInfo> table;
  table.push_back(make_row<LatticeZ>("Z", 1.0, 1.0 / 12.0, 0.5, 0.5, "uniform on [-1/2, 1/2): 1/12"));
  table.push_back(make_d_row<2>());
  table.push_back(make_d_row<3>());
  table.push_back(make_d_row<4>());
  table.push_back(make_d_row<5>());
  table.push_back(make_d_row<6>());
  table.push_back(make_d_row<7>());
  table.push_back(make_d_row<8>());
  table.push_back(make_row<LatticeE8>("E8", 1.0, 929.0 / 12960.0, 1.0, std::sqrt(2.0) / 2.0,
                                      "929/12960, Conway & Sloane (1982), table 2.3"));
  // E8 encodes and decodes eight blocks per AVX2 instruction (same results as the reference kernels).
  table.back().encode_segment = &encode_segment_e8_batched;
  table.back().decode_segment = &decode_segment_e8_batched;
  // Λ16 in the scaling RM(1,4) + 2·D16: minimum norm² 8 (twice the usual 4),
  // so the covering radius √3 of the usual scaling becomes √6.
  table.push_back(make_row<LatticeBW16>("BW16", 4096.0, 0.068299, std::sqrt(6.0), std::sqrt(2.0),
                                        "0.068299, Conway & Sloane, SPLAG table 2.3 (Λ16)"));
  return table;
}

}  // namespace

const std::vector<LatticeInfo>& lattice_table() {
  static const std::vector<LatticeInfo> table = build_table();
  return table;
}

const LatticeInfo& find_lattice(std::string_view name) {
  std::string names;
  for (const auto& row : lattice_table()) {
    if (row.name == name) return row;
    names += (names.empty() ? "" : ", ") + row.name;
  }
  LLC_THROW(ConfigError, std::string(name), "use one of: " + names, "unknown lattice '{}'", name);
}

}  // namespace llcpress::lattice
