// Minibatches for SGLD: `size` distinct sample indices drawn uniformly from
// [first, last), a pure function of (seed, stream) — Philox words consumed by
// Floyd's subset algorithm, then sorted. A batch that covers the whole range
// is the range in order (full-batch mode, no randomness).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace llcpress::slt {

struct SampleRange {
  std::int64_t first = 0, last = 0;  // [first, last)
  std::int64_t size() const { return last - first; }
};

class MinibatchSampler {
 public:
  // ConfigError when the range is empty or smaller than the batch, or the batch is empty.
  MinibatchSampler(SampleRange range, std::size_t batch_size);

  // Fills `out` (resized to batch_size()) with the batch of (seed, stream).
  void draw(std::uint64_t seed, std::uint64_t stream, std::vector<std::int64_t>& out) const;

  std::size_t batch_size() const { return batch_size_; }
  const SampleRange& range() const { return range_; }
  bool full_batch() const { return static_cast<std::int64_t>(batch_size_) == range_.size(); }

 private:
  SampleRange range_;
  std::size_t batch_size_;
};

// A uniform integer in [0, bound) from 64 Philox bits (multiply-shift; the
// bias is below bound/2⁶⁴, far under anything a test could see).
std::uint64_t philox_below(std::uint64_t seed, std::uint64_t stream, std::uint64_t index, std::uint64_t bound);

}  // namespace llcpress::slt
