#!/usr/bin/env bash
# Prepares the CUDA device check (scripts/device-check.sh) on this Debian machine: the device's
# image has CUDA, nvcc, CMake, ninja and a CUDA PyTorch (whose LibTorch the check builds against)
# but none of RankScope's other libraries, and reaches no package registry. This fetches them as
# Debian packages and copies the demo model and texts into .device/ (ignored by git), which the
# device call then carries along:
#
#   bash scripts/device-prepare.sh
#   device run, carry [".device"]:  bash scripts/device-check.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
debs="$root/.device/debs"
data="$root/.device/data"
shared="${RANKSCOPE_SHARED_DATA:-$root/../shared/data}"

# Headers and libraries the core, the CLI, the tests and the benchmarks need (no GUI there), with
# the runtime libraries the image may lack. They are Debian 12's, built against glibc 2.36: the
# image's glibc must be as new (Ubuntu 24.04 has 2.39). LAPACK stays out: without it the core uses ATen's
# solvers, as it does on a GPU.
packages=(
    libeigen3-dev nlohmann-json3-dev
    libsqlite3-dev libsqlite3-0 libssl-dev libssl3
    libsentencepiece-dev libsentencepiece0 libprotobuf-lite32
    libicu-dev libicu72
    qt6-base-dev qt6-base-dev-tools qmake6 qmake6-bin libqt6core6 libqt6test6
    libdouble-conversion3 libpcre2-16-0 libb2-1
    ccache libhiredis0.14 libxxhash0
)

mkdir -p "$debs" "$data"
rm -f "$debs"/*.deb # one version of each: the check unpacks every file here
(cd "$debs" && apt-get download "${packages[@]}")
for part in models/stories260K llama2c text tokenizers; do
    mkdir -p "$data/$(dirname "$part")"
    cp -r "$shared/$part" "$data/$(dirname "$part")/"
done
du -sh "$root/.device"
