// Encode / decode throughput of the matrix quantizers, in million entries per
// second per core: the ℓ∞ scalar quantizer, D3 (q = 6) and E8 / BW16 at about
// 3 bits per entry, on iid N(0,1) columns of length n (default 6144, the seed
// paper's size). "encode" is everything from fp32 columns to the coded arrays:
// centring, norm, randomized Hadamard rotation, lattice search over the scale
// list, digits, and the rANS coding of the scale indices. "decode" is the
// inverse up to the rotated domain (what the product needs). Also reported:
// the rotation alone and single closest-point calls per lattice.
//
//   bench_lattice [--n 6144] [--columns 512] [--threads 1] [--repeat 3]
//
// Prints one JSON object per line. Best of --repeat runs. On a shared machine
// wall-clock time includes waiting for a core, so the process CPU time is
// reported too ("cpu_" fields): with --threads 1 it is the time one core spent.
#include <omp.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/rng.h"
#include "core/timer.h"
#include "lattice/design.h"
#include "lattice/e8_batch.h"
#include "lattice/hadamard.h"
#include "lattice/matrix_codec.h"
#include "lattice/scalar_quantizer.h"

using namespace llcpress;
using namespace llcpress::lattice;

namespace {

struct Settings {
  std::int64_t n = 6144, columns = 512;
  int threads = 1, repeat = 3;
};

double cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

struct Timing {
  double wall = 1e30, cpu = 1e30;
};

// Best wall and best CPU time over `repeat` runs.
template <typename F>
Timing best_seconds(int repeat, F&& f) {
  Timing best;
  for (int r = 0; r < repeat; ++r) {
    double cpu_start = cpu_seconds();
    Stopwatch watch;
    f();
    best.wall = std::min(best.wall, watch.seconds());
    best.cpu = std::min(best.cpu, cpu_seconds() - cpu_start);
  }
  return best;
}

void report(const char* scheme, const char* stage, double entries, Timing t, int threads, double rate = -1) {
  std::printf(
      "{\"scheme\": \"%s\", \"stage\": \"%s\", \"mentries_per_s_per_core\": %.2f, \"seconds\": %.4f, "
      "\"cpu_mentries_per_s_per_core\": %.2f, \"cpu_seconds\": %.4f, \"threads\": %d",
      scheme, stage, entries / t.wall / 1e6 / threads, t.wall, entries / t.cpu / 1e6, t.cpu, threads);
  if (rate >= 0) std::printf(", \"bits_per_entry\": %.4f", rate);
  std::printf("}\n");
  std::fflush(stdout);
}

void bench_codec(const char* name, const CodecSpec& spec, const std::vector<float>& x, const Settings& s) {
  const double entries = static_cast<double>(s.n) * s.columns;
  EncodedMatrix encoded;
  Timing encode = best_seconds(s.repeat, [&] { encoded = encode_vectors(x.data(), s.columns, s.n, spec); });
  std::vector<float> rotated(s.columns * encoded.rotated_length);
  Timing decode = best_seconds(s.repeat, [&] { decode_rotated(rotated.data(), encoded); });
  report(name, "encode", entries, encode, s.threads, encoded.rate.bits_per_entry());
  report(name, "decode", entries, decode, s.threads, encoded.rate.bits_per_entry());
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string key = argv[i];
    if (key == "--n")
      s.n = std::atoll(argv[i + 1]);
    else if (key == "--columns")
      s.columns = std::atoll(argv[i + 1]);
    else if (key == "--threads")
      s.threads = std::atoi(argv[i + 1]);
    else if (key == "--repeat")
      s.repeat = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "unknown option %s\n", argv[i]);
      return 2;
    }
  }
  omp_set_num_threads(s.threads);
  std::printf("{\"n\": %lld, \"columns\": %lld, \"threads\": %d, \"e8_avx2\": %s}\n", static_cast<long long>(s.n),
              static_cast<long long>(s.columns), s.threads, e8_batched_is_vectorized() ? "true" : "false");
  std::vector<float> x(s.n * s.columns);
  CounterRng(1, 1).fill_normal(x.data(), x.size());
  const double entries = static_cast<double>(s.n) * s.columns;

  // Rotation alone (forward, into a scratch column).
  {
    RandomizedRotation rotation(s.n, 0);
    std::vector<float> out(rotation.rotated_length());
    Timing seconds = best_seconds(s.repeat, [&] {
      for (std::int64_t c = 0; c < s.columns; ++c) rotation.forward(out.data(), x.data() + c * s.n);
    });
    report("rotation", "forward", entries, seconds, 1);
  }
  // Scalar ℓ∞ 3-bit.
  {
    ScalarEncoded encoded;
    Timing encode = best_seconds(s.repeat, [&] { encoded = scalar_encode(x.data(), s.columns, s.n, 3); });
    std::vector<float> decoded(x.size());
    Timing decode = best_seconds(s.repeat, [&] { scalar_decode(decoded.data(), encoded); });
    report("scalar-3bit", "encode", entries, encode, s.threads, encoded.bits_per_entry());
    report("scalar-3bit", "decode", entries, decode, s.threads, encoded.bits_per_entry());
  }
  PlanOptions options;
  // Designs are computed once per process (cached); do them before timing.
  options.lattice = "D3";
  CodecSpec d3 = fixed_q_spec(6, {}, options);
  bench_codec("D3-q6", d3, x, s);
  options.lattice = "E8";
  CodecSpec e8 = plan_codec(3.0, s.n, options, s.columns).spec;
  bench_codec("E8-3bit", e8, x, s);
  CodecSpec e8_fixed = fixed_q_spec(7, {}, options);
  bench_codec("E8-q7", e8_fixed, x, s);
  options.lattice = "BW16";
  CodecSpec bw16 = fixed_q_spec(7, {}, options);
  Settings small = s;
  small.columns = std::max<std::int64_t>(1, s.columns / 8);
  bench_codec("BW16-q7", bw16, x, small);
  return 0;
}
