// The GPU SVD (cuSOLVER gesvdj in double, loaded at run time) against the
// host path of the svd method (compress/svd.h: Eigen's BDCSVD in double).
// GPU-only: cuSOLVER is a library call, out of the emulation's reach.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "compress/method.h"
#include "compress/svd.h"
#include "core/rng.h"  // before the CUDA headers: Random123 picks its host path
#include "cuda/cuda_backend.h"
#include "cuda/cusolver_library.h"
#include "cuda/svd_factorize.h"
#include "kernel_test_support.h"
#include "model/parameters.h"

namespace llcpress::cuda::test {
namespace {

// The run-time loader needs no GPU, only the toolkit's libcusolver (present
// wherever CUDA is built, CI included): every symbol the SVD calls must bind.
TEST(CusolverLibrary, LoadsAndBindsEverySymbolWithoutAGpu) {
  const CusolverLibrary& library = cusolver_library();
  EXPECT_FALSE(library.path.empty());
  EXPECT_NE(library.create, nullptr);
  EXPECT_NE(library.destroy, nullptr);
  EXPECT_NE(library.set_stream, nullptr);
  EXPECT_NE(library.create_gesvdj_info, nullptr);
  EXPECT_NE(library.destroy_gesvdj_info, nullptr);
  EXPECT_NE(library.dgesvdj_buffer_size, nullptr);
  EXPECT_NE(library.dgesvdj, nullptr);
  EXPECT_STREQ(cusolver_status_name(CUSOLVER_STATUS_INVALID_VALUE), "CUSOLVER_STATUS_INVALID_VALUE");
}

struct Shape {
  std::int64_t rows, cols;
};

class CudaSvdFactorize : public ::testing::TestWithParam<Shape> {};

TEST_P(CudaSvdFactorize, SingularValuesAndReconstructionMatchHostSvd) {
  LLC_SKIP_WITHOUT_DEVICE();
  const Shape shape = GetParam();
  const std::int64_t rank = std::min(shape.rows, shape.cols);
  const std::vector<float> matrix = random_normal(static_cast<std::size_t>(shape.rows * shape.cols), 70, 0.02f);
  const compress::TruncatedSvd host(matrix, shape.rows, shape.cols);

  DeviceVector<float> dev_matrix(matrix), dev_left(static_cast<std::size_t>(shape.rows * rank)),
      dev_s(static_cast<std::size_t>(rank)), dev_right(static_cast<std::size_t>(shape.cols * rank));
  svd_factorize_forward(dev_left.data(), dev_s.data(), dev_right.data(), dev_matrix.data(), shape.rows, shape.cols);
  const std::vector<float> s = dev_s.download(), left = dev_left.download(), right = dev_right.download();

  // Singular values: both sides factorise the same fp32 matrix in double
  // (backward error ~ c·n·2⁻⁵³·‖A‖, Weyl: each σ_i moves by at most that),
  // then round σ_i to float (≤ ½ ulp = 2⁻²⁴·σ_i each): |Δσ_i| ≤ 2·2⁻²⁴·σ_i +
  // 64·n·2⁻⁵³·σ_max (c = 64 generous for Jacobi and divide-and-conquer).
  const double sigma_max = host.singular_values()(0);
  const double n = static_cast<double>(std::max(shape.rows, shape.cols));
  for (std::int64_t i = 0; i < rank; ++i) {
    const double expected = host.singular_values()(i);
    const double bound = 2.0 * std::ldexp(1.0, -24) * expected + 64.0 * n * std::ldexp(1.0, -53) * sigma_max;
    EXPECT_NEAR(s[i], expected, bound) << "sigma " << i;
  }
  // The best rank-k approximations, at a quarter, half and full rank: the
  // factors agree to fp32 rounding (a Gaussian matrix's singular gaps keep the
  // subspaces well conditioned), and each entry is a k-term product sum:
  // nmse within the fp32 √k bound of kernel_test_support.h.
  for (const std::int64_t k : {rank / 4, rank / 2, rank}) {
    std::vector<float> expected(matrix.size()), actual(matrix.size(), 0.0f);
    host.reconstruct(expected, k);
    for (std::int64_t i = 0; i < shape.rows; ++i)
      for (std::int64_t j = 0; j < shape.cols; ++j) {
        double sum = 0;
        for (std::int64_t c = 0; c < k; ++c)
          sum += static_cast<double>(left[i * rank + c]) * static_cast<double>(right[j * rank + c]);
        actual[i * shape.cols + j] = static_cast<float>(sum);
      }
    EXPECT_LE(nmse(actual, expected), nmse_tolerance(Precision::Fp32, static_cast<double>(k), 2)) << "rank " << k;
  }
}

// Pythia-14m's attention projection (128 × 384 fused QKV: wide) and MLP
// down projection (128 × 512 stored as out × in: 128 rows), a tall matrix,
// and a square one.
INSTANTIATE_TEST_SUITE_P(Shapes, CudaSvdFactorize,
                         ::testing::Values(Shape{384, 128}, Shape{128, 512}, Shape{300, 70}, Shape{96, 96}),
                         [](const auto& info) {
                           return test_name({{"rows", info.param.rows}, {"cols", info.param.cols}});
                         });

// The svd method end to end on the CUDA backend (factors from cuSOLVER in
// device memory, each point one backend GEMM) against the same method on the
// CPU (Eigen factors, host reconstruction), at several kept fractions.
// Tolerance: as the reconstructions above, with k up to the full rank 96.
TEST(CudaSvdFactorize, SvdMethodOnCudaMatchesCpu) {
  LLC_SKIP_WITHOUT_DEVICE();
  ParameterTable table;
  table.add("a.weight", {96, 160}, TensorRole::Linear, 0);
  table.add("a.bias", {96}, TensorRole::Bias, 0);
  table.add("b.weight", {200, 64}, TensorRole::Linear, 0);
  const std::vector<float> reference = random_normal(table.total_size(), 71, 0.02f);  // (total parameters)
  const compress::MethodOptions options;                                              // tensors = linear
  auto cpu_method = compress::make_method("svd", options);
  auto gpu_method = compress::make_method("svd", options);
  cpu_method->prepare(table, reference);
  cpu_method->prepare_backend(backend::default_backend(), reference);
  CudaBackend cuda_backend(0);
  backend::Buffer<float> device_reference(cuda_backend, reference.size()), device_out(cuda_backend, reference.size());
  device_reference.upload(reference);
  gpu_method->prepare(table, reference);
  gpu_method->prepare_backend(cuda_backend, {device_reference.data(), reference.size()});
  for (const double kept : {0.0, 0.1, 0.5, 0.9, 1.0}) {
    std::vector<float> expected(reference.size()), actual(reference.size());
    cpu_method->apply(expected, reference, kept);
    gpu_method->apply(cuda_backend, {device_out.data(), reference.size()}, {device_reference.data(), reference.size()},
                      kept);
    device_out.download(actual);
    EXPECT_LE(nmse(actual, expected), nmse_tolerance(Precision::Fp32, 96.0, 2)) << "kept " << kept;
  }
}

TEST(CudaSvdFactorize, RefusesSizesBeyondInt32) {
  LLC_SKIP_WITHOUT_DEVICE();
  EXPECT_THROW(svd_factorize_forward(nullptr, nullptr, nullptr, nullptr, 1LL << 20, 1LL << 12), BackendError);
}

}  // namespace
}  // namespace llcpress::cuda::test
