#include "formats/megatron.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "core/check.h"
#include "formats/atomic_file.h"

namespace llcpress::formats {

namespace {

constexpr char kMagic[9] = {'M', 'M', 'I', 'D', 'I', 'D', 'X', '\0', '\0'};
constexpr std::size_t kHeaderBytes = 9 + 8 + 1 + 8 + 8;  // magic, version, dtype code, N, M
constexpr const char* kCodeList = "1 u8, 2 i8, 3 i16, 4 i32, 5 i64, 6 f32, 7 f64, 8 u16";
constexpr const char* kNotMegatron =
    "is this a Megatron MMapIndexedDataset .idx? regenerate it with the preprocessing tool";

template <typename T>
T load(std::span<const std::byte> bytes, std::size_t index) {
  T value;
  std::memcpy(&value, bytes.data() + index * sizeof(T), sizeof(T));
  return value;
}

// Header fields and where the three arrays live inside the .idx.
struct IndexLayout {
  DType dtype = DType::U16;
  std::uint64_t num_sequences = 0, num_doc_idx = 0;
  std::span<const std::byte> sizes, pointers, doc_idx;
};

std::string uint128_string(unsigned __int128 value) {
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(value % 10)));
    value /= 10;
  } while (value != 0);
  return digits;
}

std::string printable_magic(std::span<const std::byte> bytes) {
  std::string text;
  for (std::byte byte : bytes) {
    auto c = static_cast<unsigned char>(byte);
    text += (c >= 0x20 && c < 0x7F && c != '\\' && c != '"') ? std::string(1, static_cast<char>(c))
                                                             : fmt::format("\\x{:02x}", c);
  }
  return text;
}

IndexLayout parse_layout(std::span<const std::byte> idx, const std::string& where) {
  LLC_CHECK(idx.size() >= sizeof(kMagic), InputError, where, kNotMegatron,
            "file is {} bytes, too short for the 9-byte magic (truncated?)", idx.size());
  LLC_CHECK(std::memcmp(idx.data(), kMagic, sizeof(kMagic)) == 0, InputError, where, kNotMegatron,
            "wrong magic \"{}\": a Megatron index starts with \"MMIDIDX\\x00\\x00\"",
            printable_magic(idx.first(sizeof(kMagic))));
  LLC_CHECK(idx.size() >= kHeaderBytes, InputError, where, "the file is probably truncated; regenerate it",
            "file is {} bytes, too short for the {}-byte header (truncated?)", idx.size(), kHeaderBytes);
  const auto version = load<std::uint64_t>(idx.subspan(9), 0);
  LLC_CHECK(version == 1, InputError, where, "only version 1 of the MMapIndexedDataset format is supported",
            "unsupported index version {}", version);
  const auto code = static_cast<std::uint8_t>(idx[17]);
  auto dtype = megatron_dtype_from_code(code);
  LLC_CHECK(dtype.has_value(), InputError, where, kNotMegatron, "unknown dtype code {} (known codes: {})", code,
            kCodeList);

  IndexLayout layout;
  layout.dtype = *dtype;
  layout.num_sequences = load<std::uint64_t>(idx.subspan(18), 0);
  layout.num_doc_idx = load<std::uint64_t>(idx.subspan(26), 0);
  // Sizes in 128-bit arithmetic: N and M come from the file and may be huge.
  const std::size_t available = idx.size() - kHeaderBytes;
  const unsigned __int128 needed = static_cast<unsigned __int128>(layout.num_sequences) * (4 + 8) +
                                   static_cast<unsigned __int128>(layout.num_doc_idx) * 8;
  LLC_CHECK(needed <= available, InputError, where, "the file is probably truncated; regenerate it",
            "truncated index: {} sequences and {} doc_idx entries need {} bytes of arrays (sizes, pointers, doc_idx) "
            "but only {} bytes follow the header",
            layout.num_sequences, layout.num_doc_idx, uint128_string(needed), available);
  // Bytes after doc_idx are allowed: newer Megatron-core appends per-sequence modes there.
  const std::size_t n = layout.num_sequences, m = layout.num_doc_idx;
  layout.sizes = idx.subspan(kHeaderBytes, 4 * n);
  layout.pointers = idx.subspan(kHeaderBytes + 4 * n, 8 * n);
  layout.doc_idx = idx.subspan(kHeaderBytes + 12 * n, 8 * m);
  return layout;
}

// Checks sequence i's length and pointer against the .bin; returns its byte
// range. `bin_name` names the token file in messages.
std::pair<std::uint64_t, std::uint64_t> check_sequence(const IndexLayout& layout, std::size_t i, std::size_t bin_size,
                                                       const std::string& where, const std::string& bin_name) {
  const auto length = load<std::int32_t>(layout.sizes, i);
  const auto pointer = load<std::int64_t>(layout.pointers, i);
  LLC_CHECK(length >= 0, InputError, where, kNotMegatron, "sequence {} has negative length {}", i, length);
  LLC_CHECK(pointer >= 0, InputError, where, kNotMegatron, "sequence {} has negative byte pointer {}", i, pointer);
  const std::uint64_t nbytes = static_cast<std::uint64_t>(length) * dtype_size(layout.dtype);
  const auto begin = static_cast<std::uint64_t>(pointer);
  LLC_CHECK(begin <= bin_size && nbytes <= bin_size - begin, InputError, where,
            "the .bin does not belong to this .idx or is truncated",
            "sequence {} (byte pointer {}, {} tokens of {} = {} bytes) runs past the end of {} ({} bytes)", i, pointer,
            length, dtype_name(layout.dtype), nbytes, bin_name, bin_size);
  return {begin, nbytes};
}

void check_entries(const IndexLayout& layout, std::size_t bin_size, const std::string& where,
                   const std::string& bin_name) {
  for (std::size_t i = 0; i < layout.num_sequences; ++i) check_sequence(layout, i, bin_size, where, bin_name);
  // doc_idx holds sequence indices where documents start, ending with N: a
  // non-decreasing list inside [0, N].
  std::int64_t previous = 0;
  for (std::size_t j = 0; j < layout.num_doc_idx; ++j) {
    const auto value = load<std::int64_t>(layout.doc_idx, j);
    LLC_CHECK(value >= 0 && static_cast<std::uint64_t>(value) <= layout.num_sequences, InputError, where, kNotMegatron,
              "doc_idx[{}] = {} is outside [0, {}] (the number of sequences)", j, value, layout.num_sequences);
    LLC_CHECK(value >= previous, InputError, where, kNotMegatron,
              "doc_idx is not non-decreasing: doc_idx[{}] = {} after {}", j, value, previous);
    previous = value;
  }
}

template <typename T>
void visit_values(std::span<const std::byte> bytes, auto&& visitor) {
  const std::size_t count = bytes.size() / sizeof(T);
  for (std::size_t k = 0; k < count; ++k) visitor(load<T>(bytes, k));
}

// Calls visitor(int64 token) for every token in `bytes`; floating-point tokens
// must hold integers (they are token ids stored in a float dtype).
template <typename Visitor>
void visit_tokens(DType dtype, std::span<const std::byte> bytes, const std::string& where, std::size_t sequence,
                  Visitor&& visitor) {
  auto from_float = [&](double value) {
    // 2^63 is the first double outside int64; the range check also rejects NaN.
    LLC_CHECK(value >= -9.2233720368547758e18 && value < 9.2233720368547758e18 && std::trunc(value) == value,
              InputError, where, "token ids must be integers", "sequence {} holds the non-integer token {}", sequence,
              value);
    visitor(static_cast<std::int64_t>(value));
  };
  switch (dtype) {
    case DType::U8:
      visit_values<std::uint8_t>(bytes, visitor);
      return;
    case DType::I8:
      visit_values<std::int8_t>(bytes, visitor);
      return;
    case DType::I16:
      visit_values<std::int16_t>(bytes, visitor);
      return;
    case DType::U16:
      visit_values<std::uint16_t>(bytes, visitor);
      return;
    case DType::I32:
      visit_values<std::int32_t>(bytes, visitor);
      return;
    case DType::I64:
      visit_values<std::int64_t>(bytes, visitor);
      return;
    case DType::F32:
      visit_values<float>(bytes, from_float);
      return;
    case DType::F64:
      visit_values<double>(bytes, from_float);
      return;
    default:
      LLC_REQUIRE(false, "dtype {} has no Megatron code", dtype_name(dtype));
  }
}

}  // namespace

std::optional<DType> megatron_dtype_from_code(std::uint8_t code) {
  switch (code) {
    case 1:
      return DType::U8;
    case 2:
      return DType::I8;
    case 3:
      return DType::I16;
    case 4:
      return DType::I32;
    case 5:
      return DType::I64;
    case 6:
      return DType::F32;
    case 7:
      return DType::F64;
    case 8:
      return DType::U16;
    default:
      return std::nullopt;
  }
}

std::uint8_t megatron_code_from_dtype(DType dtype) {
  for (std::uint8_t code = 1; code <= 8; ++code)
    if (megatron_dtype_from_code(code) == dtype) return code;
  LLC_THROW(InputError, "", fmt::format("use one of {}", kCodeList), "dtype {} has no Megatron dtype code",
            dtype_name(dtype));
}

void MegatronDataset::validate_index(std::span<const std::byte> idx, std::size_t bin_size, const std::string& where) {
  check_entries(parse_layout(idx, where), bin_size, where, "the .bin");
}

MegatronDataset MegatronDataset::open(const std::string& prefix, IndexCheck check) {
  MegatronDataset dataset;
  dataset.prefix_ = prefix;
  dataset.idx_ = MappedFile(prefix + ".idx");
  dataset.bin_ = MappedFile(prefix + ".bin");
  const IndexLayout layout = parse_layout(dataset.idx_.bytes(), dataset.idx_.path());
  if (check == IndexCheck::Full) check_entries(layout, dataset.bin_.size(), dataset.idx_.path(), dataset.bin_.path());
  dataset.dtype_ = layout.dtype;
  dataset.num_sequences_ = layout.num_sequences;
  dataset.num_doc_idx_ = layout.num_doc_idx;
  dataset.sizes_ = layout.sizes;
  dataset.pointers_ = layout.pointers;
  dataset.doc_idx_ = layout.doc_idx;
  return dataset;
}

std::int32_t MegatronDataset::sequence_length(std::size_t i) const {
  LLC_CHECK(i < num_sequences_, InputError, idx_.path(), "", "sequence {} out of range (the dataset has {})", i,
            num_sequences_);
  return load<std::int32_t>(sizes_, i);
}

std::int64_t MegatronDataset::sequence_pointer(std::size_t i) const {
  LLC_CHECK(i < num_sequences_, InputError, idx_.path(), "", "sequence {} out of range (the dataset has {})", i,
            num_sequences_);
  return load<std::int64_t>(pointers_, i);
}

std::int64_t MegatronDataset::doc_idx(std::size_t j) const {
  LLC_CHECK(j < num_doc_idx_, InputError, idx_.path(), "", "doc_idx entry {} out of range (the index has {})", j,
            num_doc_idx_);
  return load<std::int64_t>(doc_idx_, j);
}

std::vector<std::int64_t> MegatronDataset::doc_idx() const {
  std::vector<std::int64_t> values(num_doc_idx_);
  if (!values.empty()) std::memcpy(values.data(), doc_idx_.data(), doc_idx_.size());
  return values;
}

std::uint64_t MegatronDataset::total_tokens() const {
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < num_sequences_; ++i) {
    // Negative lengths only survive IndexCheck::Structure; they count as nothing here and fail on read.
    total += static_cast<std::uint64_t>(std::max<std::int32_t>(0, load<std::int32_t>(sizes_, i)));
  }
  return total;
}

std::span<const std::byte> MegatronDataset::sequence_bytes(std::size_t i) const {
  LLC_CHECK(i < num_sequences_, InputError, idx_.path(), "", "sequence {} out of range (the dataset has {})", i,
            num_sequences_);
  IndexLayout layout;
  layout.dtype = dtype_;
  layout.num_sequences = num_sequences_;
  layout.sizes = sizes_;
  layout.pointers = pointers_;
  auto [begin, nbytes] = check_sequence(layout, i, bin_.size(), idx_.path(), bin_.path());
  return bin_.bytes().subspan(begin, nbytes);
}

void MegatronDataset::read_tokens(std::size_t i, std::int64_t begin, std::span<std::int32_t> out) const {
  auto bytes = sequence_bytes(i);
  const std::size_t item = dtype_size(dtype_);
  const std::size_t length = bytes.size() / item;
  LLC_CHECK(begin >= 0 && static_cast<std::uint64_t>(begin) <= length && out.size() <= length - begin, InputError,
            idx_.path(), "", "tokens [{}, {}) requested from sequence {} of length {}", begin,
            begin + static_cast<std::int64_t>(out.size()), i, length);
  std::size_t next = 0;
  visit_tokens(dtype_, bytes.subspan(begin * item, out.size() * item), bin_.path(), i, [&](std::int64_t token) {
    LLC_CHECK(token >= std::numeric_limits<std::int32_t>::min() && token <= std::numeric_limits<std::int32_t>::max(),
              InputError, bin_.path(), "token ids must fit in 32 bits", "sequence {} holds token {}", i, token);
    out[next++] = static_cast<std::int32_t>(token);
  });
}

std::vector<std::int32_t> MegatronDataset::sequence(std::size_t i) const {
  std::vector<std::int32_t> tokens(static_cast<std::size_t>(std::max(0, sequence_length(i))));
  read_tokens(i, 0, tokens);
  return tokens;
}

std::pair<std::int64_t, std::int64_t> MegatronDataset::token_range(std::size_t first, std::size_t count) const {
  std::int64_t smallest = std::numeric_limits<std::int64_t>::max();
  std::int64_t largest = std::numeric_limits<std::int64_t>::min();
  bool any = false;
  const std::size_t last = first >= num_sequences_ ? first : first + std::min(count, num_sequences_ - first);
  for (std::size_t i = first; i < last; ++i) {
    visit_tokens(dtype_, sequence_bytes(i), bin_.path(), i, [&](std::int64_t token) {
      smallest = std::min(smallest, token);
      largest = std::max(largest, token);
      any = true;
    });
  }
  if (!any) return {0, -1};
  return {smallest, largest};
}

void write_megatron(const std::string& prefix, const std::vector<std::vector<std::int64_t>>& sequences, DType dtype,
                    std::vector<std::int64_t> doc_idx) {
  const std::uint8_t code = megatron_code_from_dtype(dtype);
  const std::size_t item = dtype_size(dtype);
  const std::string idx_path = prefix + ".idx", bin_path = prefix + ".bin";
  if (doc_idx.empty()) {
    doc_idx.resize(sequences.size() + 1);
    for (std::size_t j = 0; j < doc_idx.size(); ++j) doc_idx[j] = static_cast<std::int64_t>(j);
  }

  std::vector<std::int32_t> sizes;
  std::vector<std::int64_t> pointers;
  std::vector<std::byte> tokens;
  std::int64_t pointer = 0;
  for (std::size_t i = 0; i < sequences.size(); ++i) {
    const auto& sequence = sequences[i];
    LLC_CHECK(sequence.size() <= static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()), InputError,
              bin_path, "split the sequence", "sequence {} has {} tokens; the format stores lengths as int32", i,
              sequence.size());
    sizes.push_back(static_cast<std::int32_t>(sequence.size()));
    pointers.push_back(pointer);
    for (std::int64_t token : sequence) {
      std::byte stored[8];
      // Store the narrowed value, then compare it with the token: a token that
      // does not survive the round trip does not fit the dtype.
      auto store = [&](auto value) {
        std::memcpy(stored, &value, sizeof(value));
        if constexpr (std::is_floating_point_v<decltype(value)>) {
          const double widened = value;  // exact: float and double hold every float exactly
          return widened >= -9.2233720368547758e18 && widened < 9.2233720368547758e18 &&
                 static_cast<std::int64_t>(widened) == token;
        } else {
          return static_cast<std::int64_t>(value) == token;
        }
      };
      bool exact = false;
      switch (dtype) {
        case DType::U8:
          exact = store(static_cast<std::uint8_t>(token));
          break;
        case DType::I8:
          exact = store(static_cast<std::int8_t>(token));
          break;
        case DType::I16:
          exact = store(static_cast<std::int16_t>(token));
          break;
        case DType::U16:
          exact = store(static_cast<std::uint16_t>(token));
          break;
        case DType::I32:
          exact = store(static_cast<std::int32_t>(token));
          break;
        case DType::I64:
          exact = store(token);
          break;
        case DType::F32:
          exact = store(static_cast<float>(token));
          break;
        case DType::F64:
          exact = store(static_cast<double>(token));
          break;
        default:
          LLC_REQUIRE(false, "dtype {} has a code but no writer", dtype_name(dtype));
      }
      LLC_CHECK(exact, InputError, bin_path, "choose a wider dtype", "token {} of sequence {} does not fit {}", token,
                i, dtype_name(dtype));
      tokens.insert(tokens.end(), stored, stored + item);
    }
    pointer += static_cast<std::int64_t>(sequence.size() * item);
  }
  std::int64_t previous = 0;
  for (std::int64_t value : doc_idx) {
    LLC_CHECK(value >= previous && static_cast<std::uint64_t>(value) <= sequences.size(), InputError, idx_path, "",
              "doc_idx must be non-decreasing inside [0, {}]", sequences.size());
    previous = value;
  }

  AtomicFileWriter bin(bin_path);
  bin.write(tokens);
  AtomicFileWriter idx(idx_path);
  const std::uint64_t version = 1, num_sequences = sequences.size(), num_doc_idx = doc_idx.size();
  idx.write(kMagic, sizeof(kMagic));
  idx.write(&version, 8);
  idx.write(&code, 1);
  idx.write(&num_sequences, 8);
  idx.write(&num_doc_idx, 8);
  idx.write(sizes.data(), sizes.size() * sizeof(std::int32_t));
  idx.write(pointers.data(), pointers.size() * sizeof(std::int64_t));
  idx.write(doc_idx.data(), doc_idx.size() * sizeof(std::int64_t));
  // The .bin first: a reader that finds the new .idx also finds its tokens.
  bin.commit();
  idx.commit();
}

}  // namespace llcpress::formats
