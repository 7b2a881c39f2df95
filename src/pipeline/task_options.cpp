#include "pipeline/task_options.h"

#include "lattice/lattice.h"
#include "slt/parameter_mask.h"

namespace llcpress {

namespace {

OptionTable<RunSettings> make_common_table() {
  OptionTable<RunSettings> table;
  table.name = "common";
  table.section = "job";
  table.summary = "where a task runs (every command that runs one, and the job's [job] section)";
  Option<RunSettings> device = field_option<RunSettings>(
      "device", OptionType::Text, "", "cpu or cuda (one GPU per MPI rank, chosen by the node-local rank; docs/gpu.md)",
      "RunSettings::device", [](RunSettings & r) -> auto& { return r.device; });
  Option<RunSettings> precision = field_option<RunSettings>(
      "precision", OptionType::Text, "",
      "GEMM compute precision on cuda: fp32, tf32 or bf16 (fp32 accumulation; parameters stay fp32; cpu: fp32 "
      "only; docs/gpu.md)",
      "RunSettings::precision", [](RunSettings & r) -> auto& { return r.precision; });
  table.options = {
      device,
      precision,
      field_option<RunSettings>(
          "threads", OptionType::Integer, "threads", "OpenMP threads per process (0: OMP_NUM_THREADS or all cores)",
          "RunSettings::threads", [](RunSettings & r) -> auto& { return r.threads; }),
  };
  table.overrides = {
      {"job", "threads", 1,
       "a job runs one MPI rank per core (slurm.cpus_per_task gives a rank more): OpenMP's all-cores default "
       "would put every rank's threads on every core"},
  };
  table.validate = [](const RunSettings& r) {
    LLC_CHECK(r.device == "cpu" || r.device == "cuda", ConfigError, "device", "use cpu or cuda", "unknown device '{}'",
              r.device);
    LLC_CHECK(r.precision == "fp32" || r.precision == "tf32" || r.precision == "bf16", ConfigError, "precision",
              "use fp32, tf32 or bf16", "unknown precision '{}'", r.precision);
    LLC_CHECK(r.device == "cuda" || r.precision == "fp32", ConfigError, "precision",
              "leave precision at fp32 with device = cpu (tf32 and bf16 are GEMM modes of the CUDA backend)",
              "the cpu computes in fp32, not {}", r.precision);
    LLC_CHECK(r.threads >= 0 && r.threads <= 1024, ConfigError, "threads", "use 0 (all cores) to 1024", "{} threads",
              r.threads);
  };
  return table;
}

using slt::LlcConfig;
using Llc = Option<LlcConfig>;

OptionTable<LlcConfig> make_llc_table() {
  using T = OptionType;
  OptionTable<LlcConfig> table;
  table.name = "llc";
  table.section = "llc";
  table.summary = "local learning coefficient (SGLD / RMSprop-SGLD), docs/llc.md";

  Llc sampler = custom_option<LlcConfig>("sampler", T::Text, "", "sgld or rmsprop-sgld", "LlcConfig::sampler.kind");
  sampler.get = [](const LlcConfig& c) { return OptionValue{std::string(slt::sampler_kind_name(c.sampler.kind))}; };
  sampler.set = [](LlcConfig& c, const OptionValue& v) {
    c.sampler.kind = slt::parse_sampler_kind(std::get<std::string>(v));
  };

  Llc mask = custom_option<LlcConfig>(
      "mask", T::TextList, "",
      "sample only these tensors (comma-separated, repeatable): all | layer:N | attention | mlp | "
      "layer:N:attention | layer:N:mlp | role:R | a glob on tensor names | !SELECTOR excludes (empty: all)",
      "LlcConfig::mask");
  mask.get = [](const LlcConfig& c) { return OptionValue{c.mask}; };
  mask.set = [](LlcConfig& c, const OptionValue& v) {
    c.mask = slt::split_mask_selectors(std::get<std::vector<std::string>>(v));
  };

  Llc seed = field_option<LlcConfig>(
      "seed", T::Seed, "", "Philox key of the noise and the minibatches", "LlcConfig::seed",
      [](LlcConfig & c) -> auto& { return c.seed; });
  seed.job_key = "-";
  seed.job_note = "job.seed: each shard gets the seed stream_id(job.seed, shard), recorded as shard_seed";

  Llc batch = field_option<LlcConfig>(
      "batch", T::Integer, "sequences", "samples (sequences) per SGLD step; nβ defaults to b/ln b with this b",
      "LlcConfig::batch_size", [](LlcConfig & c) -> auto& { return c.batch_size; });
  batch.job_key = "data.batch";
  batch.job_note = "one batch size for SGLD and the held-out evaluation";

  table.options = {
      sampler,
      field_option<LlcConfig>(
          "epsilon", T::Real, "1", "step size ε", "LlcConfig::sampler.epsilon",
          [](LlcConfig & c) -> auto& { return c.sampler.epsilon; }),
      field_option<LlcConfig>(
          "gamma", T::Real, "1", "localization γ: pull toward w* (the checkpoint)", "LlcConfig::sampler.localization",
          [](LlcConfig & c) -> auto& { return c.sampler.localization; }),
      field_option<LlcConfig>(
          "nbeta", T::Real, "1", "inverse temperature nβ (0: the reference library's b/ln b)",
          "LlcConfig::sampler.nbeta", [](LlcConfig & c) -> auto& { return c.sampler.nbeta; }),
      field_option<LlcConfig>(
          "weight_decay", T::Real, "1", "weight decay λ_wd of the target (a Gaussian prior)",
          "LlcConfig::sampler.weight_decay", [](LlcConfig & c) -> auto& { return c.sampler.weight_decay; }),
      field_option<LlcConfig>(
          "noise_scale", T::Real, "1", "σ of the injected noise (1 samples the stated target)",
          "LlcConfig::sampler.noise_scale", [](LlcConfig & c) -> auto& { return c.sampler.noise_scale; }),
      field_option<LlcConfig>(
          "rmsprop_alpha", T::Real, "1", "RMSprop-SGLD: decay α of the squared-gradient average V",
          "LlcConfig::sampler.rmsprop_alpha", [](LlcConfig & c) -> auto& { return c.sampler.rmsprop_alpha; }),
      field_option<LlcConfig>(
          "rmsprop_eps", T::Real, "1", "RMSprop-SGLD: eps_p in P = 1/(√V + eps_p)", "LlcConfig::sampler.rmsprop_eps",
          [](LlcConfig & c) -> auto& { return c.sampler.rmsprop_eps; }),
      field_option<LlcConfig>(
          "bounding_box", T::Real, "1", "clamp every sampled weight to w* ± this half-width (0: no box)",
          "LlcConfig::sampler.bounding_box", [](LlcConfig & c) -> auto& { return c.sampler.bounding_box; }),
      field_option<LlcConfig>(
          "chains", T::Integer, "chains", "independent chains (run one after another)", "LlcConfig::chains",
          [](LlcConfig & c) -> auto& { return c.chains; }),
      field_option<LlcConfig>(
          "burn_in", T::Integer, "steps", "steps before the first draw", "LlcConfig::burn_in",
          [](LlcConfig & c) -> auto& { return c.burn_in; }),
      field_option<LlcConfig>(
          "draws", T::Integer, "draws", "draws per chain", "LlcConfig::draws",
          [](LlcConfig & c) -> auto& { return c.draws; }),
      field_option<LlcConfig>(
          "steps_between_draws", T::Integer, "steps",
          "SGLD steps per draw (a draw is the loss before its step's update)", "LlcConfig::steps_between_draws",
          [](LlcConfig & c) -> auto& { return c.steps_between_draws; }),
      batch,
      field_option<LlcConfig>(
          "init_batches", T::Integer, "batches", "fixed batches averaged into L_init (the loss at w*)",
          "LlcConfig::init_batches", [](LlcConfig & c) -> auto& { return c.init_batches; }),
      mask,
      field_option<LlcConfig>(
          "shared_batches", T::Flag, "", "every chain sees the same batch sequence (only the noise differs)",
          "LlcConfig::shared_batches", [](LlcConfig & c) -> auto& { return c.shared_batches; }),
      field_option<LlcConfig>(
          "mala", T::Flag, "", "estimate the MALA acceptance (costs one parameter-sized buffer; false drops it)",
          "LlcConfig::mala", [](LlcConfig & c) -> auto& { return c.mala; }),
      seed,
  };

  // `calibrate` samples toy models (2-9 parameters, n = 1000 samples, microseconds per step) whose λ is known
  // for the untempered posterior; the language-model defaults above would measure something else.
  const std::string toy = "calibrate";
  table.overrides = {
      {toy, "gamma", 1.0,
       "the known λ is that of the posterior without localization; γ = 1 only keeps chains bounded, where γ = 100 "
       "would confine a 2-9 parameter model to ‖w − w*‖ ≈ 0.2 and shape the posterior itself"},
      {toy, "nbeta", 100.0,
       "the finite-nβ bias of λ̂ on singular models shrinks as nβ grows; 100 keeps it small while nβ ≪ n = 1000 "
       "(docs/llc.md §6)"},
      {toy, "chains", 8,
       "toy steps cost microseconds: more chains make the spread small beside the bias being measured"},
      {toy, "burn_in", 20000, "at γ = 1 the chain needs ~2/(εγ) steps to spread; 20000 covers ε ≥ 1e-4"},
      {toy, "draws", 5000, "long chains, cheap on toy models, for a small standard error"},
      {toy, "steps_between_draws", 4, "thins the strongly correlated consecutive draws of a small ε"},
      {toy, "init_batches", 4,
       "noiseless targets (the calibrate default) make L(w*) exactly 0 on every batch; more batches add nothing"},
      {toy, "seed", std::uint64_t{1}, "keeps the calibration outputs of earlier releases reproducible"},
  };
  table.validate = [](const LlcConfig& config) { config.validate(); };
  return table;
}

using compress::SweepConfig;
using Sweep = Option<SweepConfig>;

std::string join_numbers(const std::vector<double>& values) {
  std::string text;
  for (double value : values) text += (text.empty() ? "" : ",") + fmt::format("{}", value);
  return text;
}

OptionTable<SweepConfig> make_compression_table() {
  using T = OptionType;
  OptionTable<SweepConfig> table;
  table.name = "compression";
  table.section = "compress";
  table.summary = "critical compression of one method (quant, svd, noise, prune, lattice, ...), docs/compression.md";

  Sweep eps = custom_option<SweepConfig>("eps", T::Text, "nats/token",
                                         "loss-increase tolerances ε, comma-separated (sorted, deduplicated)",
                                         "SweepConfig::epsilons");
  eps.get = [](const SweepConfig& c) { return OptionValue{join_numbers(c.epsilons)}; };
  eps.set = [](SweepConfig& c, const OptionValue& v) {
    c.epsilons = compress::parse_epsilons(std::get<std::string>(v), "eps");
  };
  eps.job_key = "compress.eps";
  eps.job_note = "one list for every method";

  Sweep tensors = custom_option<SweepConfig>(
      "tensors", T::Text, "", "compressed tensors: comma list of linear, embedding, unembedding, norm, bias, all",
      "SweepConfig::options.tensors");
  tensors.get = [](const SweepConfig& c) { return OptionValue{c.options.tensors.to_string()}; };
  tensors.set = [](SweepConfig& c, const OptionValue& v) {
    c.options.tensors = compress::TensorSelection::parse(std::get<std::string>(v), "tensors");
  };

  Sweep scope = custom_option<SweepConfig>(
      "prune_scope", T::Text, "", "prune: rank magnitudes per tensor or over all selected tensors (tensor|global)",
      "SweepConfig::options.prune_global");
  scope.get = [](const SweepConfig& c) {
    return OptionValue{std::string(c.options.prune_global ? "global" : "tensor")};
  };
  scope.set = [](SweepConfig& c, const OptionValue& v) {
    const auto& text = std::get<std::string>(v);
    LLC_CHECK(text == "tensor" || text == "global", ConfigError, "prune_scope", "use tensor or global",
              "unknown scope '{}'", text);
    c.options.prune_global = text == "global";
  };

  Sweep seed = field_option<SweepConfig>(
      "seed", T::Seed, "", "Philox key of the noise draws and the lattice dither", "SweepConfig::options.seed",
      [](SweepConfig & c) -> auto& { return c.options.seed; });
  seed.job_key = "-";
  seed.job_note = "job.seed: each shard gets the seed stream_id(job.seed, shard), recorded as shard_seed";

  const std::string axis_unit = "the method's parameter";
  table.options = {
      eps,
      tensors,
      field_option<SweepConfig>(
          "per_channel", T::Flag, "", "quant, quant-maxabs: one clip per output row instead of per tensor",
          "SweepConfig::options.per_channel", [](SweepConfig & c) -> auto& { return c.options.per_channel; }),
      field_option<SweepConfig>(
          "clip_search_evaluations", T::Integer, "loss evaluations",
          "quant: held-out loss evaluations per level count for the clip search (1: weight-MSE "
          "clip only)",
          "SweepConfig::options.clip_search_evaluations",
          [](SweepConfig & c) -> auto& { return c.options.clip_search_evaluations; }),
      field_option<SweepConfig>(
          "noise_draws", T::Integer, "draws", "noise, noise-rel: draws averaged per point",
          "SweepConfig::options.noise_draws", [](SweepConfig & c) -> auto& { return c.options.noise_draws; }),
      scope,
      field_option<SweepConfig>(
          "lattice", T::Text, "", "lattice: the lattice of the nested code (Z, D2…D8, E8, BW16)",
          "SweepConfig::options.lattice", [](SweepConfig & c) -> auto& { return c.options.lattice; }),
      field_option<SweepConfig>(
          "least", T::Real, axis_unit, "search range: parameter of least compression", "SweepConfig::least",
          [](SweepConfig & c) -> auto& { return c.least; }),
      field_option<SweepConfig>(
          "most", T::Real, axis_unit, "search range: parameter of most compression", "SweepConfig::most",
          [](SweepConfig & c) -> auto& { return c.most; }),
      field_option<SweepConfig>(
          "start", T::Real, axis_unit, "first parameter evaluated", "SweepConfig::start",
          [](SweepConfig & c) -> auto& { return c.start; }),
      seed,
  };
  table.validate = [](const SweepConfig& c) {
    LLC_CHECK(c.options.clip_search_evaluations >= 1, ConfigError, "clip_search_evaluations",
              "use 1 (weight-MSE clip only) or more", "{} evaluations", c.options.clip_search_evaluations);
    LLC_CHECK(c.options.noise_draws >= 1, ConfigError, "noise_draws", "use at least 1 draw", "{} draws",
              c.options.noise_draws);
    try {
      lattice::find_lattice(c.options.lattice);
    } catch (const Error& error) {
      throw ConfigError(error.message(), "lattice", error.hint());
    }
  };
  return table;
}

}  // namespace

const OptionTable<RunSettings>& common_option_table() {
  static const OptionTable<RunSettings> table = make_common_table();
  return table;
}

const OptionTable<slt::LlcConfig>& llc_option_table() {
  static const OptionTable<slt::LlcConfig> table = make_llc_table();
  return table;
}

const OptionTable<compress::SweepConfig>& compression_option_table() {
  static const OptionTable<compress::SweepConfig> table = make_compression_table();
  return table;
}

std::vector<nlohmann::json> option_tables_json() {
  return {common_option_table().to_json("job"), llc_option_table().to_json("llc"),
          compression_option_table().to_json("compress.<method>")};
}

}  // namespace llcpress
