#!/usr/bin/env bash
# The device kit: checks the CUDA backend on a machine with an NVIDIA GPU in
# minutes, from binaries built elsewhere (docs/gpu.md).
#
#   scripts/device-check.sh bundle [DIR]   here (no GPU needed): build the CUDA test binaries and
#                                          the GPU benchmark without -march=native, and gather them
#                                          with the non-CUDA shared libraries they need into DIR
#                                          (default: device-kit/, git-ignored, at most 64 MiB); print its size
#   scripts/device-check.sh run [REPORT]   on the GPU machine: every CUDA test and the benchmark
#                                          (C++ and PyTorch side by side) in at most 8 minutes, one
#                                          JSON report to REPORT (default: $OUT/device-report.json,
#                                          else device-report.json); stops at once without a GPU
#
# Environment: LLCPRESS_KIT (the bundle directory, default device-kit), LLCPRESS_KIT_BUILD (build
# directory of `bundle`, default build-device), LLCPRESS_BENCH_QUICK=1 (run: the benchmark's short form).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
kit=${LLCPRESS_KIT:-device-kit}

# The CUDA libraries are the GPU machine's own (its driver, its toolkit,
# PyTorch's wheels); glibc, libstdc++ and libgcc_s are the system's (newer
# there: Ubuntu 24.04 under Python 3.12, and backward compatible, whereas a
# bundled older libstdc++ would shadow the one PyTorch needs). Everything
# else a binary loads travels with it.
not_bundled='^(libcuda|libcudart|libcublas|libcublasLt|libcudnn|libnvidia|libnvrtc|libnvJitLink|libc|libm|libdl|libpthread|librt|libresolv|libutil|libstdc\+\+|libgcc_s|ld-linux-x86-64|linux-vdso)\.so'
limit_bytes=$((64 * 1024 * 1024))

die() {
  echo "device-check: $*" >&2
  exit 2
}

bundle() {
  local out=${1:-$kit} build=${LLCPRESS_KIT_BUILD:-build-device}
  command -v nvcc > /dev/null || [ -x /usr/local/cuda/bin/nvcc ] ||
    die "no nvcc: the bundle needs the CUDA toolkit to compile (scripts/install-deps.sh; /usr/local/cuda)"
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$root}
  local launcher=()
  command -v ccache > /dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
  # Portable x86-64 code: the GPU machine's CPU is not this one (no -march=native). The CPU twins in the
  # kit multiply with Eigen, not OpenBLAS: libopenblas (36 MB, every CPU's kernels) would not fit in 64 MiB.
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DLLCPRESS_NATIVE=OFF -DLLCPRESS_OPENBLAS=OFF -DLLCPRESS_CUDA=ON \
    -DLLCPRESS_BENCH=ON \
    "${launcher[@]}" > "$build.configure.log" || die "configure failed: see $build.configure.log"
  # Every test executable labelled cuda, and the GPU benchmark.
  # llcpress itself for the command-level comparison (tests/cuda/llc_cuda_vs_cpu_test.sh).
  local targets=(test_select_device test_cuda test_device_paths llcpress llcpress_bench_gpu)
  cmake --build "$build" -j "$(nproc)" --target "${targets[@]}"

  rm -rf "$out"
  mkdir -p "$out/bin" "$out/lib" "$out/bench"
  cp "$build/tests/cuda/test_select_device" "$build/tests/cuda/test_cuda" \
    "$build/tests/device_paths/test_device_paths" "$build/bin/llcpress" "$build/bench/gpu/llcpress_bench_gpu" "$out/bin/"
  mkdir -p "$out/tests"
  cp tests/cuda/llc_cuda_vs_cpu_test.sh "$out/tests/"
  cp bench/gpu/bench_torch_gpu.py bench/gpu/report.py "$out/bench/"
  # The shared libraries ldd resolves here, minus the GPU machine's own.
  local library
  for binary in "$out"/bin/*; do
    ldd "$binary" | awk '/=> \//{print $3}'
  done | sort -u | while read -r library; do
    if basename "$library" | grep -Eq "$not_bundled"; then continue; fi
    cp -L "$library" "$out/lib/"
  done
  strip --strip-unneeded "$out"/bin/* "$out"/lib/* 2> /dev/null || true
  git rev-parse HEAD > "$out/REVISION" 2> /dev/null || echo unknown > "$out/REVISION"
  local bytes
  bytes=$(du -sb "$out" | cut -f1)
  echo "device-check: bundle $out: $(du -sh "$out" | cut -f1) ($bytes bytes; limit $limit_bytes)"
  ls -l "$out/bin" "$out/lib" | awk 'NF > 5 {print "  " $5 "\t" $9}'
  [ "$bytes" -le "$limit_bytes" ] || die "the bundle is over 64 MiB: the device tool carries at most 64 MiB"
}

# Where the GPU machine keeps libcudart/libcublasLt of CUDA 13: the toolkit, or PyTorch's wheels.
cuda_library_path() {
  local dirs=() candidate
  for candidate in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda-13*/lib64; do
    [ -e "$candidate/libcublasLt.so.13" ] && dirs+=("$candidate")
  done
  if command -v python3 > /dev/null; then
    while read -r candidate; do [ -n "$candidate" ] && dirs+=("$candidate"); done < <(python3 - << 'EOF' 2> /dev/null
import glob, os, site
roots = site.getsitepackages() + [site.getusersitepackages()]
for root in roots:
    for name in ("libcublasLt.so.13", "libcudart.so.13"):
        for path in glob.glob(os.path.join(root, "nvidia", "**", name), recursive=True):
            print(os.path.dirname(path))
EOF
    )
  fi
  local IFS=:
  echo "${dirs[*]}"
}

run() {
  local report=${1:-${OUT:+$OUT/device-report.json}}
  report=${report:-device-report.json}
  # First, at once: is there a GPU at all?
  command -v nvidia-smi > /dev/null || die "no GPU: nvidia-smi is not installed here (no NVIDIA driver). Run this on the GPU machine (docs/gpu.md)."
  local gpus
  gpus=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2> /dev/null) || true
  [ -n "$gpus" ] || die "no GPU: nvidia-smi lists no device. Run this on the GPU machine (docs/gpu.md)."
  [ -x "$kit/bin/test_cuda" ] || die "no bundle in $kit/: run 'scripts/device-check.sh bundle' first and carry $kit"
  echo "device-check: GPU: $gpus"

  local started=$SECONDS work
  work=$(mktemp -d)
  # Only for the kit's binaries: python3 (PyTorch) keeps the system's libraries.
  local library_path="$root/$kit/lib:$(cuda_library_path)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export OMP_NUM_THREADS=${OMP_NUM_THREADS:-8}
  echo "device-check: the kit's binaries run with LD_LIBRARY_PATH=$library_path"
  # Stage budgets (seconds) that add up to under 8 minutes.
  local status
  for test in test_select_device test_cuda test_device_paths; do
    status=0
    LD_LIBRARY_PATH=$library_path timeout 150 "$kit/bin/$test" --gtest_output="json:$work/$test.json" > "$work/$test.log" 2>&1 || status=$?
    echo "$status" > "$work/$test.status"
    echo "device-check: $test exit $status ($((SECONDS - started)) s)"
    tail -3 "$work/$test.log"
  done
  # The commands end to end: llcpress llc/eval --device cuda against --device cpu (exit 77: skipped, with why).
  status=0
  LD_LIBRARY_PATH=$library_path timeout 90 "$kit/tests/llc_cuda_vs_cpu_test.sh" "$kit/bin/llcpress" "$work/cli_llc" \
    > "$work/cli_llc.log" 2>&1 || status=$?
  echo "$status" > "$work/cli_llc.status"
  echo "device-check: llc --device cuda vs cpu exit $status ($((SECONDS - started)) s)"
  tail -3 "$work/cli_llc.log"
  status=0
  LD_LIBRARY_PATH=$library_path timeout 120 "$kit/bin/llcpress_bench_gpu" ${LLCPRESS_BENCH_QUICK:+--quick} --json "$work/bench_cpp.json" > "$work/bench_cpp.log" 2>&1 || status=$?
  echo "$status" > "$work/bench_cpp.status"
  echo "device-check: llcpress_bench_gpu exit $status ($((SECONDS - started)) s)"
  tail -5 "$work/bench_cpp.log"
  status=0
  local remaining=$((440 - (SECONDS - started)))
  [ "$remaining" -gt 30 ] || remaining=30
  PYTHONUNBUFFERED=1 timeout "$remaining" python3 "$kit/bench/bench_torch_gpu.py" --json "$work/bench_torch.json" \
    ${LLCPRESS_BENCH_QUICK:+--quick} > "$work/bench_torch.log" 2>&1 || status=$?
  echo "$status" > "$work/bench_torch.status"
  echo "device-check: bench_torch_gpu.py exit $status ($((SECONDS - started)) s)"
  tail -5 "$work/bench_torch.log"
  python3 "$kit/bench/report.py" --work "$work" --kit "$kit" --gpus "$gpus" --seconds $((SECONDS - started)) \
    --out "$report"
  echo "device-check: report $report ($((SECONDS - started)) s in all)"
  # Non-zero when a test failed, skipped on a GPU, or a stage did not finish.
  python3 -c "import json,sys; sys.exit(0 if json.load(open('$report'))['ok'] else 1)"
}

case "${1:-}" in
  bundle) shift; bundle "$@" ;;
  run) shift; run "$@" ;;
  *)
    awk 'NR > 1 && /^#/ {print; next} NR > 1 {exit}' "$0"
    exit 2
    ;;
esac
