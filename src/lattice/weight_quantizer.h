// Lattice quantization of one weight matrix at a target rate — the entry point
// of the compression sweep's `--method lattice` (issue 5): the sweep searches
// for the critical rate R (bits per weight) at which the loss rises by ε.
//
//   LatticeWeightResult r = quantize_weights_lattice(w, rows, cols, R, options);
//
// w[rows][cols] (fp32, row-major, as a PyTorch Linear weight [out][in]) is
// replaced in place by its reconstruction. Each ROW is coded as one vector of
// length cols: for y = W·x the rows are what x is multiplied with, so the
// rotation, lattice blocks and per-vector statistics run along the input
// dimension (the inner-product dimension of the layer's matmul). A 1-D tensor
// is rows = 1.
//
// The scheme is the matrix codec (matrix_codec.h) planned by plan_codec()
// (design.h): per row the mean (fp32) and norm are sent, the row is rotated by
// the shared randomized Hadamard transform (seed in options), and the blocks
// are coded with the options' lattice (default E8; BW16 gives ≈ 0.5 dB lower
// distortion at ≈ 6× the time) at the moduli q whose designed rates bracket
// R, time-shared so that the expected rate is R; below the lowest operating
// point part of the coordinates is not sent (time-sharing below R*).
//
// The returned bits_per_weight is what was actually spent, everything counted
// (RateBreakdown): the fixed-rate lattice indices, the rANS-coded scale
// indices and their tables, escapes, means, norms, gains, scale lists and a
// header. It is close to R but not equal (the index entropy on this matrix
// differs from the calibration's); record the returned value. R may be any
// value ≥ 0; R = 0 keeps only the row means.
//
// Thread-safe; uses the OpenMP threads of the caller's team size.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lattice/matrix_codec.h"

namespace llcpress::lattice {

struct LatticeWeightOptions {
  std::string lattice = "E8";  // any row of lattice_table()
  int num_scales = 8;          // β per modulus (designed)
  bool dither = false;         // subtractive dither (costs ≈ 0.3 dB; off by default)
  bool mmse = true;            // per-class MMSE gains (shrink toward 0: lower MSE)
  int norm_bits = 32;          // 32 (fp32) or 16 (bf16)
  std::uint64_t seed = 0;      // rotation and dither seed
};

struct LatticeWeightResult {
  double target_bits_per_weight = 0;
  double bits_per_weight = 0;  // actually spent, everything counted
  RateBreakdown rate;
  double relative_error = 0;      // ‖W − Ŵ‖²_F / ‖W‖²_F
  std::vector<int> moduli;        // q of each segment (0 = not sent)
  std::vector<double> fractions;  // their shares of the blocks
};

LatticeWeightResult quantize_weights_lattice(float* weights, std::int64_t rows, std::int64_t cols,
                                             double bits_per_weight, const LatticeWeightOptions& options = {});

}  // namespace llcpress::lattice
