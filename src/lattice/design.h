// Choosing the scale lists (β) and the modulus q for a target rate.
//
// design_scales() picks K scales for (lattice, q, group size) on a calibration
// sample of iid N(0,1) groups — what the rotated, unit-variance columns look
// like — by coordinate descent over a log-spaced grid of β, minimising
//
//   J = D · 4^R,  D = per-coordinate MSE after the per-class MMSE gains,
//                 R = log2(q)·(1 − p_escape) + 32·p_escape + H(class)/(group·d),
//
// i.e. the distortion normalised by the Gaussian distortion-rate function
// 2^{−2R} (J = 1 would be Shannon's limit). The index entropy is the
// empirical entropy on the sample, which the rANS coder attains within a few
// tenths of a percent at the sizes used here. Designs are deterministic (fixed
// Philox seed) and cached per process.
//
// plan_codec() turns a target rate in bits per ORIGINAL entry into a CodecSpec:
// it removes the per-vector side information (mean, norm) and the padding,
// evaluates designs for the moduli q around the target, takes the lower convex
// hull of their (rate, product distortion 2D − D²) points together with the
// point (0, 1) of sending nothing, and time-shares the two hull vertices that
// bracket the target (a q = 0 segment below the lowest vertex: the time-sharing
// below R* of the bound).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lattice/lattice.h"
#include "lattice/matrix_codec.h"

namespace llcpress::lattice {

struct DesignOptions {
  int group_blocks = 0;  // 0: default_group_blocks(lattice)
  int num_scales = 8;    // K
  bool dither = false;
  bool mmse = true;
  int samples = 0;  // calibration groups; 0: enough for about 98304 coordinates
};

struct ScaleDesign {
  std::string lattice;
  int q = 0, group_blocks = 0;
  bool dither = false, mmse = true;
  std::vector<float> betas;               // [K] ascending
  std::vector<double> class_probability;  // [K + 1], last = escape
  double rate = 0;                        // bits per coded coordinate (see header)
  double distortion = 0;                  // per-coordinate MSE without gains
  double mmse_distortion = 0;             // with the per-class gains
  double objective = 0;                   // J
};

// The design for (lattice, q) (cached). With num_scales = 1 this is the best single β.
const ScaleDesign& design_scales(const LatticeInfo& lattice, int q, const DesignOptions& options = {});

struct CodecPlan {
  CodecSpec spec;
  double predicted_bits_per_entry = 0;      // everything counted, calibration statistics
  double predicted_product_distortion = 0;  // Gaussian proxy, time-shared
  std::vector<int> hull_q;                  // the q of the hull vertices used (0 = nothing sent)
};

struct PlanOptions {
  std::string lattice = "E8";
  DesignOptions design;
  int norm_bits = 32;
  std::uint64_t seed = 0;
  std::uint64_t dither_tag = 0;
};

// A spec whose expected rate is `bits_per_entry` for vectors of length n.
// With vectors > 0 the per-matrix costs (header, rANS tables, gains, scale
// lists) are spread over vectors·n entries and planned for too.
CodecPlan plan_codec(double bits_per_entry, std::int64_t n, const PlanOptions& options, std::int64_t vectors = 0);

// Bits an encoded matrix pays once, independent of its size: header, rANS
// tables, scale lists and MMSE gains (the RateBreakdown fields of those names).
double fixed_bits(const CodecSpec& spec);

// A spec with one segment of modulus q and the designed (or given) scales.
CodecSpec fixed_q_spec(int q, std::vector<float> betas, const PlanOptions& options);

}  // namespace llcpress::lattice
