// llcpress sweep --checkpoint DIR --data PREFIX --method NAME [--eps 0.3,0.5,0.7]
//                [method keys] [--sequences A:B] [--seq-len T] [--batch B]
//                [--llc λ] [--out FILE.h5] [--json]
// One compression sweep on one checkpoint (docs/compression.md): the held-out
// loss L0, the loss-vs-amount curve of one method, and the critical amount at
// each tolerance ε (the most compression with loss ≤ L0 + ε).
#include <omp.h>

#include <algorithm>
#include <iostream>

#include "cli/subcommand.h"
#include "compress/sweep.h"
#include "compress/sweep_io.h"
#include "core/check.h"
#include "core/log.h"
#include "core/version.h"
#include "formats/checkpoint.h"
#include "formats/megatron.h"
#include "io/provenance.h"
#include "model/gpt_neox.h"
#include "model/neox_loss_model.h"
#include "pipeline/task_options.h"

namespace llcpress::cli {
namespace {

int run_sweep_command(int argc, char** argv) {
  const std::string methods = compress::method_names("|");
  po::options_description options("sweep options");
  options.add_options()("checkpoint", po::value<std::string>()->required(),
                        "checkpoint directory (config.json + weights)")(
      "data", po::value<std::string>()->required(),
      "Megatron dataset prefix of HELD-OUT data (PREFIX.idx + PREFIX.bin), e.g. <suite>/data/heldout")(
      "method", po::value<std::string>()->required(), ("compression method: " + methods).c_str())(
      "sequences", po::value<std::string>()->default_value(""),
      "held-out sequences A:B (B exclusive); default 0:min(128, N). Keep it fixed across checkpoints and methods")(
      "seq-len", po::value<int>()->default_value(0),
      "tokens predicted per sequence (0: the first sequence's length - 1, at most max_position_embeddings)")(
      "batch", po::value<int>()->default_value(8), "sequences per forward pass")(
      "llc", po::value<double>(), "λ̂ of this checkpoint: records the predicted bits (λ/d)·log2(1/ε)")(
      "out", po::value<std::string>()->default_value(""), "write the results to this HDF5 file")(
      "json", po::bool_switch(), "print the results as JSON on stdout");
  // The compression keys: the option table (pipeline/task_options.cpp), as in job files.
  auto parsed = parse_task_options("sweep", "--checkpoint DIR --data PREFIX --method " + methods + " [options]",
                                   options, compression_option_table(), argc, argv);
  if (!parsed) return 0;
  const auto& vm = parsed->values;
  const int batch = vm["batch"].as<int>();
  LLC_CHECK(batch >= 1, ConfigError, "--batch", "use a batch of at least one sequence", "batch {} < 1", batch);

  compress::SweepConfig config = parsed->settings;
  config.method = vm["method"].as<std::string>();
  compress::find_method(config.method);  // an unknown name fails before any loading
  if (vm.count("llc")) config.llc = vm["llc"].as<double>();

  const std::string checkpoint_path = vm["checkpoint"].as<std::string>(), data_prefix = vm["data"].as<std::string>();
  const formats::Checkpoint checkpoint = formats::Checkpoint::open(checkpoint_path);
  const formats::MegatronDataset dataset = formats::MegatronDataset::open(data_prefix);
  LLC_CHECK(dataset.num_sequences() > 0, InputError, data_prefix, "use a dataset with at least one sequence",
            "the dataset is empty");
  std::string range = vm["sequences"].as<std::string>();
  if (range.empty()) range = fmt::format("0:{}", std::min<std::size_t>(128, dataset.num_sequences()));
  std::vector<std::int64_t> samples = compress::parse_sample_range(range, "--sequences");
  LLC_CHECK(static_cast<std::size_t>(samples.back()) < dataset.num_sequences(), ConfigError, "--sequences",
            fmt::format("the dataset has {} sequences", dataset.num_sequences()), "range {} is out of bounds", range);
  int seq_len = vm["seq-len"].as<int>();
  if (seq_len == 0)
    seq_len = std::min(dataset.sequence_length(static_cast<std::size_t>(samples.front())) - 1,
                       checkpoint.config().max_position_embeddings);
  LLC_CHECK(seq_len >= 1, ConfigError, "--seq-len", "choose --seq-len >= 1 (sequences need seq-len + 1 tokens)",
            "sequence length {} is too short", seq_len);
  config.options.num_heads = checkpoint.config().num_attention_heads;

  const int max_batch = static_cast<int>(std::min<std::size_t>(samples.size(), static_cast<std::size_t>(batch)));
  auto model = GptNeox::from_checkpoint(checkpoint, max_batch, seq_len, backend::compute_backend());
  NeoxLossModel loss_model(*model, dataset, seq_len);
  const std::string content_hash = checkpoint.content_hash();

  nlohmann::json resolved = {{"command", "sweep"},
                             {"checkpoint", checkpoint_path},
                             {"checkpoint_content_hash", content_hash},
                             {"data", data_prefix},
                             {"sequences", range},
                             {"seq_len", seq_len},
                             {"batch", max_batch},
                             {"threads", omp_get_max_threads()},
                             {"compute_backend", model->backend().description()},
                             {"method", config.method},
                             {"eps", config.epsilons},
                             {"options", config.options.to_json()},
                             {"llc", config.llc ? nlohmann::json(*config.llc) : nlohmann::json(nullptr)},
                             {"git_revision", git_revision()}};
  spdlog::info("sweep: resolved configuration {}", resolved.dump());

  compress::SweepResult result = compress::run_sweep(loss_model, config, samples, static_cast<std::size_t>(max_batch));
  nlohmann::json json = compress::to_json(result);
  json["resolved_config"] = resolved;

  const std::string out = vm["out"].as<std::string>();
  if (!out.empty()) {
    io::File file = io::File::create_atomic(out);
    io::write_provenance(file.root(), resolved.dump());
    file.root().set_attribute("checkpoint", checkpoint_path);
    file.root().set_attribute("checkpoint_content_hash", content_hash);
    file.root().set_attribute("data", data_prefix);
    file.root().set_attribute("seed", static_cast<std::int64_t>(config.options.seed));
    io::Group group = file.root().require_group("result");
    compress::write_sweep(group, result);
    file.commit();
    spdlog::info("sweep: wrote {}", out);
  }
  if (vm["json"].as<bool>()) {
    print_json(json);
  } else {
    std::cout << compress::format_criticals(result);
  }
  return 0;
}

}  // namespace

LLCPRESS_SUBCOMMAND("sweep", "critical compression (quantization, SVD, noise, pruning, lattice) of one checkpoint",
                    run_sweep_command)

}  // namespace llcpress::cli
