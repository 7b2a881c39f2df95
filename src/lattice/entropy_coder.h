// Static rANS (Duda's asymmetric numeral systems, byte-wise renormalisation as
// in Giesen's rans_byte) for the small alphabets of scale indices. The
// frequency table is part of the message: its bits are counted by
// FrequencyTable::description_bits(), the coded stream by 8·bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace llcpress::lattice {

struct FrequencyTable {
  static constexpr int kPrecisionBits = 12;  // frequencies sum to 2^12
  std::vector<std::uint32_t> frequency;      // [alphabet]
  std::vector<std::uint32_t> cumulative;     // [alphabet + 1]

  int alphabet_size() const { return static_cast<int>(frequency.size()); }
  // Bits to send the table: each frequency in kPrecisionBits + 1 bits (a lone
  // symbol has frequency 2^12) plus 32 bits for the stream length.
  std::int64_t description_bits() const { return alphabet_size() * (kPrecisionBits + 1) + 32; }
};

// Frequencies proportional to the symbol counts, every present symbol ≥ 1,
// summing to 2^12. Symbols must be < alphabet_size (≤ 256). An empty input
// gives a table with all mass on symbol 0.
FrequencyTable build_frequency_table(const std::uint8_t* symbols, std::size_t count, int alphabet_size);

// Encodes symbols[count] (each must have nonzero frequency).
std::vector<std::uint8_t> rans_encode(const std::uint8_t* symbols, std::size_t count, const FrequencyTable& table);

// Decodes `count` symbols; throws InputError if the stream is truncated or inconsistent.
void rans_decode(std::uint8_t* symbols, std::size_t count, const std::vector<std::uint8_t>& stream,
                 const FrequencyTable& table);

// count · H(empirical distribution) in bits: what an ideal entropy coder would spend.
double empirical_entropy_bits(const std::uint8_t* symbols, std::size_t count, int alphabet_size);

}  // namespace llcpress::lattice
