// Cost of the fused SGLD / pSGLD update per parameter (the part of an SGLD
// step that is not the model's forward+backward):
//   bench_sampler_step [parameters=14067712] [repeats=5]
// Prints ns/parameter and seconds/step for each sampler, with and without the
// diagnostic sums and the MALA terms, at the current OMP_NUM_THREADS: best of
// `repeats` steps in process CPU time (the trustworthy figure on a loaded
// machine; with one thread it is the step's own cost) and in wall-clock time.
#include <omp.h>
#include <time.h>

#include <cstdio>
#include <string>
#include <vector>

#include "core/rng.h"
#include "core/timer.h"
#include "slt/sampler.h"

using namespace llcpress;
using namespace llcpress::slt;

namespace {
double process_cpu_seconds() {
  timespec now;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return double(now.tv_sec) + 1e-9 * double(now.tv_nsec);
}
}  // namespace

int main(int argc, char** argv) {
  std::size_t n = 14067712;  // Pythia-14m
  int repeats = 5;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("parameters=", 0) == 0) n = std::stoul(a.substr(11));
    if (a.rfind("repeats=", 0) == 0) repeats = std::stoi(a.substr(8));
  }
  std::vector<float> w(n), g(n);
  CounterRng(1, 1).fill_normal(w.data(), n, 0, 0.02f);
  CounterRng(1, 2).fill_normal(g.data(), n, 0, 1e-3f);
  std::printf("%zu parameters, %d threads\n", n, omp_get_max_threads());
  for (auto kind : {SamplerKind::Sgld, SamplerKind::RmspropSgld}) {
    for (int variant = 0; variant < 3; ++variant) {
      SamplerConfig config;
      config.kind = kind;
      config.epsilon = 1e-4;
      config.nbeta = 20;
      config.localization = 100;
      const std::vector<float> center = w;  // w* (the sampler reads it, does not copy it)
      Sampler sampler(config, SampledRanges::all(n), center, variant == 2);
      StepOptions options;
      options.seed = 3;
      options.diagnostics = variant >= 1;
      double best = 1e30, best_cpu = 1e30;
      for (int r = 0; r < repeats; ++r) {
        options.noise_stream = stream_id(r);
        options.open_mala = variant == 2;
        options.close_mala = variant == 2 && r > 0;
        const double cpu_start = process_cpu_seconds();
        Stopwatch clock;
        sampler.step(w, g, options);
        best = std::min(best, clock.seconds());
        best_cpu = std::min(best_cpu, process_cpu_seconds() - cpu_start);
      }
      const char* names[] = {"update only", "+ diagnostic sums", "+ sums + MALA"};
      std::printf("%-13s %-18s CPU %7.2f ns/parameter %8.4f s/step | wall %7.2f ns/parameter %8.4f s/step\n",
                  sampler_kind_name(kind), names[variant], 1e9 * best_cpu / n, best_cpu, 1e9 * best / n, best);
    }
  }
  return 0;
}
