#include "model/ops/attention.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/check.h"
#include "model/ops/eigen_maps.h"

namespace llcpress::ops {

AttentionWorkspace::AttentionWorkspace(int max_seq_len)
    : threads_(std::max(1, omp_get_max_threads())), max_seq_len_(max_seq_len) {
  LLC_REQUIRE(max_seq_len > 0, "max_seq_len {}", max_seq_len);
  buffer_.assign(static_cast<std::size_t>(threads_) * 2 * block_floats(), 0.0f);
}

namespace {

// Where head `head` of sequence `sequence` starts, for q (part 0), k (1), v (2).
inline const float* head_part(const float* qkv, std::int64_t sequence, int seq_len, int row_width, int head,
                              int head_dim, int part) {
  return qkv + sequence * seq_len * row_width + static_cast<std::int64_t>(head) * 3 * head_dim +
         static_cast<std::int64_t>(part) * head_dim;
}

}  // namespace

void attention_forward(float* output, float* row_log_sum_exp, const float* qkv, std::int64_t batch, int seq_len,
                       int heads, int head_dim, AttentionWorkspace& workspace) {
  LLC_REQUIRE(seq_len <= workspace.max_seq_len(), "seq_len {} > workspace {}", seq_len, workspace.max_seq_len());
  const int row_width = 3 * heads * head_dim;  // qkv row
  const int hidden = heads * head_dim;         // output row
  // torch multiplies q·kᵀ by head_dim^-0.5 after the product; so do we.
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  const int blocks = (seq_len + kQueryBlock - 1) / kQueryBlock;
  const std::int64_t tasks = batch * heads * blocks;
#pragma omp parallel num_threads(workspace.threads())
  {
    float* probabilities_buffer = workspace.probabilities(omp_get_thread_num());
    // Later query blocks see more keys, so hand tasks out dynamically.
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t task = 0; task < tasks; ++task) {
      const std::int64_t sequence = task / (static_cast<std::int64_t>(heads) * blocks);
      const int head = static_cast<int>((task / blocks) % heads);
      const int block = static_cast<int>(task % blocks);
      const int first_row = block * kQueryBlock;
      const int rows = std::min(seq_len, first_row + kQueryBlock) - first_row;
      const int keys = first_row + rows;  // causal: no query in this block sees a key past its last row
      const ConstStridedMatrixMap q(head_part(qkv, sequence, seq_len, row_width, head, head_dim, 0) +
                                        static_cast<std::int64_t>(first_row) * row_width,
                                    rows, head_dim, Eigen::OuterStride<>(row_width));  // (rows, d)
      const ConstStridedMatrixMap k(head_part(qkv, sequence, seq_len, row_width, head, head_dim, 1), keys, head_dim,
                                    Eigen::OuterStride<>(row_width));  // (keys, d)
      const ConstStridedMatrixMap v(head_part(qkv, sequence, seq_len, row_width, head, head_dim, 2), keys, head_dim,
                                    Eigen::OuterStride<>(row_width));  // (keys, d)
      MatrixMap probabilities(probabilities_buffer, rows, keys);       // (rows, keys)
      probabilities.noalias() = q * k.transpose();
      float* lse = row_log_sum_exp + (sequence * heads + head) * seq_len + first_row;  // (rows)
      for (int i = 0; i < rows; ++i) {
        const int visible = first_row + i + 1;
        auto row = probabilities.row(i).array();
        auto scores = row.head(visible);
        scores *= scale;
        const float max_score = scores.maxCoeff();
        scores = (scores - max_score).exp();
        const float sum = scores.sum();
        scores *= 1.0f / sum;
        if (visible < keys) row.tail(keys - visible).setZero();
        lse[i] = max_score + std::log(sum);
      }
      StridedMatrixMap out(
          output + (sequence * seq_len + first_row) * hidden + static_cast<std::int64_t>(head) * head_dim, rows,
          head_dim, Eigen::OuterStride<>(hidden));  // (rows, d)
      out.noalias() = probabilities * v;
    }
  }
}

void attention_backward(float* d_qkv, const float* d_output, const float* output, const float* row_log_sum_exp,
                        const float* qkv, std::int64_t batch, int seq_len, int heads, int head_dim,
                        AttentionWorkspace& workspace) {
  LLC_REQUIRE(seq_len <= workspace.max_seq_len(), "seq_len {} > workspace {}", seq_len, workspace.max_seq_len());
  const int row_width = 3 * heads * head_dim;
  const int hidden = heads * head_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  const int blocks = (seq_len + kQueryBlock - 1) / kQueryBlock;
  const std::int64_t tasks = batch * heads;
#pragma omp parallel num_threads(workspace.threads())
  {
    float* probabilities_buffer = workspace.probabilities(omp_get_thread_num());
    float* d_scores_buffer = workspace.d_scores(omp_get_thread_num());
    // One task per (sequence, head): its dk and dv sum over all query blocks,
    // so a single thread owns them (no atomics, deterministic order).
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t task = 0; task < tasks; ++task) {
      const std::int64_t sequence = task / heads;
      const int head = static_cast<int>(task % heads);
      const float* lse_row = row_log_sum_exp + (sequence * heads + head) * seq_len;  // (seq_len)
      float* d_head = d_qkv + sequence * seq_len * row_width + static_cast<std::int64_t>(head) * 3 * head_dim;
      StridedMatrixMap dk_all(d_head + head_dim, seq_len, head_dim, Eigen::OuterStride<>(row_width));      // (T, d)
      StridedMatrixMap dv_all(d_head + 2 * head_dim, seq_len, head_dim, Eigen::OuterStride<>(row_width));  // (T, d)
      dk_all.setZero();
      dv_all.setZero();
      for (int block = 0; block < blocks; ++block) {
        const int first_row = block * kQueryBlock;
        const int rows = std::min(seq_len, first_row + kQueryBlock) - first_row;
        const int keys = first_row + rows;
        const std::int64_t row_offset = static_cast<std::int64_t>(first_row) * row_width;
        const ConstStridedMatrixMap q(head_part(qkv, sequence, seq_len, row_width, head, head_dim, 0) + row_offset,
                                      rows, head_dim, Eigen::OuterStride<>(row_width));  // (rows, d)
        const ConstStridedMatrixMap k(head_part(qkv, sequence, seq_len, row_width, head, head_dim, 1), keys, head_dim,
                                      Eigen::OuterStride<>(row_width));  // (keys, d)
        const ConstStridedMatrixMap v(head_part(qkv, sequence, seq_len, row_width, head, head_dim, 2), keys, head_dim,
                                      Eigen::OuterStride<>(row_width));  // (keys, d)
        const std::int64_t out_offset =
            (sequence * seq_len + first_row) * hidden + static_cast<std::int64_t>(head) * head_dim;
        const ConstStridedMatrixMap out(output + out_offset, rows, head_dim,
                                        Eigen::OuterStride<>(hidden));  // (rows, d)
        const ConstStridedMatrixMap d_out(d_output + out_offset, rows, head_dim,
                                          Eigen::OuterStride<>(hidden));                              // (rows, d)
        StridedMatrixMap dq(d_head + row_offset, rows, head_dim, Eigen::OuterStride<>(row_width));    // (rows, d)
        StridedMatrixMap dk(d_head + head_dim, keys, head_dim, Eigen::OuterStride<>(row_width));      // (keys, d)
        StridedMatrixMap dv(d_head + 2 * head_dim, keys, head_dim, Eigen::OuterStride<>(row_width));  // (keys, d)

        // Recompute the probabilities P = exp(scale·q·kᵀ − lse) of this block.
        MatrixMap probabilities(probabilities_buffer, rows, keys);  // (rows, keys)
        probabilities.noalias() = q * k.transpose();
        for (int i = 0; i < rows; ++i) {
          const int visible = first_row + i + 1;
          auto row = probabilities.row(i).array();
          row.head(visible) = (row.head(visible) * scale - lse_row[first_row + i]).exp();
          if (visible < keys) row.tail(keys - visible).setZero();
        }
        dv.noalias() += probabilities.transpose() * d_out;
        // dS = P ⊙ (dP − rowsum(dP ⊙ P)) and rowsum(dP ⊙ P) = dO · O per row.
        MatrixMap d_scores(d_scores_buffer, rows, keys);  // (rows, keys)
        d_scores.noalias() = d_out * v.transpose();
        for (int i = 0; i < rows; ++i) {
          const float row_dot = d_out.row(i).dot(out.row(i));
          d_scores.row(i).array() = probabilities.row(i).array() * (d_scores.row(i).array() - row_dot) * scale;
        }
        dq.noalias() = d_scores * k;
        dk.noalias() += d_scores.transpose() * q;
      }
    }
  }
}

}  // namespace llcpress::ops
