#!/usr/bin/env bash
# Installs what is missing, configures, builds and runs every test.
# Exits non-zero on any failure.
#
#   scripts/test.sh                 the default build (Release, CUDA when found) + ctest
#   LLCPRESS_SANITIZE_TESTS=0 ...   skip the AddressSanitizer/UBSan configuration
#   LLCPRESS_BUILD_DIR=dir ...      build directory (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

scripts/install-deps.sh

jobs=$(nproc)
build=${LLCPRESS_BUILD_DIR:-build}

# OpenMPI refuses to run as root without these, and tests run more ranks than
# a 2-core CI machine has (REFERENCE §6).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
# One thread per test process: ctest runs tests in parallel on few cores.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

echo "== configure ($build)"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release
echo "== build"
cmake --build "$build" -j "$jobs"
echo "== test"
(cd "$build" && ctest --output-on-failure -j "$jobs" --timeout 900)

# The parsers again under AddressSanitizer + UBSan (no CUDA in this configuration).
if [ "${LLCPRESS_SANITIZE_TESTS:-1}" = 1 ]; then
  echo "== sanitizers (ASan + UBSan): parser and core tests"
  cmake -S . -B "$build-asan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLLCPRESS_SANITIZE=ON -DLLCPRESS_CUDA=OFF \
        -DLLCPRESS_NATIVE=OFF > "$build-asan.configure.log"
  cmake --build "$build-asan" -j "$jobs" --target llcpress_sanitized_tests
  (cd "$build-asan" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
     ctest --output-on-failure -j "$jobs" -L sanitize --timeout 900)
fi
echo "== all tests passed"
