#include "lattice/entropy_coder.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"

namespace llcpress::lattice {

namespace {
constexpr std::uint32_t kLowerBound = 1u << 23;  // rANS state lives in [L, 256·L)
constexpr std::uint32_t kTotal = 1u << FrequencyTable::kPrecisionBits;
}  // namespace

FrequencyTable build_frequency_table(const std::uint8_t* symbols, std::size_t count, int alphabet_size) {
  LLC_REQUIRE(alphabet_size >= 1 && alphabet_size <= 256, "alphabet size {}", alphabet_size);
  std::vector<std::uint64_t> counts(alphabet_size, 0);
  for (std::size_t i = 0; i < count; ++i) {
    LLC_REQUIRE(symbols[i] < alphabet_size, "symbol {} outside alphabet {}", symbols[i], alphabet_size);
    ++counts[symbols[i]];
  }
  FrequencyTable table;
  table.frequency.assign(alphabet_size, 0);
  if (count == 0) {
    table.frequency[0] = kTotal;
  } else {
    std::int64_t assigned = 0;
    for (int s = 0; s < alphabet_size; ++s) {
      if (counts[s] == 0) continue;
      double share = static_cast<double>(counts[s]) * kTotal / static_cast<double>(count);
      table.frequency[s] = std::max<std::uint32_t>(1, static_cast<std::uint32_t>(std::llround(share)));
      assigned += table.frequency[s];
    }
    // Give or take the rounding difference from the largest entries (which
    // stay ≥ 1: there are at most 256 symbols and 4096 slots).
    while (assigned != kTotal) {
      int largest =
          static_cast<int>(std::max_element(table.frequency.begin(), table.frequency.end()) - table.frequency.begin());
      if (assigned > kTotal) {
        std::int64_t take = std::min<std::int64_t>(assigned - kTotal, table.frequency[largest] - 1);
        LLC_REQUIRE(take > 0, "cannot normalise frequencies");
        table.frequency[largest] -= static_cast<std::uint32_t>(take);
        assigned -= take;
      } else {
        table.frequency[largest] += static_cast<std::uint32_t>(kTotal - assigned);
        assigned = kTotal;
      }
    }
  }
  table.cumulative.assign(alphabet_size + 1, 0);
  for (int s = 0; s < alphabet_size; ++s) table.cumulative[s + 1] = table.cumulative[s] + table.frequency[s];
  return table;
}

std::vector<std::uint8_t> rans_encode(const std::uint8_t* symbols, std::size_t count, const FrequencyTable& table) {
  std::vector<std::uint8_t> reversed;
  reversed.reserve(count / 2 + 8);
  std::uint32_t state = kLowerBound;
  // rANS is last-in first-out: encode backwards so the decoder reads forwards.
  for (std::size_t i = count; i-- > 0;) {
    std::uint32_t frequency = table.frequency[symbols[i]];
    LLC_REQUIRE(frequency > 0, "symbol {} has zero frequency", symbols[i]);
    std::uint32_t state_max = ((kLowerBound >> FrequencyTable::kPrecisionBits) << 8) * frequency;
    while (state >= state_max) {
      reversed.push_back(static_cast<std::uint8_t>(state & 0xff));
      state >>= 8;
    }
    state =
        ((state / frequency) << FrequencyTable::kPrecisionBits) + (state % frequency) + table.cumulative[symbols[i]];
  }
  for (int b = 0; b < 4; ++b) {
    reversed.push_back(static_cast<std::uint8_t>(state & 0xff));
    state >>= 8;
  }
  return std::vector<std::uint8_t>(reversed.rbegin(), reversed.rend());
}

void rans_decode(std::uint8_t* symbols, std::size_t count, const std::vector<std::uint8_t>& stream,
                 const FrequencyTable& table) {
  LLC_CHECK(stream.size() >= 4, InputError, "rANS stream", "the stream was truncated", "stream has {} bytes < 4",
            stream.size());
  // Slot → symbol lookup.
  std::vector<std::uint8_t> symbol_of_slot(kTotal);
  for (int s = 0; s < table.alphabet_size(); ++s)
    for (std::uint32_t slot = table.cumulative[s]; slot < table.cumulative[s + 1]; ++slot)
      symbol_of_slot[slot] = static_cast<std::uint8_t>(s);
  std::size_t position = 0;
  std::uint32_t state = 0;
  for (int b = 0; b < 4; ++b) state = (state << 8) | stream[position++];
  for (std::size_t i = 0; i < count; ++i) {
    std::uint32_t slot = state & (kTotal - 1);
    std::uint8_t symbol = symbol_of_slot[slot];
    symbols[i] = symbol;
    state = table.frequency[symbol] * (state >> FrequencyTable::kPrecisionBits) + slot - table.cumulative[symbol];
    while (state < kLowerBound) {
      LLC_CHECK(position < stream.size(), InputError, "rANS stream", "the stream was truncated",
                "stream ended after {} of {} symbols", i + 1, count);
      state = (state << 8) | stream[position++];
    }
  }
  LLC_CHECK(position == stream.size() && state == kLowerBound, InputError, "rANS stream",
            "the stream does not match its frequency table", "inconsistent stream (trailing bytes or final state)");
}

double empirical_entropy_bits(const std::uint8_t* symbols, std::size_t count, int alphabet_size) {
  std::vector<std::uint64_t> counts(alphabet_size, 0);
  for (std::size_t i = 0; i < count; ++i) ++counts[symbols[i]];
  double bits = 0;
  for (auto c : counts)
    if (c > 0) bits -= static_cast<double>(c) * std::log2(static_cast<double>(c) / static_cast<double>(count));
  return bits;
}

}  // namespace llcpress::lattice
