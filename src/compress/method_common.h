// Internal to src/compress: what the method files share (one file per
// method: method_quantize.cpp, method_svd.cpp, method_noise.cpp,
// method_prune.cpp, method_lattice.cpp; the table is in methods.cpp).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "compress/method.h"
#include "compress/quantizer.h"

namespace llcpress::compress {

// out = reference (the start of every apply()), both in `backend`'s memory.
void copy_reference(backend::Backend& backend, std::span<float> out, std::span<const float> reference);
// A host copy of `slice` (in `backend`'s memory): how the host algorithms
// (svd, lattice) read the tensor they change before uploading the result.
std::vector<float> download_slice(backend::Backend& backend, std::span<const float> slice);
// The selected tensors; ConfigError naming `method` when none is selected.
std::vector<const ParameterView*> require_selection(const MethodOptions& options, const ParameterTable& table,
                                                    const std::string& method);
// [rows, cols] of a tensor as the quantizer sees it: a matrix keeps its rows
// (output channels), anything else is one row.
std::pair<std::int64_t, std::int64_t> rows_and_columns(const ParameterView& view);
// The elements of the selected tensors: what compressed_count() reports for
// a method that compresses every element of its selection.
std::size_t total_size(const std::vector<const ParameterView*>& views);
// candidate < incumbent, NaN never better.
bool better(double candidate, double incumbent);

std::unique_ptr<CompressionMethod> make_quant_method(MethodInfo info, const MethodOptions& options, ClipRule rule,
                                                     bool loss_search);
std::unique_ptr<CompressionMethod> make_svd_method(MethodInfo info, const MethodOptions& options);
std::unique_ptr<CompressionMethod> make_noise_method(MethodInfo info, const MethodOptions& options, bool relative);
std::unique_ptr<CompressionMethod> make_prune_method(MethodInfo info, const MethodOptions& options);
std::unique_ptr<CompressionMethod> make_structured_prune_method(MethodInfo info, const MethodOptions& options,
                                                                bool heads);
std::unique_ptr<CompressionMethod> make_lattice_method(MethodInfo info, const MethodOptions& options);

}  // namespace llcpress::compress
