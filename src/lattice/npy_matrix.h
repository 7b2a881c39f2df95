// Reading and writing 2-D matrices in NumPy's .npy format (version 1–3), the
// simplest way to hand matmul-bench two factors from Python:
//   numpy.save("A.npy", A.astype(numpy.float32))   # shape (n, a)
// Accepted: little-endian float32 ('<f4') or float64 ('<f8'), C or Fortran
// order, 2-D shape. Everything is validated against the file size before any
// data is read; errors are InputError naming the file and the field.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

namespace llcpress::lattice {

struct NpyMatrix {
  std::int64_t rows = 0, cols = 0;
  std::vector<float> values;  // [rows][cols], row-major (converted to fp32)
};

NpyMatrix read_npy_matrix(const std::filesystem::path& path);
// Parses an in-memory .npy file (`where` names it in errors).
NpyMatrix parse_npy_matrix(const std::uint8_t* bytes, std::size_t size, const std::string& where);
// Writes values[rows][cols] as a version-1 '<f4' C-order file.
void write_npy_matrix(const std::filesystem::path& path, const float* values, std::int64_t rows, std::int64_t cols);

}  // namespace llcpress::lattice
