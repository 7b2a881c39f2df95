// The lattice table: every lattice the quantizers can use, with its closest-
// point algorithm (closest_point.h) and the constants the tests and the rate /
// distortion planner need. One row per lattice; look rows up by name.
//
//   name  dim  covolume  NSM G (the known value the Monte Carlo test checks)
//   Z      1   1         1/12
//   D2..D8 n   2         closed form below (D3 0.0787450, D4 0.0766032)
//   E8     8   1         929/12960 = 0.0716821
//   BW16  16   4096      0.068299 (Barnes–Wall Λ16, scaled as RM(1,4) + 2·D16)
//
// Normalized second moment G(Λ) = (1/d)·E‖U‖² / V^{2/d} for U uniform on the
// Voronoi cell and V the covolume (Conway & Sloane ch. 2 §3, ch. 21).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace llcpress::lattice {

struct SegmentJob;  // nested_code.h

struct LatticeInfo {
  std::string name;
  int dimension = 0;
  double covolume = 0;         // det(generator) = volume of a Voronoi cell
  double nsm = 0;              // normalized second moment G (closed form, not measured)
  double covering_radius = 0;  // largest distance from a point to the lattice
  double packing_radius = 0;   // half the minimum distance between lattice points
  std::string nsm_source;      // where the value of nsm comes from

  // Function table (implemented by the structs of closest_point.h).
  void (*closest_point_float)(float* out, const float* in) = nullptr;
  void (*closest_point_double)(double* out, const double* in) = nullptr;
  void (*reduce_mod_q)(float* leader, const float* point, int q) = nullptr;  // exact, lattice points only
  void (*coordinates)(float* u, const float* point) = nullptr;               // lattice point → basis coords
  void (*from_coordinates)(float* point, const float* u) = nullptr;          // basis coords → lattice point
  void (*generator_row)(double* row, int i) = nullptr;                       // row i of the generator matrix
  // Nested-code kernels for one vector's segment (nested_code.h).
  void (*encode_segment)(SegmentJob& job) = nullptr;
  void (*decode_segment)(float* out, SegmentJob& job, const float* gains) = nullptr;
  void (*make_dither)(float* dither, std::uint64_t seed, std::uint64_t stream, std::uint64_t block) = nullptr;

  bool is_integer_lattice() const { return name == "Z"; }
};

// All registered lattices, in a fixed order (Z, D2..D8, E8, BW16).
const std::vector<LatticeInfo>& lattice_table();

// The row named `name` ("Z", "D3", "E8", ...). Throws ConfigError listing the
// registered names when there is none.
const LatticeInfo& find_lattice(std::string_view name);

// Normalized second moment of D_n from its Voronoi cell: the cube [−½,½]^n
// plus 2n pyramids (one per neighbour ±e_i of the odd coset), which gives
//   U(D_n) = n/12 + 2n·[ ½(1/n − 1/(n+1) + 1/(4(n+2))) + (n−1)/(24(n+2)) ],
//   G(D_n) = U / (n · 2^{1+2/n}).
// n = 3 gives 0.0787450 and n = 4 gives 0.0766032 (Conway & Sloane table 2.3).
double nsm_of_d(int n);

// ½·log2(2πe·G): the loss in bits per dimension of a lattice quantizer against
// the ideal (space-filling) quantizer at high rate.
double granular_loss_bits(double nsm);

}  // namespace llcpress::lattice
