// Pruning: setting weights to zero, one at a time by magnitude (unstructured)
// or in whole units (structured: an attention head, an MLP neuron).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "model/parameters.h"

namespace llcpress::compress {

// Indices of `values` by increasing |value|; equal magnitudes in index order,
// so the pruned set never depends on the sort implementation.
std::vector<std::uint32_t> magnitude_order(std::span<const float> values);

// Zeroes the `count` smallest-magnitude entries of out (a copy of the tensor
// `order` was computed from).
void prune_smallest(std::span<float> out, std::span<const std::uint32_t> order, std::size_t count);

// One structural unit of a GPT-NeoX layer, described by the rows and columns
// it owns in the layer's tensors. Zeroing all of them removes the unit's
// contribution to the residual stream exactly:
//   head h (d = H/n):  rows [3dh, 3d(h+1)) of attention.query_key_value.{weight,bias}
//                      and columns [dh, d(h+1)) of attention.dense.weight;
//   neuron j:          row j of mlp.dense_h_to_4h.{weight,bias}
//                      and column j of mlp.dense_4h_to_h.weight.
struct RowBlock {
  const ParameterView* view;  // 2-D [rows, cols] or 1-D (a bias: cols = 1)
  std::int64_t first, count;
};
struct StructuredUnit {
  std::string label;  // "layer 3 head 1"
  int layer = -1;
  int index = 0;
  double score = 0;  // importance: units with the smallest scores go first
  std::vector<RowBlock> rows;
  std::vector<RowBlock> columns;
};

// Attention heads of every layer in `table` (tensor names as in the
// checkpoint), scored by ‖W_V,h‖_F·‖W_O,h‖_F (value rows with their bias,
// output columns): the head's output is softmax-weighted values mapped by
// W_O, so this product bounds its contribution for unit attention weights,
// while the query/key weights only move the attention pattern.
std::vector<StructuredUnit> attention_heads(const ParameterTable& table, std::span<const float> parameters,
                                            int num_heads);

// MLP neurons, scored by ‖(W_in,j, b_j)‖·‖W_out[:, j]‖: GELU is 1-Lipschitz,
// so the product bounds the neuron's output for unit-norm inputs.
std::vector<StructuredUnit> mlp_neurons(const ParameterTable& table, std::span<const float> parameters);

// Sorts units by increasing score (ties: layer, then index).
void order_by_score(std::vector<StructuredUnit>& units);

// Zeroes every row and column block of `unit` in out (the flat buffer, in
// `backend`'s memory) with the backend's zero and zero_columns.
void zero_unit(backend::Backend& backend, std::span<float> out, const StructuredUnit& unit);

}  // namespace llcpress::compress
