#include "cuda/svd_factorize.h"

#include <algorithm>
#include <climits>

#include "core/check.h"
#include "cuda/check_cuda.h"
#include "cuda/cusolver_library.h"
#include "cuda/kernel_launch.h"
#include "cuda/scratch_buffer.h"
#include "cuda/svd_layout.h"

namespace llcpress::cuda {

namespace {

#define LLC_CHECK_CUSOLVER(call)                                                                                \
  do {                                                                                                          \
    const cusolverStatus_t llc_cusolver_status_ = (call);                                                       \
    if (llc_cusolver_status_ != CUSOLVER_STATUS_SUCCESS)                                                        \
      LLC_THROW(::llcpress::BackendError, #call, "check the matrix sizes and the GPU memory left (nvidia-smi)", \
                "cuSOLVER error {}", cusolver_status_name(llc_cusolver_status_));                               \
  } while (0)

// The handle and the Jacobi settings of one factorisation, released on every
// exit path (creating a handle costs about a millisecond: per matrix, once
// per checkpoint, it is not worth keeping).
class SolverSession {
 public:
  explicit SolverSession(const CusolverLibrary& library) : library_(library) {
    LLC_CHECK_CUSOLVER(library_.create(&handle_));
    LLC_CHECK_CUSOLVER(library_.set_stream(handle_, kernel_stream()));
    LLC_CHECK_CUSOLVER(library_.create_gesvdj_info(&parameters_));  // default tolerance (double ε), 100 sweeps
  }
  ~SolverSession() {
    if (parameters_ != nullptr) library_.destroy_gesvdj_info(parameters_);
    if (handle_ != nullptr) library_.destroy(handle_);
  }
  SolverSession(const SolverSession&) = delete;
  SolverSession& operator=(const SolverSession&) = delete;
  cusolverDnHandle_t handle() const { return handle_; }
  gesvdjInfo_t parameters() const { return parameters_; }

 private:
  const CusolverLibrary& library_;
  cusolverDnHandle_t handle_ = nullptr;
  gesvdjInfo_t parameters_ = nullptr;
};

}  // namespace

void svd_factorize_forward(float* left_scaled, float* singular_values, float* right, const float* matrix,
                           std::int64_t rows, std::int64_t cols) {
  LLC_CHECK(rows >= 1 && cols >= 1 && rows <= INT_MAX && cols <= INT_MAX && rows * cols <= INT_MAX,
            ::llcpress::BackendError, "svd_factorize_forward", "cuSOLVER's gesvdj takes 32-bit sizes",
            "cannot factorise a {}x{} matrix on the GPU", rows, cols);
  const CusolverLibrary& library = cusolver_library();
  // The row-major (rows, cols) matrix W is, read column-major, Wᵀ: m = cols
  // rows, n = rows columns, leading dimension cols. Wᵀ = U' S V'ᵀ gives
  // W = V' S U'ᵀ: W's left vectors are V' (rows × r) and its right vectors
  // U' (cols × r).
  const int m = static_cast<int>(cols), n = static_cast<int>(rows), r = std::min(m, n);
  const ScratchBuffer<double> a(static_cast<std::size_t>(m) * n);  // (n, m) row-major = (m, n) column-major
  const ScratchBuffer<double> s(static_cast<std::size_t>(r));      // (r) descending
  const ScratchBuffer<double> u(static_cast<std::size_t>(m) * r);  // (m, r) column-major: W's right vectors
  const ScratchBuffer<double> v(static_cast<std::size_t>(n) * r);  // (n, r) column-major: W's left vectors
  const ScratchBuffer<int> info(1);                                // gesvdj's convergence flag
  cast_to_double(a.data(), matrix, rows * cols);

  const SolverSession session(library);
  int work_size = 0;
  LLC_CHECK_CUSOLVER(library.dgesvdj_buffer_size(session.handle(), CUSOLVER_EIG_MODE_VECTOR, /*econ=*/1, m, n, a.data(),
                                                 m, s.data(), u.data(), m, v.data(), n, &work_size,
                                                 session.parameters()));
  const ScratchBuffer<double> work(static_cast<std::size_t>(std::max(work_size, 1)));  // (work_size)
  LLC_CHECK_CUSOLVER(library.dgesvdj(session.handle(), CUSOLVER_EIG_MODE_VECTOR, /*econ=*/1, m, n, a.data(), m,
                                     s.data(), u.data(), m, v.data(), n, work.data(), work_size, info.data(),
                                     session.parameters()));
  int host_info = 0;
  LLC_CHECK_CUDA(cudaMemcpyAsync(&host_info, info.data(), sizeof(int), cudaMemcpyDeviceToHost, kernel_stream()));
  LLC_CHECK_CUDA(cudaStreamSynchronize(kernel_stream()));
  LLC_CHECK(host_info == 0, ::llcpress::BackendError, "svd_factorize_forward",
            host_info > 0 ? "the Jacobi sweeps did not converge: check the matrix for NaN or Inf"
                          : "a bug: cuSOLVER rejected an argument",
            "cusolverDnDgesvdj on a {}x{} matrix returned info = {}", rows, cols, host_info);
  column_major_to_row_major(left_scaled, v.data(), s.data(), rows, r);
  column_major_to_row_major(right, u.data(), nullptr, cols, r);
  cast_to_float(singular_values, s.data(), r);
}

}  // namespace llcpress::cuda
