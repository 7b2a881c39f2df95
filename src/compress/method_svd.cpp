// The "svd" method: truncated SVD of each selected matrix at a kept fraction
// of its singular values (factorised once in prepare()).
#include <algorithm>
#include <cmath>

#include "compress/method_common.h"
#include "compress/svd.h"
#include "core/check.h"
#include "core/log.h"
#include "core/timer.h"

namespace llcpress::compress {

namespace {

// ---------------------------------------------------------------- truncated SVD

class SvdMethod final : public CompressionMethod {
 public:
  using CompressionMethod::CompressionMethod;

  // Selects the matrices; the factorisation waits for prepare_backend(),
  // which knows where the points will be applied.
  void prepare(const ParameterTable& table, std::span<const float> reference) override {
    matrices_.clear();
    host_factors_.clear();
    device_factors_.clear();
    device_backend_ = nullptr;
    host_reference_ = reference;
    max_rank_ = 1;
    for (const ParameterView* view : require_selection(options_, table, info_.name)) {
      // Vectors (biases, norms) have no rank to truncate: left as they are.
      if (view->shape.size() != 2 || view->rows() < 2 || view->cols() < 2) continue;
      matrices_.push_back(view);
      max_rank_ = std::max(max_rank_, full_rank(*view));
    }
    LLC_CHECK(!matrices_.empty(), ConfigError, "tensors", "select linear weights (--tensors linear)",
              "svd: the selection '{}' contains no matrix", options_.tensors.to_string());
  }

  // On a device backend that has svd_factorize_forward (CUDA: cuSOLVER),
  // the factors are computed and kept in device memory and every point is
  // one GEMM per matrix there; otherwise (the CPU, or a device backend
  // without the op) the host path: Eigen in double, factors in host memory.
  void prepare_backend(backend::Backend& backend, std::span<const float> reference) override {
    Stopwatch watch;
    if (backend.memory_space() != backend::MemorySpace::Host) {
      try {
        factorise_on_device(backend, reference);
        spdlog::debug("svd: factorised {} matrices on {} in {:.2f} s", matrices_.size(), backend.name(),
                      watch.seconds());
        return;
      } catch (const backend::UnsupportedOp& unsupported) {
        spdlog::debug("svd: {}; factorising on the host", unsupported.what());
        device_factors_.clear();
        device_backend_ = nullptr;
      }
    }
    factorise_on_host();
    spdlog::debug("svd: factorised {} matrices in {:.2f} s", matrices_.size(), watch.seconds());
  }

  SearchAxis axis() const override {
    // Resolution half a rank step of the largest matrix: the bisection ends
    // on the exact rank at which the loss crosses the threshold.
    return {.least = 1,
            .most = 0,
            .integer = false,
            .log_scale = false,
            .start = 0.5,
            .initial_step = 0.125,
            .resolution = 0.5 / static_cast<double>(max_rank_)};
  }

  // Device factors: out's slice = left_scaled[:, :k] · right[:, :k]ᵀ, one
  // backend GEMM per matrix, nothing crosses to the host. Host factors: each
  // truncated matrix is computed in a host array (Eigen) and uploaded over
  // its slice of `out`.
  void apply(backend::Backend& backend, std::span<float> out, std::span<const float> reference, double parameter,
             int) const override {
    LLC_CHECK(parameter >= 0 && parameter <= 1, ConfigError, "kept_fraction", "use a fraction in [0, 1]",
              "svd: kept fraction {} is out of range", parameter);
    copy_reference(backend, out, reference);
    if (device_backend_ == &backend) {
      for (std::size_t t = 0; t < matrices_.size(); ++t) {
        const ParameterView& view = *matrices_[t];
        const std::int64_t full = full_rank(view), rank = kept_rank(parameter, full);
        if (rank == full) continue;  // exact identity (the copy)
        float* slice = out.data() + view.offset;
        if (rank == 0) {
          backend.zero(slice, static_cast<std::int64_t>(view.size));
          continue;
        }
        const DeviceFactors& factors = device_factors_[t];
        backend.gemm(slice, factors.left_scaled.data(), factors.right.data(), view.rows(), view.cols(), rank,
                     backend::Transpose::No, backend::Transpose::Yes, 1.0f, 0.0f, full, full, view.cols());
      }
      return;
    }
    factorise_on_host();      // a no-op after prepare_backend(); host callers may skip that
    std::vector<float> host;  // (rows, cols) of the matrix being reconstructed
    for (std::size_t t = 0; t < matrices_.size(); ++t) {
      const ParameterView& view = *matrices_[t];
      std::int64_t rank = kept_rank(parameter, host_factors_[t].full_rank());
      if (rank == host_factors_[t].full_rank()) continue;  // exact identity (the copy)
      host.resize(view.size);
      host_factors_[t].reconstruct(host, rank);
      backend.upload(out.data() + view.offset, host.data(), view.size * sizeof(float));
    }
  }

  double effective_parameter(double parameter) const override {
    double kept = 0, total = 0;
    for (const ParameterView* view : matrices_) {
      kept += static_cast<double>(kept_rank(parameter, full_rank(*view)));
      total += static_cast<double>(full_rank(*view));
    }
    return kept / total;
  }

  std::size_t compressed_count() const override { return total_size(matrices_); }

 private:
  // Factors of one matrix in a device backend's memory (see
  // Backend::svd_factorize_forward), r = min(rows, cols).
  struct DeviceFactors {
    backend::Buffer<float> left_scaled;      // (rows, r) columns U_i·s_i
    backend::Buffer<float> singular_values;  // (r) descending
    backend::Buffer<float> right;            // (cols, r) columns V_i
  };

  static std::int64_t full_rank(const ParameterView& view) { return std::min<std::int64_t>(view.rows(), view.cols()); }

  void factorise_on_device(backend::Backend& backend, std::span<const float> reference) {
    device_factors_.clear();
    for (const ParameterView* view : matrices_) {
      const auto rank = static_cast<std::size_t>(full_rank(*view));
      DeviceFactors factors{backend::Buffer<float>(backend, static_cast<std::size_t>(view->rows()) * rank),
                            backend::Buffer<float>(backend, rank),
                            backend::Buffer<float>(backend, static_cast<std::size_t>(view->cols()) * rank)};
      backend.svd_factorize_forward(factors.left_scaled.data(), factors.singular_values.data(), factors.right.data(),
                                    reference.data() + view->offset, view->rows(), view->cols());
      device_factors_.push_back(std::move(factors));
    }
    device_backend_ = &backend;
  }

  // Once per prepare(): the factors are reused for every kept fraction.
  // Const because apply() may be the first to need them; the sweep calls
  // apply() from one thread.
  void factorise_on_host() const {
    if (!host_factors_.empty()) return;
    for (const ParameterView* view : matrices_)
      host_factors_.emplace_back(host_reference_.subspan(view->offset, view->size), view->rows(), view->cols());
  }

  std::vector<const ParameterView*> matrices_;
  std::span<const float> host_reference_;  // prepare()'s host copy of w* (outlives the method)
  mutable std::vector<TruncatedSvd> host_factors_;
  std::vector<DeviceFactors> device_factors_;
  const backend::Backend* device_backend_ = nullptr;  // whose memory device_factors_ live in
  std::int64_t max_rank_ = 1;
};

}  // namespace

std::unique_ptr<CompressionMethod> make_svd_method(MethodInfo info, const MethodOptions& options) {
  return std::make_unique<SvdMethod>(std::move(info), options);
}

}  // namespace llcpress::compress
