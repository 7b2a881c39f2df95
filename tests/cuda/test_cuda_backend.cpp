// CudaBackend through the Backend interface: registration (checked on every
// machine), memory transfers and the ops it implements against the CPU backend.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu_backend.h"
#include "core/error.h"
#include "cuda/cuda_backend.h"
#include "cuda_test_util.h"

using namespace llcpress;
using llcpress::cuda::testing::normalised_mse;

namespace {

std::vector<float> uniform(std::size_t count, std::uint32_t seed) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<float> distribution(-1.0f, 1.0f);
  std::vector<float> values(count);
  for (float& value : values) value = distribution(generator);
  return values;
}

TEST(CudaBackend, IsRegisteredAndSaysWhyItCannotRun) {
  bool found = false;
  for (const auto& entry : backend::registered_backends()) found = found || entry.name == "cuda";
  ASSERT_TRUE(found) << "the cuda backend did not register itself";
  if (cuda::device_count() > 0) GTEST_SKIP() << "a GPU is visible: the refusal is checked where there is none";
  EXPECT_EQ(cuda::cuda_backend_unavailable_reason(), "no CUDA device visible (no GPU or no NVIDIA driver)");
  try {
    backend::make_backend("cuda");
    FAIL() << "make_backend(\"cuda\") succeeded without a GPU";
  } catch (const ConfigError& error) {
    EXPECT_NE(std::string(error.what()).find("no CUDA device visible"), std::string::npos) << error.what();
  }
}

TEST(CudaBackend, TransfersCopyZeroAndAddScaledMatchTheCpuBitForBit) {
  LLC_SKIP_WITHOUT_GPU();
  cuda::CudaBackend gpu(0);
  backend::CpuBackend cpu;
  EXPECT_EQ(gpu.memory_space(), backend::MemorySpace::Device);
  const std::int64_t count = 100003;
  const std::vector<float> a = uniform(count, 1), b = uniform(count, 2);
  backend::Buffer<float> x(gpu, count), y(gpu, count), z(gpu, count);  // (count) each
  x.upload(a);
  y.upload(b);
  gpu.copy(z.data(), x.data(), count);
  gpu.add_scaled(z.data(), y.data(), 0.37f, count);  // z = a + 0.37·b
  std::vector<float> expected = a, got(count);
  cpu.add_scaled(expected.data(), b.data(), 0.37f, count);
  z.download(got);
  EXPECT_EQ(std::memcmp(got.data(), expected.data(), count * sizeof(float)), 0);
  gpu.zero(z.data() + 10, 20);
  z.download(got);
  for (int i = 10; i < 30; ++i) ASSERT_EQ(got[i], 0.0f);
  EXPECT_EQ(got[9], expected[9]);
  EXPECT_EQ(got[30], expected[30]);
  // zero_columns of a (rows, cols) matrix against the CPU's.
  const std::int64_t rows = 7, cols = 11;
  backend::Buffer<float> m(gpu, rows * cols);
  std::vector<float> host(a.begin(), a.begin() + rows * cols), host_gpu(rows * cols);
  m.upload(host);
  gpu.zero_columns(m.data(), rows, cols, 3, 4);
  cpu.zero_columns(host.data(), rows, cols, 3, 4);
  m.download(host_gpu);
  EXPECT_EQ(host_gpu, host);
}

TEST(CudaBackend, LinearThroughTheInterfaceMatchesTheCpuBackend) {
  LLC_SKIP_WITHOUT_GPU();
  cuda::CudaBackend gpu(0);
  backend::CpuBackend cpu;
  const int rows = 64, in = 48, out = 72;
  const std::vector<float> x = uniform(rows * in, 3), w = uniform(out * in, 4), bias = uniform(out, 5),
                           dy = uniform(rows * out, 6);
  backend::Buffer<float> x_gpu(gpu, rows * in), w_gpu(gpu, out * in), b_gpu(gpu, out), dy_gpu(gpu, rows * out),
      y_gpu(gpu, rows * out), dx_gpu(gpu, rows * in), dw_gpu(gpu, out * in), db_gpu(gpu, out);
  x_gpu.upload(x);
  w_gpu.upload(w);
  b_gpu.upload(bias);
  dy_gpu.upload(dy);
  gpu.linear_forward(y_gpu.data(), x_gpu.data(), w_gpu.data(), b_gpu.data(), rows, in, out, false);
  gpu.linear_backward(dx_gpu.data(), dw_gpu.data(), db_gpu.data(), dy_gpu.data(), x_gpu.data(), w_gpu.data(), rows, in,
                      out);
  std::vector<float> y(rows * out), dx(rows * in), dw(out * in), db(out);
  cpu.linear_forward(y.data(), x.data(), w.data(), bias.data(), rows, in, out, false);
  cpu.linear_backward(dx.data(), dw.data(), db.data(), dy.data(), x.data(), w.data(), rows, in, out);
  auto as_double = [](const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); };
  auto downloaded = [](const backend::Buffer<float>& buffer) {
    std::vector<float> host(buffer.size());
    buffer.download(host);
    return host;
  };
  // Two fp32 results, each within the fp32 accumulation bound (test_gemm.cpp: 1e-10) of the exact one.
  EXPECT_LE(normalised_mse(downloaded(y_gpu), as_double(y)), 2e-10);
  EXPECT_LE(normalised_mse(downloaded(dx_gpu), as_double(dx)), 2e-10);
  EXPECT_LE(normalised_mse(downloaded(dw_gpu), as_double(dw)), 2e-10);
  EXPECT_LE(normalised_mse(downloaded(db_gpu), as_double(db)), 2e-10);
}

}  // namespace
