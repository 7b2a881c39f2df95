// The layout kernels around the GPU SVD against host loops: casts and the
// column-major → row-major transposition with a column scale. Each output is
// one conversion (and one double product) on both sides: bit-identical.
#include <gtest/gtest.h>

#include "cuda/svd_layout.h"
#include "kernel_test_support.h"

namespace llcpress::cuda::test {
namespace {

std::vector<double> as_double(const std::vector<float>& values) { return {values.begin(), values.end()}; }

TEST(CudaSvdLayout, CastsRoundTripAndRoundToNearest) {
  LLC_SKIP_WITHOUT_DEVICE();
  const std::vector<float> values = random_normal(1000, 60, 3.0f);  // (1000)
  DeviceVector<float> dev_values(values), dev_back(values.size());
  DeviceVector<double> dev_double(values.size());
  cast_to_double(dev_double.data(), dev_values.data(), static_cast<std::int64_t>(values.size()));
  EXPECT_EQ(dev_double.download(), as_double(values));
  // A value between two floats rounds to the nearer one, as the host cast does.
  std::vector<double> between = as_double(values);  // (1000)
  for (double& x : between) x *= 1.0 + 1e-9;
  std::vector<float> expected(between.size());
  for (std::size_t i = 0; i < between.size(); ++i) expected[i] = static_cast<float>(between[i]);
  DeviceVector<double> dev_between(between);
  cast_to_float(dev_back.data(), dev_between.data(), static_cast<std::int64_t>(between.size()));
  EXPECT_EQ(dev_back.download(), expected);
}

TEST(CudaSvdLayout, ColumnMajorToRowMajorWithColumnScale) {
  LLC_SKIP_WITHOUT_DEVICE();
  constexpr std::int64_t rows = 37, columns = 11;  // a partial block of 256 threads
  const std::vector<double> column_major = as_double(random_normal(rows * columns, 61));  // (rows, columns) col-major
  const std::vector<double> scale = as_double(random_normal(columns, 62));                // (columns)
  std::vector<float> scaled(rows * columns), plain(rows * columns);                       // (rows, columns) row-major
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < columns; ++j) {
      scaled[i * columns + j] = static_cast<float>(column_major[i + j * rows] * scale[j]);
      plain[i * columns + j] = static_cast<float>(column_major[i + j * rows]);
    }
  DeviceVector<double> dev_in(column_major), dev_scale(scale);
  DeviceVector<float> dev_out(rows * columns);
  column_major_to_row_major(dev_out.data(), dev_in.data(), dev_scale.data(), rows, columns);
  EXPECT_EQ(dev_out.download(), scaled);
  column_major_to_row_major(dev_out.data(), dev_in.data(), nullptr, rows, columns);
  EXPECT_EQ(dev_out.download(), plain);
}

}  // namespace
}  // namespace llcpress::cuda::test
