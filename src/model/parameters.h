// All parameters of a model live in one flat fp32 buffer; a table of named
// views (checkpoint tensor names, shapes, offsets) says which range is which.
// SGLD, noise, quantization and checkpoint I/O are single loops over the
// buffer or over the table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace llcpress {

enum class TensorRole : std::uint8_t {
  Embedding,    // gpt_neox.embed_in.weight
  Unembedding,  // embed_out.weight
  Linear,       // a linear layer's weight matrix [out, in]
  Bias,
  Norm,  // layer-norm weight or bias
  Other,
};

struct ParameterView {
  std::string name;                 // checkpoint tensor name
  std::vector<std::int64_t> shape;  // as in the checkpoint, row-major
  std::size_t offset = 0;           // in floats, into the flat buffer
  std::size_t size = 0;             // numel
  TensorRole role = TensorRole::Other;
  int layer = -1;  // transformer layer index, -1 outside the layers
  std::int64_t rows() const { return shape.empty() ? 1 : shape[0]; }
  std::int64_t cols() const { return shape.size() < 2 ? 1 : shape[1]; }
};

class ParameterTable {
 public:
  // Appends a view at the current end of the buffer and returns it.
  const ParameterView& add(std::string name, std::vector<std::int64_t> shape, TensorRole role, int layer = -1);
  const std::vector<ParameterView>& views() const { return views_; }
  std::size_t total_size() const { return total_size_; }
  const ParameterView* find(const std::string& name) const;  // nullptr when absent
  const ParameterView& at(const std::string& name) const;    // throws InputError when absent

  template <typename T>
  std::span<T> slice(std::span<T> buffer, const ParameterView& view) const {
    return buffer.subspan(view.offset, view.size);
  }

 private:
  std::vector<ParameterView> views_;
  std::size_t total_size_ = 0;
};

}  // namespace llcpress
