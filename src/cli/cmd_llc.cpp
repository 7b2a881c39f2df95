// llcpress llc --checkpoint DIR --data PREFIX [sampler keys] [--out FILE.h5] [--json]
// The local learning coefficient of one GPT-NeoX checkpoint: SGLD or
// RMSprop-SGLD chains around the checkpoint on minibatches of sequences of a
// Megatron dataset (REFERENCE.md §3, docs/llc.md), on the CPU or one GPU (--device).
#include <omp.h>

#include <algorithm>
#include <iostream>

#include "cli/subcommand.h"
#include "cli/tune_options.h"
#include "core/check.h"
#include "core/log.h"
#include "core/version.h"
#include "formats/checkpoint.h"
#include "formats/megatron.h"
#include "io/hdf5.h"
#include "io/provenance.h"
#include "model/gpt_neox.h"
#include "model/neox_loss_model.h"
#include "pipeline/task_options.h"
#include "slt/llc_output.h"

namespace llcpress::cli {
namespace {

int run_llc(int argc, char** argv) {
  // The sampler and chain keys: the `llc` option table (pipeline/task_options.cpp), as in job files.
  const auto& table = llc_option_table();
  po::options_description options("llc options");
  options.add_options()("checkpoint", po::value<std::string>()->required(),
                        "checkpoint directory (config.json + weights), as `llcpress inspect` accepts")(
      "data", po::value<std::string>()->required(), "Megatron dataset prefix (PREFIX.idx + PREFIX.bin)")(
      "seq-len", po::value<int>()->default_value(0),
      "tokens predicted per sequence (0: the first selected sequence's length − 1, at most "
      "max_position_embeddings)")(
      "sequences", po::value<std::string>()->default_value(":"),
      "sequence range A:B the SGLD and L_init batches are drawn from (B exclusive; default: all)")(
      "micro-batch", po::value<int>()->default_value(0),
      "sequences per forward pass (0: the whole --batch; smaller saves activation memory)")(
      "out", po::value<std::string>()->default_value(""), "write the result to this HDF5 file")(
      "json", po::bool_switch(), "print the result (with traces) as JSON on stdout");
  add_grid_options(options);
  auto parsed = parse_task_options("llc", "--checkpoint DIR --data PREFIX [options]", options, table, argc, argv);
  if (!parsed) return 0;
  const auto& vm = parsed->values;
  slt::LlcConfig config = parsed->settings;
  const bool json = vm["json"].as<bool>();

  const std::string checkpoint_path = vm["checkpoint"].as<std::string>(), data_prefix = vm["data"].as<std::string>();
  const formats::Checkpoint checkpoint = formats::Checkpoint::open(checkpoint_path);
  const formats::MegatronDataset dataset = formats::MegatronDataset::open(data_prefix);
  LLC_CHECK(dataset.num_sequences() > 0, InputError, data_prefix, "use a dataset with at least one sequence",
            "the dataset is empty");
  const auto [first, last] = parse_sequence_range(vm["sequences"].as<std::string>(), dataset.num_sequences());
  config.samples = slt::SampleRange{static_cast<std::int64_t>(first), static_cast<std::int64_t>(last)};
  int seq_len = vm["seq-len"].as<int>();
  if (seq_len == 0)
    seq_len = std::min(dataset.sequence_length(static_cast<std::size_t>(config.samples->first)) - 1,
                       checkpoint.config().max_position_embeddings);
  LLC_CHECK(seq_len >= 1, ConfigError, "--seq-len", "choose --seq-len >= 1 (sequences need seq-len + 1 tokens)",
            "sequence length {} is too short", seq_len);
  int micro_batch = vm["micro-batch"].as<int>();
  LLC_CHECK(micro_batch >= 0, ConfigError, "--micro-batch", "use 0 (the whole batch) or a positive count",
            "{} is negative", micro_batch);
  if (micro_batch == 0 || micro_batch > static_cast<int>(config.batch_size))
    micro_batch = static_cast<int>(config.batch_size);

  auto model = GptNeox::from_checkpoint(checkpoint, micro_batch, seq_len, backend::compute_backend());
  NeoxLossModel loss_model(*model, dataset, seq_len);
  const std::string content_hash = checkpoint.content_hash();
  config.progress = !json;

  nlohmann::json resolved = {{"command", "llc"},
                             {"checkpoint", checkpoint_path},
                             {"checkpoint_content_hash", content_hash},
                             {"data", data_prefix},
                             {"seq_len", seq_len},
                             {"micro_batch", micro_batch},
                             {"threads", omp_get_max_threads()},
                             {"compute_backend", model->backend().description()},
                             {"llc", slt::to_json(config)},
                             {"git_revision", git_revision()}};
  spdlog::info("llc: {} ({:.3f} M parameters), sequences {}:{} of {}, seq_len {}, {} threads", checkpoint_path,
               model->num_parameters() / 1e6, config.samples->first, config.samples->last, data_prefix, seq_len,
               omp_get_max_threads());
  spdlog::info("llc: resolved configuration {}", resolved.dump());

  // The output file with what produced it; the caller adds its group and commits.
  // (resolved is read at the call, after the estimate has resolved nβ.)
  auto create_output = [&](const std::string& path) {
    io::File file = io::File::create_atomic(path);
    io::write_provenance(file.root(), resolved.dump());
    file.root().set_attribute("checkpoint", checkpoint_path);
    file.root().set_attribute("checkpoint_content_hash", content_hash);
    file.root().set_attribute("data", data_prefix);
    file.root().set_attribute("seed", static_cast<std::int64_t>(config.seed));
    file.root().set_attribute("seq_len", static_cast<std::int64_t>(seq_len));
    return file;
  };

  if (vm["grid"].as<bool>()) {
    // Hyperparameter selection: the grid instead of one estimate.
    const slt::TuneGrid grid = read_grid_options(vm, config);
    config.progress = false;
    const slt::TuneResult tune = slt::tune_llc(loss_model, config, grid, slt::HealthRules{});
    const std::string out = vm["out"].as<std::string>();
    if (!out.empty()) {
      io::File file = create_output(out);
      io::Group group = file.root().require_group("tune");
      slt::write_tune(group, tune);
      file.commit();
      spdlog::info("llc: wrote {} (figures: python3 analysis/tune_figures.py {})", out, out);
    }
    std::cout << slt::format_tune(tune);
    return tune.recommended >= 0 ? 0 : 1;
  }

  const slt::LlcResult result = slt::estimate_llc(loss_model, config);
  resolved["llc"] = slt::to_json(result.config);  // nβ resolved

  const std::string out = vm["out"].as<std::string>();
  if (!out.empty()) {
    io::File file = create_output(out);
    io::Group group = file.root().require_group("llc");
    slt::write_llc(group, result);
    file.commit();
    spdlog::info("llc: wrote {}", out);
  }
  if (json) {
    nlohmann::json j = slt::to_json(result, true);
    j["resolved_config"] = resolved;
    print_json(j);
  } else {
    std::cout << slt::format_llc(result);
  }
  // Too few healthy chains (docs/llc.md, "Chain health"): the estimate is not usable.
  return result.chains_used > 0 && !result.failed ? 0 : 1;
}

}  // namespace

LLCPRESS_SUBCOMMAND("llc", "local learning coefficient of a checkpoint (SGLD / RMSprop-SGLD chains, CPU)", run_llc)

}  // namespace llcpress::cli
