// llcpress matmul-bench: quantize two matrices independently, estimate AᵀB,
// and compare the distortion with the bound Γ(rate) (REFERENCE.md §5).
//
// A is n×a and B is n×b; their columns are the vectors that are coded. The
// matrices are iid N(0,1) (Philox, --seed) or read from .npy files (numpy
// shape (n, a) and (n, b), float32/float64). Reported per run: the rate
// actually spent in bits per entry with everything counted (the average over
// both factors), its parts, the distortion D = ‖AᵀB − Ĉ‖²_F/(n·a·b), Γ(rate),
// D/Γ, and encode / decode / product throughput on --threads threads.
//
// --sweep-rate FILE.h5 traces D(R) for rates --rate-min..--rate-max against
// Γ(R) for the lattices in --sweep-lattices and the ℓ∞ scalar quantizer, and
// writes them as the table /sweep (plus the curve /gamma) for the figures.
#include <omp.h>

#include <Eigen/Core>
#include <cmath>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "cli/subcommand.h"
#include "core/check.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/timer.h"
#include "core/version.h"
#include "io/hdf5.h"
#include "lattice/design.h"
#include "lattice/gamma.h"
#include "lattice/lut_decoder.h"
#include "lattice/matrix_codec.h"
#include "lattice/npy_matrix.h"
#include "lattice/scalar_quantizer.h"

namespace llcpress::cli {
namespace {

using namespace llcpress::lattice;
using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

constexpr std::uint64_t kMatrixA = 0xA, kMatrixB = 0xB;

struct Factors {
  std::int64_t n = 0, a = 0, b = 0;
  std::vector<float> a_columns, b_columns;  // [a][n], [b][n]: column j of A is row j here
  std::string source;
};

// Column j of the file's (n × cols) matrix becomes row j.
std::vector<float> columns_of(const NpyMatrix& m) {
  std::vector<float> out(m.values.size());
  for (std::int64_t i = 0; i < m.rows; ++i)
    for (std::int64_t j = 0; j < m.cols; ++j) out[j * m.rows + i] = m.values[i * m.cols + j];
  return out;
}

Factors make_factors(const po::variables_map& options) {
  Factors f;
  if (options.count("input-a") || options.count("input-b")) {
    LLC_CHECK(options.count("input-a") && options.count("input-b"), ConfigError, "--input-a/--input-b",
              "give both files", "only one input matrix given");
    auto a = read_npy_matrix(options["input-a"].as<std::string>());
    auto b = read_npy_matrix(options["input-b"].as<std::string>());
    LLC_CHECK(a.rows == b.rows, InputError, options["input-b"].as<std::string>(),
              "both matrices need the same number of rows n (AᵀB)", "A is {}x{} but B is {}x{}", a.rows, a.cols, b.rows,
              b.cols);
    f.n = a.rows;
    f.a = a.cols;
    f.b = b.cols;
    f.a_columns = columns_of(a);
    f.b_columns = columns_of(b);
    f.source = options["input-a"].as<std::string>() + ", " + options["input-b"].as<std::string>();
    return f;
  }
  LLC_CHECK(options.count("n"), ConfigError, "--n", "pass --n N (or --input-a/--input-b)", "no size given");
  f.n = options["n"].as<std::int64_t>();
  f.a = options.count("a") ? options["a"].as<std::int64_t>() : f.n;
  f.b = options.count("b") ? options["b"].as<std::int64_t>() : f.a;
  LLC_CHECK(f.n >= 1 && f.a >= 1 && f.b >= 1 && f.n * std::max(f.a, f.b) <= (1ll << 32), ConfigError, "--n/--a/--b",
            "use positive sizes with n·max(a,b) ≤ 2^32", "sizes n={} a={} b={}", f.n, f.a, f.b);
  const std::uint64_t seed = options["seed"].as<std::uint64_t>();
  f.a_columns.resize(f.a * f.n);
  f.b_columns.resize(f.b * f.n);
  CounterRng(seed, kMatrixA).fill_normal(f.a_columns.data(), f.a_columns.size());
  CounterRng(seed, kMatrixB).fill_normal(f.b_columns.data(), f.b_columns.size());
  f.source = "iid N(0,1), Philox seed " + std::to_string(seed);
  return f;
}

std::vector<float> parse_list(const std::string& text) {
  std::vector<float> values;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    try {
      std::size_t used = 0;
      values.push_back(std::stof(item, &used));
      LLC_CHECK(used == item.size(), ConfigError, "--betas", "give numbers separated by commas", "bad value '{}'",
                item);
    } catch (const std::logic_error&) {
      LLC_THROW(ConfigError, "--betas", "give numbers separated by commas", "bad value '{}'", item);
    }
  }
  return values;
}

struct RunResult {
  std::string scheme, lattice;
  double target_rate = NAN, rate = 0, rate_a = 0, rate_b = 0;
  double distortion = 0, normalized_distortion = 0, gamma = 0;
  double encode_seconds = 0, decode_seconds = 0, product_seconds = 0;
  double lut_distortion = NAN, lut_seconds = NAN;
  std::int64_t lut_bytes = 0;
  std::vector<int> moduli;
  std::vector<double> fractions;
  std::vector<std::vector<float>> betas;
  RateBreakdown breakdown_a;
  double mse_a = NAN, mse_mmse_a = NAN;
  std::vector<double> class_share_a;
};

struct Reference {
  std::vector<float> exact;  // [a][b]
  double energy = 0;         // ‖A‖²_F·‖B‖²_F / n: the D normaliser for non-unit data
  double seconds = 0;
};

Reference exact_product(const Factors& f) {
  Reference r;
  r.exact.resize(f.a * f.b);
  Stopwatch watch;
  Eigen::Map<const RowMatrix> a(f.a_columns.data(), f.a, f.n), b(f.b_columns.data(), f.b, f.n);
  Eigen::Map<RowMatrix> c(r.exact.data(), f.a, f.b);
  c.noalias() = a * b.transpose();
  r.seconds = watch.seconds();
  double ea = 0, eb = 0;
  for (float v : f.a_columns) ea += static_cast<double>(v) * v;
  for (float v : f.b_columns) eb += static_cast<double>(v) * v;
  r.energy = ea * eb / static_cast<double>(f.n);
  return r;
}

double squared_error(const std::vector<float>& exact, const std::vector<float>& estimate) {
  double sum = 0;
  for (std::size_t i = 0; i < exact.size(); ++i) {
    double e = static_cast<double>(exact[i]) - estimate[i];
    sum += e * e;
  }
  return sum;
}

void finish(RunResult& r, const Factors& f, const Reference& ref, const std::vector<float>& estimate) {
  double error = squared_error(ref.exact, estimate);
  r.distortion = error / (static_cast<double>(f.n) * f.a * f.b);
  r.normalized_distortion = error / ref.energy;
  r.rate = (r.rate_a * f.a + r.rate_b * f.b) / static_cast<double>(f.a + f.b);
  r.gamma = gamma_bound(r.rate);
}

RunResult run_scalar(const Factors& f, const Reference& ref, int bits) {
  RunResult r;
  r.scheme = "scalar";
  r.lattice = "linf-" + std::to_string(bits) + "bit";
  Stopwatch watch;
  auto ea = scalar_encode(f.a_columns.data(), f.a, f.n, bits);
  auto eb = scalar_encode(f.b_columns.data(), f.b, f.n, bits);
  r.encode_seconds = watch.seconds();
  std::vector<float> da(f.a * f.n), db(f.b * f.n), estimate(f.a * f.b);
  watch.reset();
  scalar_decode(da.data(), ea);
  scalar_decode(db.data(), eb);
  r.decode_seconds = watch.seconds();
  watch.reset();
  Eigen::Map<const RowMatrix> a(da.data(), f.a, f.n), b(db.data(), f.b, f.n);
  Eigen::Map<RowMatrix> c(estimate.data(), f.a, f.b);
  c.noalias() = a * b.transpose();
  r.product_seconds = watch.seconds();
  r.rate_a = ea.bits_per_entry();
  r.rate_b = eb.bits_per_entry();
  finish(r, f, ref, estimate);
  return r;
}

RunResult run_lattice(const Factors& f, const Reference& ref, const CodecSpec& spec_a, const CodecSpec& spec_b,
                      bool with_lut) {
  RunResult r;
  r.scheme = "lattice";
  r.lattice = spec_a.lattice;
  Stopwatch watch;
  auto ea = encode_vectors(f.a_columns.data(), f.a, f.n, spec_a);
  auto eb = encode_vectors(f.b_columns.data(), f.b, f.n, spec_b);
  r.encode_seconds = watch.seconds();
  std::vector<float> ya(f.a * ea.rotated_length), yb(f.b * eb.rotated_length), estimate(f.a * f.b);
  watch.reset();
  decode_rotated(ya.data(), ea);
  decode_rotated(yb.data(), eb);
  r.decode_seconds = watch.seconds();
  watch.reset();
  estimate_products_from_rotated(estimate.data(), ea, ya.data(), eb, yb.data());
  r.product_seconds = watch.seconds();
  r.rate_a = ea.rate.bits_per_entry();
  r.rate_b = eb.rate.bits_per_entry();
  r.breakdown_a = ea.rate;
  for (const auto& s : ea.segments) {
    r.moduli.push_back(s.spec.q);
    r.fractions.push_back(static_cast<double>(s.blocks) / static_cast<double>(ea.blocks_per_vector));
    r.betas.push_back(s.spec.betas);
  }
  if (!ea.segments.empty() && ea.segments[0].spec.q > 0) {
    r.mse_a = ea.segments[0].mean_square_error;
    r.mse_mmse_a = ea.segments[0].mean_square_error_mmse;
    std::int64_t total = 0;
    for (auto c : ea.segments[0].class_counts) total += c;
    for (auto c : ea.segments[0].class_counts) r.class_share_a.push_back(total ? double(c) / total : 0.0);
  }
  finish(r, f, ref, estimate);
  if (with_lut) {
    const auto& lattice = find_lattice(spec_a.lattice);
    CodebookLut lut(lattice, spec_a.segments.at(0).q);
    std::vector<float> lut_estimate(f.a * f.b);
    watch.reset();
    estimate_products_lut(lut_estimate.data(), ea, eb, lut);
    r.lut_seconds = watch.seconds();
    r.lut_distortion = squared_error(ref.exact, lut_estimate) / (static_cast<double>(f.n) * f.a * f.b);
    r.lut_bytes = static_cast<std::int64_t>(lut.bytes());
  }
  return r;
}

PlanOptions plan_options(const po::variables_map& options, const std::string& lattice) {
  PlanOptions plan;
  plan.lattice = lattice;
  plan.design.num_scales = options["num-scales"].as<int>();
  plan.design.dither = options.count("dither") > 0;
  plan.design.mmse = options.count("no-mmse") == 0;
  if (options.count("group")) plan.design.group_blocks = options["group"].as<int>();
  plan.norm_bits = options["norm-bits"].as<int>();
  plan.seed = options["seed"].as<std::uint64_t>();
  return plan;
}

// The specs for A and B (same rotation seed, different dither tags).
std::pair<CodecSpec, CodecSpec> lattice_specs(const po::variables_map& options, const Factors& f,
                                              const std::string& lattice, double rate, double* target) {
  PlanOptions plan = plan_options(options, lattice);
  CodecSpec spec_a, spec_b;
  if (options.count("q") && std::isnan(rate)) {
    std::vector<float> betas;
    if (options.count("betas")) betas = parse_list(options["betas"].as<std::string>());
    spec_a = fixed_q_spec(options["q"].as<int>(), betas, plan);
    spec_b = spec_a;
  } else {
    if (std::isnan(rate)) rate = options["rate"].as<double>();
    *target = rate;
    spec_a = plan_codec(rate, f.n, plan, f.a).spec;
    spec_b = plan_codec(rate, f.n, plan, f.b).spec;
  }
  spec_b.dither_tag = 1;
  return {spec_a, spec_b};
}

nlohmann::json to_json(const RunResult& r, const Factors& f, int threads) {
  auto per_core = [&](double seconds, double entries) { return seconds > 0 ? entries / seconds / 1e6 / threads : 0.0; };
  const double entries = static_cast<double>(f.n) * (f.a + f.b);
  nlohmann::json j;
  j["scheme"] = r.scheme;
  j["quantizer"] = r.lattice;
  if (!std::isnan(r.target_rate)) j["target_rate"] = r.target_rate;
  j["rate_bits_per_entry"] = r.rate;
  j["rate_a"] = r.rate_a;
  j["rate_b"] = r.rate_b;
  j["distortion"] = r.distortion;
  j["normalized_distortion"] = r.normalized_distortion;
  j["gamma"] = r.gamma;
  j["ratio"] = r.distortion / r.gamma;
  j["encode_seconds"] = r.encode_seconds;
  j["decode_seconds"] = r.decode_seconds;
  j["product_seconds"] = r.product_seconds;
  j["encode_mentries_per_s_per_core"] = per_core(r.encode_seconds, entries);
  j["decode_mentries_per_s_per_core"] = per_core(r.decode_seconds, entries);
  if (r.scheme == "lattice") {
    j["moduli"] = r.moduli;
    j["fractions"] = r.fractions;
    j["betas"] = r.betas;
    const auto& b = r.breakdown_a;
    const double e = static_cast<double>(b.entries);
    j["rate_breakdown_a_bits_per_entry"] = {{"lattice_index", b.lattice_index_bits / e},
                                            {"scale_index", b.scale_index_bits / e},
                                            {"scale_index_entropy", b.scale_index_entropy_bits / e},
                                            {"frequency_tables", b.frequency_table_bits / e},
                                            {"escapes", b.escape_bits / e},
                                            {"means", b.mean_bits / e},
                                            {"norms", b.norm_bits / e},
                                            {"gains", b.gain_bits / e},
                                            {"scale_lists", b.codebook_bits / e},
                                            {"header", b.header_bits / e}};
    j["rotated_mse_a"] = r.mse_a;
    j["rotated_mse_after_gains_a"] = r.mse_mmse_a;
    j["class_share_a"] = r.class_share_a;
  }
  if (!std::isnan(r.lut_seconds)) {
    j["lut_distortion"] = r.lut_distortion;
    j["lut_product_seconds"] = r.lut_seconds;
    j["lut_bytes"] = r.lut_bytes;
    j["lut_lookups_per_s_per_core"] =
        static_cast<double>(f.a) * f.b * (f.n / 3.0) / r.lut_seconds / threads;  // per block of the LUT's lattice
  }
  return j;
}

void print_human(const RunResult& r, const Factors& f, int threads) {
  auto j = to_json(r, f, threads);
  std::cout << fmt::format("{:8} {:14} rate {:.4f} bits/entry   D {:.6f}   Gamma(rate) {:.6f}   D/Gamma {:.4f}\n",
                           r.scheme, r.lattice, r.rate, r.distortion, r.gamma, r.distortion / r.gamma);
  std::cout << fmt::format(
      "         encode {:.2f} M entries/s/core, decode {:.2f} M entries/s/core, product {:.2f} s ({} thread{})\n",
      j["encode_mentries_per_s_per_core"].get<double>(), j["decode_mentries_per_s_per_core"].get<double>(),
      r.product_seconds, threads, threads > 1 ? "s" : "");
  if (r.scheme == "lattice") {
    std::string segments;
    for (std::size_t s = 0; s < r.moduli.size(); ++s)
      segments += fmt::format("{}q={} ({:.1f}% of blocks)", s ? ", " : "", r.moduli[s], 100 * r.fractions[s]);
    std::cout << "         segments: " << segments << "\n";
    std::cout << "         rate parts (A, bits/entry): " << j["rate_breakdown_a_bits_per_entry"].dump() << "\n";
  }
  if (!std::isnan(r.lut_seconds))
    std::cout << fmt::format("         LUT decoder: D {:.6f}, {:.2f} s, table {} bytes\n", r.lut_distortion,
                             r.lut_seconds, r.lut_bytes);
}

std::vector<std::string> split_names(const std::string& text) {
  std::vector<std::string> names;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ','))
    if (!item.empty()) names.push_back(item);
  return names;
}

int sweep(const po::variables_map& options, const Factors& f, const Reference& ref, int threads) {
  const std::string path = options["sweep-rate"].as<std::string>();
  const double low = options["rate-min"].as<double>(), high = options["rate-max"].as<double>(),
               step = options["rate-step"].as<double>();
  LLC_CHECK(low >= 0 && high >= low && step > 0, ConfigError, "--rate-min/--rate-max/--rate-step",
            "give 0 ≤ min ≤ max and a positive step", "bad sweep range");
  std::vector<RunResult> results;
  for (const auto& lattice : split_names(options["sweep-lattices"].as<std::string>())) {
    find_lattice(lattice);
    for (double rate = low; rate <= high + 1e-9; rate += step) {
      double target = rate;
      auto [spec_a, spec_b] = lattice_specs(options, f, lattice, rate, &target);
      RunResult r = run_lattice(f, ref, spec_a, spec_b, false);
      r.target_rate = rate;
      spdlog::info("sweep {} R={:.2f}: rate {:.4f}, D {:.6f}, D/Gamma {:.4f}", lattice, rate, r.rate, r.distortion,
                   r.distortion / r.gamma);
      results.push_back(r);
    }
  }
  for (int bits = std::max(1, static_cast<int>(std::floor(low))); bits <= std::min(8, static_cast<int>(high)); ++bits) {
    RunResult r = run_scalar(f, ref, bits);
    r.target_rate = bits;
    spdlog::info("sweep scalar {} bits: rate {:.4f}, D {:.6f}, D/Gamma {:.4f}", bits, r.rate, r.distortion,
                 r.distortion / r.gamma);
    results.push_back(r);
  }
  io::Table table;
  std::vector<std::string> scheme, quantizer, moduli;
  std::vector<double> target, rate, distortion, normalized, gamma, ratio, encode, decode;
  for (const auto& r : results) {
    scheme.push_back(r.scheme);
    quantizer.push_back(r.lattice);
    std::string m;
    for (std::size_t s = 0; s < r.moduli.size(); ++s)
      m += fmt::format("{}{}:{:.4f}", s ? "," : "", r.moduli[s], r.fractions[s]);
    moduli.push_back(m);
    target.push_back(r.target_rate);
    rate.push_back(r.rate);
    distortion.push_back(r.distortion);
    normalized.push_back(r.normalized_distortion);
    gamma.push_back(r.gamma);
    ratio.push_back(r.distortion / r.gamma);
    const double entries = static_cast<double>(f.n) * (f.a + f.b);
    encode.push_back(entries / r.encode_seconds / 1e6 / threads);
    decode.push_back(entries / r.decode_seconds / 1e6 / threads);
  }
  table.add("scheme", scheme, "", "lattice (nested-lattice code) or scalar (l-infinity per column)")
      .add("quantizer", quantizer, "", "lattice name, or linf-<bits>bit")
      .add("segments", moduli, "", "q:share of blocks for each time-shared segment (q = 0: not sent)")
      .add("target_rate", target, "bits/entry", "rate asked of the planner (scalar: bits)")
      .add("rate", rate, "bits/entry", "rate actually spent, all side information counted (mean of A and B)")
      .add("distortion", distortion, "", "||A^T B - C_hat||_F^2 / (n a b)")
      .add("normalized_distortion", normalized, "", "||A^T B - C_hat||_F^2 / (||A||_F^2 ||B||_F^2 / n)")
      .add("gamma", gamma, "", "lower bound Gamma(rate), Ordentlich & Polyanskiy")
      .add("ratio", ratio, "", "distortion / gamma")
      .add("encode_mentries_per_s_per_core", encode, "1e6 entries/s", "A and B encoding throughput per thread")
      .add("decode_mentries_per_s_per_core", decode, "1e6 entries/s", "A and B decoding throughput per thread");
  std::vector<double> curve_rate, curve_gamma;
  for (double r = 0; r <= 8.0 + 1e-9; r += 0.01) {
    curve_rate.push_back(r);
    curve_gamma.push_back(gamma_bound(r));
  }
  auto file = io::File::create_atomic(path);
  auto& root = file.root();
  root.set_attribute("schema", "llcpress matmul-bench sweep 1");
  root.set_attribute("git_revision", git_revision());
  root.set_attribute("n", f.n);
  root.set_attribute("a", f.a);
  root.set_attribute("b", f.b);
  root.set_attribute("source", f.source);
  root.set_attribute("critical_rate", critical_rate());
  root.set_attribute("threads", static_cast<std::int64_t>(threads));
  io::write_table(root, "sweep", table, "D(R) of each quantizer against Gamma(R)");
  io::Table curve;
  curve.add("rate", curve_rate, "bits/entry").add("gamma", curve_gamma, "", "Gamma(R), computed");
  io::write_table(root, "gamma", curve, "the lower bound Gamma(R) on a fine grid");
  file.commit();
  if (options.count("json")) {
    nlohmann::json all = nlohmann::json::array();
    for (const auto& r : results) all.push_back(to_json(r, f, threads));
    print_json({{"file", path}, {"runs", all}});
  } else {
    for (const auto& r : results) print_human(r, f, threads);
    std::cout << "wrote " << path << "\n";
  }
  return 0;
}

int matmul_bench(int argc, char** argv) {
  po::options_description description("matmul-bench options");
  description.add_options()("n", po::value<std::int64_t>(), "rows of A and B (the inner dimension)")(
      "a", po::value<std::int64_t>(), "columns of A (default n)")("b", po::value<std::int64_t>(),
                                                                  "columns of B (default a)")(
      "input-a", po::value<std::string>(), ".npy file with A (shape (n, a), float32/float64) instead of random")(
      "input-b", po::value<std::string>(), ".npy file with B (shape (n, b))")(
      "scheme", po::value<std::string>()->default_value("lattice"), "lattice | scalar")(
      "lattice", po::value<std::string>()->default_value("E8"), "Z | D2..D8 | E8 | BW16")(
      "q", po::value<int>(), "Voronoi modulus (one segment); without it --rate plans q and time-sharing")(
      "rate", po::value<double>()->default_value(3.0), "target bits per entry, everything counted (lattice)")(
      "betas", po::value<std::string>(), "comma-separated scale list for --q (default: designed)")(
      "num-scales", po::value<int>()->default_value(8), "scales per modulus in the designed lists")(
      "group", po::value<int>(), "lattice blocks per scale index (default: about 8 coordinates)")(
      "dither", "subtractive dither from the shared seed")("no-mmse", "do not send/apply MMSE gains")(
      "norm-bits", po::value<int>()->default_value(32), "bits per column norm: 32 (fp32) or 16 (bf16)")(
      "bits", po::value<int>()->default_value(3), "bits per entry of the scalar quantizer")(
      "lut", "also estimate the product with the codebook lookup table (small codebooks, e.g. D3 q=6)")(
      "seed", po::value<std::uint64_t>()->default_value(0), "seed of the matrices, rotation and dither")(
      "threads", po::value<int>()->default_value(1), "OpenMP threads")("json", "print one JSON object")(
      "sweep-rate", po::value<std::string>(), "trace D(R) against Gamma(R) into this HDF5 file")(
      "rate-min", po::value<double>()->default_value(1.0), "sweep: first rate")(
      "rate-max", po::value<double>()->default_value(5.0), "sweep: last rate")(
      "rate-step", po::value<double>()->default_value(0.25), "sweep: rate step")(
      "sweep-lattices", po::value<std::string>()->default_value("E8,BW16,D4,D3,Z"), "sweep: lattices");
  auto parsed = parse_options("matmul-bench",
                              "--n N [--a A --b B] --scheme scalar|lattice [--lattice Z|D3|D4|E8|BW16] [--q Q] "
                              "[--dither] [--betas ...] [--seed S] [--json] [--sweep-rate FILE.h5]",
                              description, argc, argv);
  if (!parsed) return 0;
  const auto& options = *parsed;
  const int threads = options["threads"].as<int>();
  LLC_CHECK(threads >= 1, ConfigError, "--threads", "use at least 1", "threads = {}", threads);
  omp_set_num_threads(threads);
  Eigen::setNbThreads(threads);

  Factors f = make_factors(options);
  spdlog::info("matmul-bench: n={} a={} b={} ({}), {} thread(s)", f.n, f.a, f.b, f.source, threads);
  Reference ref = exact_product(f);
  if (options.count("sweep-rate")) return sweep(options, f, ref, threads);

  const std::string scheme = options["scheme"].as<std::string>();
  RunResult result;
  if (scheme == "scalar") {
    result = run_scalar(f, ref, options["bits"].as<int>());
  } else if (scheme == "lattice") {
    const std::string lattice = options["lattice"].as<std::string>();
    find_lattice(lattice);
    double target = NAN;
    double rate = options.count("q") ? NAN : options["rate"].as<double>();
    auto [spec_a, spec_b] = lattice_specs(options, f, lattice, rate, &target);
    result = run_lattice(f, ref, spec_a, spec_b, options.count("lut") > 0);
    result.target_rate = target;
  } else {
    LLC_THROW(ConfigError, "--scheme", "use lattice or scalar", "unknown scheme '{}'", scheme);
  }
  if (options.count("json")) {
    auto j = to_json(result, f, threads);
    j["n"] = f.n;
    j["a"] = f.a;
    j["b"] = f.b;
    j["source"] = f.source;
    j["threads"] = threads;
    j["exact_product_seconds"] = ref.seconds;
    print_json(j);
  } else {
    print_human(result, f, threads);
  }
  return 0;
}

}  // namespace

LLCPRESS_SUBCOMMAND("matmul-bench", "quantize A and B independently, estimate A^T B, compare with Gamma(R)",
                    matmul_bench)

}  // namespace llcpress::cli
