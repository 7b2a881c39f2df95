// llcpress eval --checkpoint DIR --data PREFIX [--seq-len T] [--sequences A:B]
//               [--batch B] [--threads N] [--json]
// Mean next-token cross-entropy of a GPT-NeoX checkpoint over sequences
// [A, B) of a Megatron dataset (inputs tokens[0:T], targets tokens[1:T+1] of
// each sequence), on the CPU.
#include <omp.h>

#include <algorithm>
#include <iostream>

#include "cli/device_option.h"
#include "cli/subcommand.h"
#include "core/check.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/timer.h"
#include "formats/checkpoint.h"
#include "formats/megatron.h"
#include "model/gpt_neox.h"
#include "model/token_batches.h"

namespace llcpress::cli {
namespace {

int run_eval(int argc, char** argv) {
  po::options_description options("eval options");
  options.add_options()("checkpoint", po::value<std::string>()->required(),
                        "checkpoint directory (config.json + weights), as `llcpress inspect` accepts")(
      "data", po::value<std::string>()->required(), "Megatron dataset prefix (PREFIX.idx + PREFIX.bin)")(
      "seq-len", po::value<int>()->default_value(0),
      "tokens predicted per sequence; each sequence needs seq-len + 1 tokens "
      "(0: the first selected sequence's length − 1, at most max_position_embeddings)")(
      "sequences", po::value<std::string>()->default_value(":"), "sequence range A:B (B exclusive; default: all)")(
      "batch", po::value<int>()->default_value(4),
      "sequences per forward pass (memory grows with batch · seq-len · vocab: the logits)")(
      "threads", po::value<int>()->default_value(0), "OpenMP threads (0: OMP_NUM_THREADS or all cores)")(
      "json", po::bool_switch(), "print the result as JSON on stdout");
  add_device_option(options);
  auto values = parse_options("eval", "--checkpoint DIR --data PREFIX [options]", options, argc, argv);
  if (!values) return 0;
  const auto& vm = *values;
  read_device_option(vm);
  const int threads = vm["threads"].as<int>();
  LLC_CHECK(threads >= 0, ConfigError, "--threads", "use 0 (default) or a positive count", "{} is negative", threads);
  if (threads > 0) omp_set_num_threads(threads);
  const int batch = vm["batch"].as<int>();
  LLC_CHECK(batch >= 1, ConfigError, "--batch", "use a batch of at least one sequence", "batch {} < 1", batch);

  const std::string checkpoint_path = vm["checkpoint"].as<std::string>(), data_prefix = vm["data"].as<std::string>();
  const formats::Checkpoint checkpoint = formats::Checkpoint::open(checkpoint_path);
  const formats::MegatronDataset dataset = formats::MegatronDataset::open(data_prefix);
  LLC_CHECK(dataset.num_sequences() > 0, InputError, data_prefix, "use a dataset with at least one sequence",
            "the dataset is empty");
  const auto [first, last] = parse_sequence_range(vm["sequences"].as<std::string>(), dataset.num_sequences());
  int seq_len = vm["seq-len"].as<int>();
  if (seq_len == 0) seq_len = std::min(dataset.sequence_length(first) - 1, checkpoint.config().max_position_embeddings);
  LLC_CHECK(seq_len >= 1, ConfigError, "--seq-len", "choose --seq-len >= 1 (sequences need seq-len + 1 tokens)",
            "sequence length {} is too short", seq_len);

  const std::size_t count = last - first;
  const int max_batch = static_cast<int>(std::min<std::size_t>(count, static_cast<std::size_t>(batch)));
  auto model = GptNeox::from_checkpoint(checkpoint, max_batch, seq_len, backend::compute_backend());
  spdlog::info(
      "eval: {} ({} weights, {:.3f} M parameters), {} sequences {}:{} of {}, seq_len {}, batch {}, "
      "{} threads, {:.0f} MiB of activations",
      checkpoint_path, checkpoint.weights_format(), model->num_parameters() / 1e6, count, first, last, data_prefix,
      seq_len, max_batch, omp_get_max_threads(), model->activation_bytes() / 1048576.0);

  const TokenBatches batches(dataset, seq_len);
  std::vector<std::int32_t> tokens(static_cast<std::size_t>(max_batch) * (seq_len + 1));
  Stopwatch stopwatch;
  Progress progress("eval", count);
  double loss_sum = 0.0;  // Σ over sequences of each sequence's mean loss
  for (std::size_t begin = first; begin < last; begin += static_cast<std::size_t>(max_batch)) {
    const std::size_t size = std::min<std::size_t>(static_cast<std::size_t>(max_batch), last - begin);
    std::span<std::int32_t> window(tokens.data(), size * (seq_len + 1));
    batches.read_range(begin, size, window);
    loss_sum += model->forward(window.data(), static_cast<int>(size), seq_len) * static_cast<double>(size);
    progress.update(begin + size - first,
                    fmt::format("loss {:.4f}", loss_sum / static_cast<double>(begin + size - first)));
  }
  progress.finish();
  const double seconds = stopwatch.seconds();
  const double loss = loss_sum / static_cast<double>(count);
  const std::uint64_t predicted = static_cast<std::uint64_t>(count) * static_cast<std::uint64_t>(seq_len);

  if (vm["json"].as<bool>()) {
    print_json({{"checkpoint", checkpoint_path},
                {"data", data_prefix},
                {"sequences", {first, last}},
                {"seq_len", seq_len},
                {"batch", max_batch},
                {"threads", omp_get_max_threads()},
                {"compute_backend", model->backend().description()},
                {"loss", loss},
                {"tokens", predicted},
                {"seconds", seconds},
                {"tokens_per_second", static_cast<double>(predicted) / seconds}});
  } else {
    std::cout << fmt::format("loss {:.6f}  ({} sequences {}:{}, {} predicted tokens, {:.2f} s, {:.0f} tokens/s)\n",
                             loss, count, first, last, predicted, seconds, static_cast<double>(predicted) / seconds);
  }
  return 0;
}

}  // namespace

LLCPRESS_SUBCOMMAND("eval", "mean next-token loss of a checkpoint on a token dataset (cpu or cuda)", run_eval)

}  // namespace llcpress::cli
