// rANS round trip, size against the empirical entropy, and corrupted streams.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "lattice/entropy_coder.h"

namespace llcpress::lattice {
namespace {

std::vector<std::uint8_t> skewed_symbols(std::size_t count, int alphabet, std::uint64_t stream) {
  // Geometric-like: symbol k with probability ∝ 2^{−k}.
  CounterRng rng(5, stream);
  std::vector<std::uint8_t> symbols(count);
  for (std::size_t i = 0; i < count; ++i) {
    float u = rng.uniform(i);
    int k = std::min(alphabet - 1, static_cast<int>(-std::log2(u)));
    symbols[i] = static_cast<std::uint8_t>(k);
  }
  return symbols;
}

TEST(Rans, RoundTripsAndApproachesTheEntropy) {
  for (int alphabet : {1, 2, 9, 65}) {
    for (std::size_t count : {std::size_t(0), std::size_t(1), std::size_t(1000), std::size_t(200000)}) {
      auto symbols = skewed_symbols(count, alphabet, alphabet * 1000 + count);
      auto table = build_frequency_table(symbols.data(), symbols.size(), alphabet);
      ASSERT_EQ(table.cumulative.back(), 1u << FrequencyTable::kPrecisionBits);
      auto stream = rans_encode(symbols.data(), symbols.size(), table);
      std::vector<std::uint8_t> decoded(count);
      rans_decode(decoded.data(), count, stream, table);
      EXPECT_EQ(decoded, symbols);
      if (count >= 100000) {
        // 12-bit frequencies cost ≤ ~0.5% over the entropy for these
        // distributions; the 4-byte final state is the fixed overhead.
        double entropy = empirical_entropy_bits(symbols.data(), count, alphabet);
        EXPECT_LE(8.0 * stream.size(), entropy * 1.005 + 64) << "alphabet " << alphabet;
      }
    }
  }
}

TEST(Rans, RejectsTruncatedOrAlteredStreams) {
  auto symbols = skewed_symbols(5000, 9, 1);
  auto table = build_frequency_table(symbols.data(), symbols.size(), 9);
  auto stream = rans_encode(symbols.data(), symbols.size(), table);
  std::vector<std::uint8_t> decoded(symbols.size());
  auto truncated = stream;
  truncated.resize(stream.size() / 2);
  EXPECT_THROW(rans_decode(decoded.data(), decoded.size(), truncated, table), InputError);
  EXPECT_THROW(rans_decode(decoded.data(), decoded.size(), std::vector<std::uint8_t>{1, 2}, table), InputError);
  auto extended = stream;
  extended.push_back(0);
  EXPECT_THROW(rans_decode(decoded.data(), decoded.size(), extended, table), InputError);
}

}  // namespace
}  // namespace llcpress::lattice
