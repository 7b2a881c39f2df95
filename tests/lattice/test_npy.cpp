// .npy matrices: round trip, Fortran order, float64, and malformed files.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "lattice/npy_matrix.h"

namespace llcpress::lattice {
namespace {

std::vector<std::uint8_t> npy_bytes(const std::string& header_dict, const std::vector<std::uint8_t>& data) {
  std::string header = header_dict;
  std::size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  // One allocation filled in place: GCC 12's -Warray-bounds misreads
  // vector::insert of a string range after a braced initialiser (a false
  // positive inside stl_algobase.h), and this form says the same bytes.
  const std::uint8_t magic[] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, static_cast<std::uint8_t>(header.size() & 0xff),
                                static_cast<std::uint8_t>(header.size() >> 8)};
  std::vector<std::uint8_t> bytes(sizeof(magic) + header.size() + data.size());
  std::memcpy(bytes.data(), magic, sizeof(magic));
  std::memcpy(bytes.data() + sizeof(magic), header.data(), header.size());
  if (!data.empty()) std::memcpy(bytes.data() + sizeof(magic) + header.size(), data.data(), data.size());
  return bytes;
}

template <typename T>
std::vector<std::uint8_t> raw(const std::vector<T>& values) {
  std::vector<std::uint8_t> out(values.size() * sizeof(T));
  std::memcpy(out.data(), values.data(), out.size());
  return out;
}

TEST(Npy, WriteThenReadRoundTrips) {
  auto path = std::filesystem::temp_directory_path() / "llcpress_test_npy_roundtrip.npy";
  std::vector<float> values{1, 2, 3, 4, 5, 6};
  write_npy_matrix(path, values.data(), 2, 3);
  auto m = read_npy_matrix(path);
  EXPECT_EQ(m.rows, 2);
  EXPECT_EQ(m.cols, 3);
  EXPECT_EQ(m.values, values);
  std::filesystem::remove(path);
}

TEST(Npy, FortranOrderAndFloat64) {
  // Fortran order stores column by column: [[1,2,3],[4,5,6]] is 1,4,2,5,3,6.
  auto bytes = npy_bytes("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }",
                         raw(std::vector<double>{1, 4, 2, 5, 3, 6}));
  auto m = parse_npy_matrix(bytes.data(), bytes.size(), "test");
  EXPECT_EQ(m.values, (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

TEST(Npy, RejectsMalformedFiles) {
  auto good = raw(std::vector<float>(6, 1.0f));
  auto parse = [](const std::vector<std::uint8_t>& bytes) { return parse_npy_matrix(bytes.data(), bytes.size(), "t"); };
  EXPECT_THROW(parse(npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }", good)), InputError);
  EXPECT_THROW(parse(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", good)), InputError);
  EXPECT_THROW(parse(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 1), }", good)), InputError);
  EXPECT_THROW(parse(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }", good)), InputError);
  EXPECT_THROW(parse(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999), }", good)),
               InputError);
  EXPECT_THROW(parse(npy_bytes("{'descr': '<f4', 'shape': (2, 3), }", good)), InputError);
  auto truncated = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", good);
  truncated.resize(truncated.size() - 1);
  EXPECT_THROW(parse(truncated), InputError);
  std::vector<std::uint8_t> short_file{0x93, 'N', 'U'};
  EXPECT_THROW(parse(short_file), InputError);
  auto bad_length = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", good);
  bad_length[8] = 0xff;
  bad_length[9] = 0xff;
  EXPECT_THROW(parse(bad_length), InputError);
  EXPECT_THROW(read_npy_matrix("/nonexistent/file.npy"), IoError);
}

}  // namespace
}  // namespace llcpress::lattice
