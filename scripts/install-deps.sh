#!/usr/bin/env bash
# Installs the Debian packages llcpress needs, only those that are missing.
# Idempotent: a second run installs nothing and takes about a second.
# Waits for the apt lock instead of failing when another apt is running.
set -euo pipefail

packages=(
  cmake g++ make pkg-config git
  libopenmpi-dev openmpi-bin
  libhdf5-openmpi-dev hdf5-tools
  libeigen3-dev libopenblas-openmp-dev libboost-program-options-dev librandom123-dev
  nlohmann-json3-dev libspdlog-dev libfmt-dev libssl-dev
  libgtest-dev googletest
  clang-14 libclang-rt-14-dev
  python3 python3-h5py python3-numpy python3-matplotlib python3-pandas
)
if [ "${LLCPRESS_WITH_SLURM:-0}" = 1 ]; then
  packages+=(slurmctld slurmd slurm-client)
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get -o DPkg::Lock::Timeout=300 update -qq
"${sudo_cmd[@]}" apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}"
