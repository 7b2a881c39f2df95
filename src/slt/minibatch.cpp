#include "slt/minibatch.h"

#include <algorithm>
#include <unordered_set>

#include "core/check.h"
#include "core/rng.h"

namespace llcpress::slt {

namespace {
std::uint64_t scale_below(std::uint64_t word, std::uint64_t bound) {
  return static_cast<std::uint64_t>((static_cast<unsigned __int128>(word) * bound) >> 64);
}
}  // namespace

std::uint64_t philox_below(std::uint64_t seed, std::uint64_t stream, std::uint64_t index, std::uint64_t bound) {
  // Draw `index` uses the 64-bit half (index % 2) of Philox block index / 2.
  const auto bits = philox_bits(seed, stream, index / 2);
  const int half = static_cast<int>(index % 2) * 2;
  const std::uint64_t word = (static_cast<std::uint64_t>(bits.v[half + 1]) << 32) | bits.v[half];
  return scale_below(word, bound);
}

MinibatchSampler::MinibatchSampler(SampleRange range, std::size_t batch_size) : range_(range), batch_size_(batch_size) {
  LLC_CHECK(range.first >= 0 && range.last > range.first, ConfigError, "sequences",
            "give a non-empty range A:B of sample (sequence) numbers", "empty or negative sample range {}:{}",
            range.first, range.last);
  LLC_CHECK(batch_size > 0, ConfigError, "batch", "the batch needs at least one sample", "batch size is 0");
  LLC_CHECK(static_cast<std::int64_t>(batch_size) <= range.size(), ConfigError, "batch",
            "lower --batch or widen --sequences", "batch of {} samples from a range of only {} ({}:{})", batch_size,
            range.size(), range.first, range.last);
}

void MinibatchSampler::draw(std::uint64_t seed, std::uint64_t stream, std::vector<std::int64_t>& out) const {
  out.resize(batch_size_);
  const std::uint64_t n = static_cast<std::uint64_t>(range_.size());
  if (full_batch()) {
    for (std::size_t i = 0; i < batch_size_; ++i) out[i] = range_.first + static_cast<std::int64_t>(i);
    return;
  }
  // Floyd: for j = n−b … n−1 pick t in [0, j]; take t, or j when t is
  // taken. Every b-subset is equally likely and it needs exactly b draws.
  // Small batches keep out[0, filled) sorted as they go (binary search, and
  // j, when taken, is larger than every earlier pick so it goes last); large
  // batches hash and sort once at the end.
  constexpr std::size_t kSortedInsertLimit = 256;
  const bool hashed = batch_size_ > kSortedInsertLimit;
  std::unordered_set<std::uint64_t> taken;
  if (hashed) taken.reserve(batch_size_ * 2);
  std::size_t filled = 0;
  r123::Philox4x32::ctr_type bits{};
  for (std::uint64_t j = n - batch_size_, draw = 0; j < n; ++j, ++draw) {
    // Same numbers as philox_below(seed, stream, draw, j + 1), one Philox block per two draws.
    if (draw % 2 == 0) bits = philox_bits(seed, stream, draw / 2);
    const int half = static_cast<int>(draw % 2) * 2;
    const std::uint64_t t = scale_below((static_cast<std::uint64_t>(bits.v[half + 1]) << 32) | bits.v[half], j + 1);
    const std::int64_t candidate = range_.first + static_cast<std::int64_t>(t);
    const std::int64_t last = range_.first + static_cast<std::int64_t>(j);
    if (hashed) {
      const bool seen = !taken.insert(t).second;
      if (seen) taken.insert(j);
      out[filled++] = seen ? last : candidate;
      continue;
    }
    // Branch-free rank of the candidate among the sorted picks (b is small).
    std::size_t rank = 0;
    for (std::size_t i = 0; i < filled; ++i) rank += out[i] < candidate;
    auto end = out.begin() + filled;
    auto position = out.begin() + rank;
    if (position != end && *position == candidate) {
      out[filled++] = last;
    } else {
      std::move_backward(position, end, end + 1);
      *position = candidate;
      ++filled;
    }
  }
  if (hashed) std::sort(out.begin(), out.end());
}

}  // namespace llcpress::slt
