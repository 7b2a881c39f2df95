#include "lattice/npy_matrix.h"

#include <cstring>
#include <fstream>
#include <limits>
#include <string>

#include "core/check.h"

namespace llcpress::lattice {

namespace {

const char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicSize = 6;

// The value of `key` in the header dict: the text after "'key':" up to the
// next top-level ',' or '}' (tuples kept whole).
std::string dict_value(const std::string& header, const std::string& key, const std::string& where) {
  std::size_t at = header.find("'" + key + "'");
  LLC_CHECK(at != std::string::npos, InputError, where, "save the file with numpy.save", "npy header has no '{}' field",
            key);
  at = header.find(':', at);
  LLC_CHECK(at != std::string::npos, InputError, where, "save the file with numpy.save", "npy header is malformed");
  ++at;
  int depth = 0;
  std::size_t end = at;
  for (; end < header.size(); ++end) {
    char c = header[end];
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (depth == 0 && (c == ',' || c == '}')) break;
  }
  std::string value = header.substr(at, end - at);
  auto first = value.find_first_not_of(" \t");
  auto last = value.find_last_not_of(" \t");
  return first == std::string::npos ? std::string() : value.substr(first, last - first + 1);
}

std::int64_t parse_dimension(const std::string& text, const std::string& where) {
  LLC_CHECK(!text.empty() && text.size() <= 18 && text.find_first_not_of("0123456789") == std::string::npos, InputError,
            where, "pass a 2-D array", "bad dimension '{}' in the npy shape", text);
  return std::stoll(text);
}

}  // namespace

NpyMatrix parse_npy_matrix(const std::uint8_t* bytes, std::size_t size, const std::string& where) {
  LLC_CHECK(size >= kMagicSize + 4 && std::memcmp(bytes, kMagic, kMagicSize) == 0, InputError, where,
            "save the file with numpy.save", "not a .npy file (bad magic)");
  const int major = bytes[6];
  LLC_CHECK(major >= 1 && major <= 3, InputError, where, "save with numpy.save (format 1.0-3.0)",
            "unsupported npy version {}", major);
  std::size_t header_length, header_start;
  if (major == 1) {
    header_length = bytes[8] | (bytes[9] << 8);
    header_start = 10;
  } else {
    LLC_CHECK(size >= 12, InputError, where, "the file is truncated", "npy preamble truncated");
    header_length = static_cast<std::size_t>(bytes[8]) | (static_cast<std::size_t>(bytes[9]) << 8) |
                    (static_cast<std::size_t>(bytes[10]) << 16) | (static_cast<std::size_t>(bytes[11]) << 24);
    header_start = 12;
  }
  LLC_CHECK(header_length <= size - header_start, InputError, where, "the file is truncated",
            "npy header of {} bytes runs past the end of the {}-byte file", header_length, size);
  const std::string header(reinterpret_cast<const char*>(bytes + header_start), header_length);
  const std::string descr = dict_value(header, "descr", where);
  const std::string order = dict_value(header, "fortran_order", where);
  const std::string shape = dict_value(header, "shape", where);
  std::size_t element;
  if (descr == "'<f4'") {
    element = 4;
  } else if (descr == "'<f8'") {
    element = 8;
  } else {
    LLC_THROW(InputError, where, "convert with A.astype(numpy.float32)", "unsupported dtype {} (need '<f4' or '<f8')",
              descr);
  }
  LLC_CHECK(order == "False" || order == "True", InputError, where, "save the file with numpy.save",
            "bad fortran_order '{}'", order);
  LLC_CHECK(shape.size() >= 2 && shape.front() == '(' && shape.back() == ')', InputError, where, "pass a 2-D array",
            "bad shape '{}'", shape);
  std::string inner = shape.substr(1, shape.size() - 2);
  std::size_t comma = inner.find(',');
  LLC_CHECK(comma != std::string::npos, InputError, where, "pass a 2-D array (numpy shape (n, a))",
            "shape {} is not 2-D", shape);
  std::string first = inner.substr(0, comma), second = inner.substr(comma + 1);
  auto trim = [](std::string s) {
    auto b = s.find_first_not_of(" ,"), e = s.find_last_not_of(" ,");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
  };
  NpyMatrix matrix;
  matrix.rows = parse_dimension(trim(first), where);
  matrix.cols = parse_dimension(trim(second), where);
  LLC_CHECK(matrix.rows >= 1 && matrix.cols >= 1 && matrix.rows <= (1ll << 31) && matrix.cols <= (1ll << 31),
            InputError, where, "pass a non-empty 2-D array", "shape {} x {}", matrix.rows, matrix.cols);
  const std::size_t count = static_cast<std::size_t>(matrix.rows) * static_cast<std::size_t>(matrix.cols);
  const std::size_t data_start = header_start + header_length;
  LLC_CHECK(count <= (size - data_start) / element && count * element == size - data_start, InputError, where,
            "the file is truncated or has trailing bytes",
            "expected {} bytes of data after the header, the file has {}", count * element, size - data_start);
  matrix.values.resize(count);
  const std::uint8_t* data = bytes + data_start;
  const bool fortran = order == "True";
  for (std::size_t i = 0; i < count; ++i) {
    float value;
    if (element == 4) {
      std::memcpy(&value, data + 4 * i, 4);
    } else {
      double wide;
      std::memcpy(&wide, data + 8 * i, 8);
      value = static_cast<float>(wide);
    }
    std::size_t target = i;
    if (fortran) {  // element i is (row i % rows, column i / rows)
      std::size_t row = i % static_cast<std::size_t>(matrix.rows), col = i / static_cast<std::size_t>(matrix.rows);
      target = row * static_cast<std::size_t>(matrix.cols) + col;
    }
    matrix.values[target] = value;
  }
  return matrix;
}

NpyMatrix read_npy_matrix(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  LLC_CHECK(file.good(), IoError, path.string(), "check the path", "cannot open the matrix file");
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  return parse_npy_matrix(bytes.data(), bytes.size(), path.string());
}

void write_npy_matrix(const std::filesystem::path& path, const float* values, std::int64_t rows, std::int64_t cols) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                       std::to_string(cols) + "), }";
  // Pad with spaces so that the data starts at a multiple of 64, newline-terminated.
  std::size_t total = kMagicSize + 4 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  std::ofstream file(path, std::ios::binary);
  LLC_CHECK(file.good(), IoError, path.string(), "check the directory exists and is writable",
            "cannot create the matrix file");
  file.write(kMagic, kMagicSize);
  const char version[2] = {1, 0};
  file.write(version, 2);
  const std::uint16_t length = static_cast<std::uint16_t>(header.size());
  const char length_bytes[2] = {static_cast<char>(length & 0xff), static_cast<char>(length >> 8)};
  file.write(length_bytes, 2);
  file.write(header.data(), static_cast<std::streamsize>(header.size()));
  file.write(reinterpret_cast<const char*>(values), static_cast<std::streamsize>(sizeof(float) * rows * cols));
  LLC_CHECK(file.good(), IoError, path.string(), "check free disk space", "writing the matrix file failed");
}

}  // namespace llcpress::lattice
