#include "lattice/weight_quantizer.h"

#include <cmath>

#include "core/check.h"
#include "lattice/design.h"

namespace llcpress::lattice {

LatticeWeightResult quantize_weights_lattice(float* weights, std::int64_t rows, std::int64_t cols,
                                             double bits_per_weight, const LatticeWeightOptions& options) {
  LLC_CHECK(rows >= 1 && cols >= 1, InputError, "lattice weight quantizer", "pass a non-empty matrix",
            "matrix is {}x{}", rows, cols);
  PlanOptions plan_options;
  plan_options.lattice = options.lattice;
  plan_options.design.num_scales = options.num_scales;
  plan_options.design.dither = options.dither;
  plan_options.design.mmse = options.mmse;
  plan_options.norm_bits = options.norm_bits;
  plan_options.seed = options.seed;
  CodecPlan plan = plan_codec(bits_per_weight, cols, plan_options, rows);
  EncodedMatrix encoded = encode_vectors(weights, rows, cols, plan.spec);

  std::vector<float> decoded(static_cast<std::size_t>(rows) * cols);
  decode_vectors(decoded.data(), encoded);
  double error = 0, energy = 0;
  for (std::size_t i = 0; i < decoded.size(); ++i) {
    double e = static_cast<double>(weights[i]) - decoded[i];
    error += e * e;
    energy += static_cast<double>(weights[i]) * weights[i];
    weights[i] = decoded[i];
  }
  LatticeWeightResult result;
  result.target_bits_per_weight = bits_per_weight;
  result.bits_per_weight = encoded.rate.bits_per_entry();
  result.rate = encoded.rate;
  result.relative_error = energy > 0 ? error / energy : 0.0;
  for (const auto& segment : encoded.segments) {
    result.moduli.push_back(segment.spec.q);
    result.fractions.push_back(static_cast<double>(segment.blocks) / static_cast<double>(encoded.blocks_per_vector));
  }
  return result;
}

}  // namespace llcpress::lattice
