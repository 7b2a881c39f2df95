// Row-major Eigen views over raw float buffers, shared by the CPU ops. All our
// activations are row-major (token rows × features) like the checkpoint's
// [out, in] weights, so every GEMM is a product of such maps, possibly
// transposed; Eigen packs them itself, no copies are made here.
#pragma once

#include <Eigen/Core>
#include <cstdint>

namespace llcpress::ops {

using RowMajorMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixMap = Eigen::Map<RowMajorMatrix>;
using ConstMatrixMap = Eigen::Map<const RowMajorMatrix>;
// A block of columns inside a wider row-major buffer (one head's q, k or v
// inside the fused QKV rows): consecutive rows are `stride` floats apart.
using StridedMatrixMap = Eigen::Map<RowMajorMatrix, 0, Eigen::OuterStride<>>;
using ConstStridedMatrixMap = Eigen::Map<const RowMajorMatrix, 0, Eigen::OuterStride<>>;
using VectorMap = Eigen::Map<Eigen::VectorXf>;
using ConstVectorMap = Eigen::Map<const Eigen::VectorXf>;
using ArrayMap = Eigen::Map<Eigen::ArrayXf>;
using ConstArrayMap = Eigen::Map<const Eigen::ArrayXf>;

// Column chunks for per-feature reductions over rows (bias and layer-norm
// weight gradients): each thread owns whole chunks, so sums need no atomics
// and their order — hence the result — does not depend on the thread count.
inline constexpr int kColumnChunk = 64;

}  // namespace llcpress::ops
