#include "slt/reference_models/reference_data.h"

#include <cmath>

#include "core/check.h"
#include "core/rng.h"

namespace llcpress::slt {

std::vector<double> reference_normals(std::uint64_t seed, std::uint64_t stream, std::size_t count, double std) {
  std::vector<float> raw(count);
  CounterRng(seed, stream_id(stream)).fill_normal(raw.data(), count);
  std::vector<double> out(count);
  for (std::size_t i = 0; i < count; ++i) out[i] = std * raw[i];
  return out;
}

void check_regression_options(std::size_t samples, double input_std, double noise_std, double sigma) {
  LLC_CHECK(samples >= 1, ConfigError, "samples", "the dataset needs at least one sample (1000 is typical)",
            "samples = 0");
  LLC_CHECK(std::isfinite(input_std) && input_std > 0, ConfigError, "input-std", "use a positive input scale",
            "input-std = {}", input_std);
  LLC_CHECK(std::isfinite(noise_std) && noise_std >= 0, ConfigError, "noise-std", "use a noise std ≥ 0",
            "noise-std = {}", noise_std);
  LLC_CHECK(std::isfinite(sigma) && sigma > 0, ConfigError, "sigma", "the likelihood scale σ must be positive",
            "sigma = {}", sigma);
}

void check_batch(const Batch& batch, std::size_t samples, const char* model_name) {
  LLC_CHECK(!batch.samples.empty(), InputError, model_name, "pass at least one sample index", "empty batch");
  for (std::int64_t j : batch.samples)
    LLC_CHECK(j >= 0 && static_cast<std::size_t>(j) < samples, InputError, model_name,
              "sample indices must lie in [0, num_samples())", "sample index {} outside [0, {})", j, samples);
}

}  // namespace llcpress::slt
