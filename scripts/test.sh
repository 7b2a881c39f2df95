#!/usr/bin/env bash
# Installs what is missing, configures, builds and runs every test.
# Exits non-zero on any failure.
#
#   scripts/test.sh                 the default build (Release, CUDA when found) + ctest
#   LLCPRESS_SANITIZE_TESTS=0 ...   skip the AddressSanitizer/UBSan configuration
#   LLCPRESS_BUILD_DIR=dir ...      build directory (default: build)
#   LLCPRESS_WITH_SLURM=0 ...       do not install SLURM (its end-to-end test then skips)
#   LLCPRESS_TEST_BENCH=1 ...       also build the benchmarks (bench/)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

# Prints how long each stage took, so a slow CI run shows where the time went.
stage_start=$SECONDS
stage() {
  echo "== ($((SECONDS - stage_start)) s since start) $*"
}

# The pipeline's SLURM test starts a throwaway slurmctld + slurmd (REFERENCE §6).
export LLCPRESS_WITH_SLURM=${LLCPRESS_WITH_SLURM:-1}
stage "install"
scripts/install-deps.sh

jobs=$(nproc)
build=${LLCPRESS_BUILD_DIR:-build}

# OpenMPI refuses to run as root without these, and tests run more ranks than
# a 2-core CI machine has (REFERENCE §6).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
# One thread per test process: ctest runs tests in parallel on few cores.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

stage "configure ($build)"
# The benchmarks are not tests; leaving them out keeps CI well under 25 minutes
# (LLCPRESS_TEST_BENCH=1 builds them too, to check they still compile).
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DLLCPRESS_BENCH=$([ "${LLCPRESS_TEST_BENCH:-0}" = 1 ] && echo ON || echo OFF)
stage "build"
cmake --build "$build" -j "$jobs"
stage "test"
(cd "$build" && ctest --output-on-failure -j "$jobs" --timeout 900)

# The parsers again under AddressSanitizer + UBSan (no CUDA in this configuration).
if [ "${LLCPRESS_SANITIZE_TESTS:-1}" = 1 ]; then
  stage "sanitizers (ASan + UBSan): parser and core tests"
  # -O1 -g1: the usual sanitizer optimisation level, and line tables only (enough
  # for file:line in ASan reports; full -g doubles the compile time of Eigen code).
  cmake -S . -B "$build-asan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
        -DLLCPRESS_SANITIZE=ON -DLLCPRESS_CUDA=OFF -DLLCPRESS_NATIVE=OFF > "$build-asan.configure.log"
  cmake --build "$build-asan" -j "$jobs" --target llcpress_sanitized_tests
  (cd "$build-asan" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
     ctest --output-on-failure -j "$jobs" -L sanitize --timeout 900)
fi
stage "all tests passed"
