// The lower bound on the distortion of matrix multiplication from independently
// quantized factors (Ordentlich & Polyanskiy 2024; REFERENCE.md §5): for iid
// N(0,1) entries and R bits per entry, D = ‖AᵀB − Ĉ‖²_F/(n·a·b) ≥ Γ(R) with
//
//   Γ(R) = 2·2^{−2R} − 2^{−4R}                for R ≥ R*,
//   Γ(R) = 1 − (1 − Γ(R*))·R/R*               for R < R*  (time-sharing),
//
// where R* is the rate at which the line from (0, 1) touches the upper curve.
// Tangency gives 2^{−2R*} = 1/(1 + 4·R*·ln 2), i.e. R* = ½·log2(1 + 4·R*·ln 2);
// both are computed here (not typed in), and the tests check them.
#pragma once

namespace llcpress::lattice {

// The nonzero root of R = ½·log2(1 + 4R·ln 2), by bisection on (0.5, 2) to
// machine precision (≈ 0.9063).
double critical_rate();

// Γ(R) above. R must be ≥ 0 (ConfigError otherwise).
double gamma_bound(double rate);

// The upper curve 2·2^{−2R} − 2^{−4R} without the time-sharing branch.
double gamma_upper_curve(double rate);

// The distortion of the inner product of two independent vectors each
// quantized with MMSE per-coordinate distortion d (relative to unit variance):
// 2d − d². Γ(R) is this with d = 2^{−2R}, the Gaussian distortion-rate function.
double product_distortion_from_mmse(double mmse_distortion);

}  // namespace llcpress::lattice
