// GPT-NeoX (Pythia) on any backend, exactly as Hugging Face transformers computes
// it in fp32 (REFERENCE.md §1): embedding, L layers of
//   parallel residual   x ← x + Attn(LN₁(x)) + MLP(LN₂(x))
//   sequential residual x ← x + Attn(LN₁(x));  x ← x + MLP(LN₂(x))
// with per-head-interleaved fused QKV, partial rotate-half rotary, causal
// softmax attention and GELU, then a final layer norm and an untied
// unembedding. forward() returns the mean next-token cross-entropy of a token
// batch; backward() writes d(mean loss)/d(parameters) into a flat buffer laid
// out like parameters().
//
// Backend: every op goes through the backend::Backend& given at construction
// (backend/backend.h; the CPU backend by default); parameters, activations
// and w* are Buffers of that backend's memory. The control flow below is the
// only copy of the model for every backend.
//
// Memory: parameters live in one flat fp32 buffer (ParameterTable names the
// checkpoint tensors). Activations are allocated once, in the constructor, for
// (max_batch, max_seq_len); forward and backward allocate nothing themselves
// (Eigen's GEMM may take its packing buffers from the heap per call).
// Attention keeps O(B·heads·T), not O(B·heads·T²) (ops/attention.h).
//
// Loss head in row chunks: the final-layer-norm output goes through the
// unembedding and the cross-entropy `loss_chunk_rows` token rows at a time
// (logits chunk GEMM → cross-entropy forward, and for the gradient its
// backward → d_hidden rows and d_W_unembed accumulated), so the logits take
// chunk·V floats, never B·T·V (Pythia-160m, B·T = 8192: 1.6 GB → 0.2 GB).
// When all rows fit one chunk the arithmetic is the unchunked one, op for
// op; with several, d_W_unembed is summed chunk by chunk (GEMMs with β = 1)
// and d_hidden per chunk, which changes only the order of fp32 sums
// (tests/model/test_gpt_neox.cpp bounds it).
//
// Threads: OpenMP (omp_set_num_threads) for the element-wise ops and the
// per-head attention loop; Eigen's GEMMs use the same OpenMP pool. One object
// serves one caller at a time (forward/backward share its buffers).
//
// Determinism: with a fixed thread count, results are bitwise reproducible
// (buffers are 64-byte aligned, reductions have a fixed order, the attention
// and embedding-gradient work is split so that no two threads add into the
// same value). Different thread counts can differ in the last bits because
// Eigen's GEMM blocking depends on the thread count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "formats/checkpoint.h"
#include "model/aligned_allocator.h"
#include "model/parameters.h"

namespace llcpress {

// Throws ConfigError naming the field when `config` describes a model this
// implementation does not compute exactly (tied embeddings, attention without
// bias, rope scaling, an unknown activation, H not divisible by heads, ...).
void validate_neox_config(const formats::NeoxConfig& config, const std::string& where);

// The checkpoint tensor table of a config, in checkpoint order: embed_in, then
// per layer input_layernorm, post_attention_layernorm, attention.query_key_value,
// attention.dense, mlp.dense_h_to_4h, mlp.dense_4h_to_h (weight before bias),
// then final_layer_norm and embed_out.
ParameterTable make_neox_parameter_table(const formats::NeoxConfig& config);

// FLOPs of one forward+backward pass over batch·seq_len tokens, for benchmark
// reports: 6 · (weights in GEMMs: L·(4H² + 2H·I) + V·H) · tokens for the linear
// layers and the unembedding, plus 12 · L · H · B · T(T+1)/2 for causal
// attention (q·kᵀ and p·v over the visible (query, key) pairs, forward and
// backward). Recomputation is not counted.
double neox_training_flops(const formats::NeoxConfig& config, int batch, int seq_len);

class GptNeox {
 public:
  // Allocates parameters (zero) and activations for up to `max_batch`
  // sequences of up to `max_seq_len` tokens. Validates the config.
  // `loss_chunk_rows`: token rows per chunk of the loss head (0: the default).
  GptNeox(const formats::NeoxConfig& config, int max_batch, int max_seq_len,
          backend::Backend& backend = backend::default_backend(), int loss_chunk_rows = 0);
  // Rows per loss-head chunk by default: 1024 rows of Pythia's V = 50304 are
  // 206 MB of fp32 logits, and a GEMM of 1024 × 768 × 50304 keeps a GPU busy.
  static constexpr int kDefaultLossChunkRows = 1024;
  int loss_chunk_rows() const;
  ~GptNeox();
  GptNeox(const GptNeox&) = delete;
  GptNeox& operator=(const GptNeox&) = delete;

  // Config from the checkpoint's config.json, weights loaded.
  static std::unique_ptr<GptNeox> from_checkpoint(const formats::Checkpoint& checkpoint, int max_batch, int max_seq_len,
                                                  backend::Backend& backend = backend::default_backend());

  const formats::NeoxConfig& config() const { return config_; }
  const ParameterTable& parameter_table() const { return table_; }
  backend::Backend& backend() const { return *backend_; }
  // The flat parameters in the backend's memory (pass .data() to its ops).
  backend::Buffer<float>& parameter_buffer() { return parameters_; }
  const backend::Buffer<float>& parameter_buffer() const { return parameters_; }
  // Host view of the parameters; only for host-memory backends (throws
  // UnsupportedOp otherwise: use read_parameters / write_parameters).
  std::span<float> parameters();
  std::span<const float> parameters() const;
  // host ← parameters, parameters ← host (host.size() == num_parameters()).
  void read_parameters(std::span<float> host) const;
  void write_parameters(std::span<const float> host);
  std::size_t num_parameters() const { return parameters_.size(); }

  // w*, the model's ONE copy of the reference parameters (the runner, the
  // held-out loss of a sweep and the sampler's localization all read this
  // one): hold_reference() copies the current parameters into it (allocating
  // it the first time), restore_reference() copies it back.
  void hold_reference();
  void restore_reference();
  void release_reference();
  bool has_reference() const { return !reference_.empty(); }
  // (num_parameters) in the backend's memory.
  const float* reference_data() const;
  int max_batch() const { return max_batch_; }
  int max_seq_len() const { return max_seq_len_; }
  // A view of one named tensor inside parameters() (throws InputError when absent).
  std::span<float> parameter(const std::string& name);

  // Pythia/GPT-NeoX-style initialisation, a pure function of `seed`: every
  // weight matrix and both embeddings ~ N(0, init_std²), except the two output
  // projections of each layer (attention.dense, mlp.dense_4h_to_h), which use
  // GPT-NeoX's "wang_init" std = 2 / (L·√H) so the residual stream does not
  // grow with depth; biases 0; layer-norm weights 1 and biases 0. Tensor i is
  // filled from the Philox stream stream_id(kInitStream, i).
  void init_random(std::uint64_t seed, float init_std = 0.02f);

  // Copies every tensor of the table from `checkpoint` (upcast to fp32).
  // Validates names and shapes, and that the checkpoint's config.json (when
  // present) has the same rotary, residual, activation and epsilon settings; ignores the buffers transformers keeps in
  // some files (attention.bias, attention.masked_bias, attention.rotary_emb.inv_freq); any other unexpected tensor is
  // an InputError (it means a different model).
  void load(const formats::Checkpoint& checkpoint);
  // Writes DIRECTORY/config.json and DIRECTORY/model.safetensors (fp32, HF
  // tensor names), loadable by transformers' from_pretrained. Creates the directory.
  void save(const std::string& directory) const;

  // tokens: (batch, seq_len + 1) row-major; inputs are tokens[:, :seq_len],
  // targets tokens[:, 1:]. Returns the mean cross-entropy over batch·seq_len
  // predictions. Throws InputError for sizes above the maxima or tokens
  // outside [0, V). The tokens are copied, so the caller may reuse its buffer.
  double forward(const std::int32_t* tokens, int batch, int seq_len);
  // forward() under the name evaluation call sites read better with.
  double loss(const std::int32_t* tokens, int batch, int seq_len) { return forward(tokens, batch, seq_len); }
  // After forward(): writes (does not accumulate) d(mean loss)/d(parameters)
  // into `gradient` (size num_parameters(), in the backend's memory: a
  // Buffer of the same backend). Overwrites the logits buffer with
  // d(loss)/d(logits): logits() is valid from forward() until backward().
  void backward(std::span<float> gradient);
  // forward() and backward() in one pass: the loss head's backward runs
  // chunk by chunk right after its forward, so no logits are computed twice
  // (backward() after a forward() over several chunks recomputes each
  // chunk's logits GEMM). What NeoxLossModel::loss_and_grad calls.
  double forward_backward(const std::int32_t* tokens, int batch, int seq_len, std::span<float> gradient);

  // host ← the logits of the last forward() (batch·seq_len·V floats), any
  // backend: recomputed chunk by chunk from the kept final-layer-norm output
  // (only chunk·V logits are ever held), valid until the next forward().
  void read_logits(std::span<float> host);
  // Per-position losses (batch, seq_len) of the last forward().
  std::span<const float> token_losses() const;
  int last_batch() const { return batch_; }
  int last_seq_len() const { return seq_len_; }

  // Bytes held for activations (reported by benchmarks; the attention
  // workspace belongs to the backend: CpuBackend::workspace_bytes).
  std::size_t activation_bytes() const;

  static constexpr std::uint64_t kInitStream = 0x6e656f78696e6974ull;  // "neoxinit"

 private:
  struct Activations;
  template <typename Fill>
  void fill_tensors(Fill fill);
  // Embedding and layers up to the final layer norm (forward()'s body).
  void forward_body(const std::int32_t* tokens, int batch, int seq_len);
  // The loss head over the last forward's rows, chunk by chunk: logits and,
  // when `with_loss`, the per-row losses; when `gradient` is non-null, the
  // cross-entropy backward, d(final layer norm output) and d_W_unembed.
  // Returns the mean loss (with_loss) or 0.
  double loss_head(bool with_loss, float* gradient);
  // The rest of backward(), from d(final layer norm output) down.
  void body_backward(float* gradient);

  formats::NeoxConfig config_;
  backend::Backend* backend_;
  ParameterTable table_;
  backend::Buffer<float> parameters_;  // (num_parameters) 64-byte aligned: see aligned_allocator.h
  backend::Buffer<float> reference_;   // (num_parameters) w*, empty until hold_reference()
  int max_batch_ = 0, max_seq_len_ = 0;
  int batch_ = 0, seq_len_ = 0;  // of the last forward
  bool backward_ready_ = false;
  std::unique_ptr<Activations> activations_;
};

}  // namespace llcpress
