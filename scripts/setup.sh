#!/usr/bin/env bash
# Shared set-up steps for run.sh and test.sh: Debian packages (installed only when missing),
# CMake configuration and build. Source it; do not run it directly.
set -euo pipefail

RANKSCOPE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RANKSCOPE_BUILD="${RANKSCOPE_BUILD:-$RANKSCOPE_ROOT/build}"
# ccache sees paths relative to the checkout, so a fresh clone in another folder (CI) reuses
# what an earlier build compiled.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$RANKSCOPE_ROOT}"
export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-1}"

RANKSCOPE_PACKAGES=(
    build-essential cmake ninja-build ccache pkg-config file dpkg-dev
    qt6-base-dev qt6-tools-dev qt6-tools-dev-tools qt6-l10n-tools qt6-svg-dev libqcustomplot-dev
    libtorch-dev libopenblas0-pthread libopenblas-pthread-dev libeigen3-dev libsqlite3-dev libssl-dev nlohmann-json3-dev
    libsentencepiece-dev libicu-dev libgloo-dev
    xvfb xauth time python3-torch
    qt6-translations-l10n fonts-ipafont-gothic
)

rankscope_log() {
    if [ -t 2 ]; then printf '\033[1m[rankscope]\033[0m %s\n' "$*" >&2; else printf '[rankscope] %s\n' "$*" >&2; fi
}

# Installs the packages that are not installed yet; does nothing when all are present.
rankscope_install_deps() {
    local missing=()
    for pkg in "${RANKSCOPE_PACKAGES[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
            missing+=("$pkg")
        fi
    done
    if [ ${#missing[@]} -eq 0 ]; then
        return 0
    fi
    rankscope_log "installing missing Debian packages: ${missing[*]}"
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { rankscope_log "run as root or install sudo"; exit 1; }
        sudo="sudo"
    fi
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# Configures (once) and builds the given targets (all when none are named).
rankscope_build() {
    local jobs
    jobs="$(nproc 2>/dev/null || echo 2)"
    if [ ! -f "$RANKSCOPE_BUILD/build.ninja" ]; then
        rankscope_log "configuring $RANKSCOPE_BUILD"
        cmake -S "$RANKSCOPE_ROOT" -B "$RANKSCOPE_BUILD" -G Ninja \
            -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRANKSCOPE_WARNINGS_AS_ERRORS=ON \
            ${RANKSCOPE_CMAKE_ARGS:-}
    fi
    rankscope_log "building${*:+ $*} ($jobs jobs)"
    if [ $# -gt 0 ]; then
        cmake --build "$RANKSCOPE_BUILD" -j "$jobs" --target "$@"
    else
        cmake --build "$RANKSCOPE_BUILD" -j "$jobs"
    fi
}
