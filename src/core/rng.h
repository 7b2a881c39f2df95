// Counter-based random numbers (Random123 Philox4x32-10), the same in host and
// device code. A variate is a pure function of (seed, stream, index): no state
// is carried between calls, so a result never depends on how work is split
// across ranks, threads or GPU blocks, or on a rerun.
//
//   key     = the 64-bit job seed
//   counter = (index lo, index hi, stream lo, stream hi)
//   stream  = stream_id(shard, chain, step, purpose ...) — a 64-bit mix of ids
//   index   = which block of 4 variates within the stream
#pragma once

#include <Random123/boxmuller.hpp>
#include <Random123/philox.h>
#include <Random123/uniform.hpp>

#include <cstddef>
#include <cstdint>

#include "core/host_device.h"

namespace llcpress {

// SplitMix64 finaliser: a bijective mix, so distinct ids give distinct words.
LLC_HOST_DEVICE inline std::uint64_t mix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Combines ids into one stream word. Order matters: (1, 2) != (2, 1).
LLC_HOST_DEVICE inline std::uint64_t stream_id(std::uint64_t a) { return mix64(a); }
LLC_HOST_DEVICE inline std::uint64_t stream_id(std::uint64_t a, std::uint64_t b) {
  return mix64(mix64(a) ^ b);
}
LLC_HOST_DEVICE inline std::uint64_t stream_id(std::uint64_t a, std::uint64_t b, std::uint64_t c) {
  return mix64(stream_id(a, b) ^ c);
}
LLC_HOST_DEVICE inline std::uint64_t stream_id(std::uint64_t a, std::uint64_t b, std::uint64_t c,
                                               std::uint64_t d) {
  return mix64(stream_id(a, b, c) ^ d);
}

struct Float4 {
  float v[4];
};

// Four raw 32-bit words for block `index` of `stream`.
LLC_HOST_DEVICE inline r123::Philox4x32::ctr_type philox_bits(std::uint64_t seed, std::uint64_t stream,
                                                              std::uint64_t index) {
  r123::Philox4x32 generator;
  r123::Philox4x32::key_type key = {{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)}};
  r123::Philox4x32::ctr_type counter = {{static_cast<std::uint32_t>(index), static_cast<std::uint32_t>(index >> 32),
                                         static_cast<std::uint32_t>(stream),
                                         static_cast<std::uint32_t>(stream >> 32)}};
  return generator(counter, key);
}

// Four uniforms in (0, 1] (never 0, so log() is safe).
LLC_HOST_DEVICE inline Float4 philox_uniform4(std::uint64_t seed, std::uint64_t stream, std::uint64_t index) {
  auto bits = philox_bits(seed, stream, index);
  Float4 out;
  for (int i = 0; i < 4; ++i) out.v[i] = r123::u01<float>(bits.v[i]);
  return out;
}

// Four standard normals (Box-Muller on two pairs of words).
LLC_HOST_DEVICE inline Float4 philox_normal4(std::uint64_t seed, std::uint64_t stream, std::uint64_t index) {
  auto bits = philox_bits(seed, stream, index);
  r123::float2 a = r123::boxmuller(bits.v[0], bits.v[1]);
  r123::float2 b = r123::boxmuller(bits.v[2], bits.v[3]);
  return Float4{{a.x, a.y, b.x, b.y}};
}

// Element e of a stream: block e/4, lane e%4. Loops that fill buffers should
// take whole blocks; these are for scattered access and tests.
LLC_HOST_DEVICE inline float philox_normal_at(std::uint64_t seed, std::uint64_t stream, std::uint64_t element) {
  return philox_normal4(seed, stream, element / 4).v[element % 4];
}
LLC_HOST_DEVICE inline float philox_uniform_at(std::uint64_t seed, std::uint64_t stream, std::uint64_t element) {
  return philox_uniform4(seed, stream, element / 4).v[element % 4];
}

// Host convenience: a (seed, stream) pair filling buffers. Element i of the
// buffer is element (offset + i) of the stream, so a buffer filled in pieces
// equals one filled at once.
class CounterRng {
 public:
  CounterRng(std::uint64_t seed, std::uint64_t stream) : seed_(seed), stream_(stream) {}
  void fill_normal(float* out, std::size_t count, std::uint64_t offset = 0, float scale = 1.0f) const;
  void fill_uniform(float* out, std::size_t count, std::uint64_t offset = 0) const;
  float normal(std::uint64_t element) const { return philox_normal_at(seed_, stream_, element); }
  float uniform(std::uint64_t element) const { return philox_uniform_at(seed_, stream_, element); }
  std::uint64_t seed() const { return seed_; }
  std::uint64_t stream() const { return stream_; }

 private:
  std::uint64_t seed_, stream_;
};

}  // namespace llcpress
