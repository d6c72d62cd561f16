#!/usr/bin/env bash
# The CUDA device check, run on the device machine from the repository root, with .device/ from
# scripts/device-prepare.sh carried along. It builds the core, the CLI, the numerical tests and
# the benchmarks against the CUDA LibTorch of the image's PyTorch (no GUI), runs those tests with
# the demo model on cuda, then the CUDA benchmarks, and prints one summary (also written to
# $OUT/device-check.txt, with the whole log in $OUT/device-check.log).
#
# A session has 15 minutes of device time, start-up included: each step has a time limit and the
# whole check stays under 8 minutes, so that one rerun fits. The build is Release, in its own
# folder, with ccache on the device's disk (a rerun on the same warm machine reuses it).
#
# --configure-only: unpack and configure, then stop (a dry run of the set-up on any machine with a
# LibTorch in python3's torch).
set -uo pipefail
configureOnly=false
[ "${1:-}" = "--configure-only" ] && configureOnly=true

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${OUT:-$root/build-cuda}"
deps=/tmp/rankscope-deps
build="${RANKSCOPE_CUDA_BUILD:-/tmp/rankscope-build-cuda}"
log="$out/device-check.log"
mkdir -p "$out" "$deps"
: >"$log"
summary=()
failed=0

# step NAME SECONDS COMMAND...: runs it with its output in the log, and notes the outcome.
step() {
    local name="$1" limit="$2" start=$SECONDS rc
    shift 2
    echo "== $name: $*" >>"$log"
    timeout "$limit" "$@" >>"$log" 2>&1
    rc=$?
    [ $rc = 0 ] || failed=1
    summary+=("$(printf '%-28s %s in %3d s' "$name" "$([ $rc = 0 ] && echo ok || echo "FAILED (rc $rc)")" $((SECONDS - start)))")
    return $rc
}

finish() {
    {
        echo "RankScope device check, $(date -u +%FT%TZ)"
        nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null
        printf '%s\n' "${summary[@]}"
        echo
        grep -E '^(fp32 matmul|stories260K|llama-125M|  rankscope|  reference|  ref\. f64|  .*speed-up|info|eval,|compress W4)' "$log" || true
        echo
        grep -E 'error:|FAIL!|\*\*\*Failed|[1-9][0-9]* tests? failed' "$log" | head -40 || true
    } | tee "$out/device-check.txt"
    exit "${1:-0}"
}

torch_prefix="$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')" ||
    { summary+=("no PyTorch on this machine"); finish 1; }
shopt -s nullglob
debs=("$root"/.device/debs/*.deb)
[ ${#debs[@]} -gt 0 ] || { summary+=("no .device/debs: run scripts/device-prepare.sh first"); finish 1; }
for deb in "${debs[@]}"; do
    dpkg -x "$deb" "$deps" || { summary+=("cannot unpack $deb"); finish 1; }
done
multiarch="$deps/usr/lib/x86_64-linux-gnu"
export PATH="$deps/usr/bin:$PATH"
export LD_LIBRARY_PATH="$multiarch${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# The .pc files name /usr: read them inside the unpacked tree.
export PKG_CONFIG_PATH="$multiarch/pkgconfig:$deps/usr/share/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$deps"
export PKG_CONFIG_ALLOW_SYSTEM_LIBS=1 PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1
export CCACHE_DIR=/tmp/rankscope-ccache CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1
export RANKSCOPE_TEST_DEVICE=cuda

step configure 45 cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DRANKSCOPE_BUILD_GUI=OFF -DRANKSCOPE_TEST_DEVICE=cuda -DRANKSCOPE_TEST_THREADS=4 \
    -DRANKSCOPE_TEST_DATA="$root/.device/data" -DRANKSCOPE_SHARED_DATA="$root/.device/data" \
    -DCMAKE_PREFIX_PATH="$torch_prefix;$deps/usr;$multiarch/cmake" \
    -DICU_ROOT="$deps/usr" -DEigen3_DIR="$deps/usr/share/eigen3/cmake" || finish 1
$configureOnly && finish 0

# The tests whose numerics open the demo model on the test device (tests/test_session.h).
numerical=(tst_analysis tst_budget_model tst_calib tst_compensate tst_compress tst_compress_job
           tst_factorize tst_method_dispatch tst_model tst_perplexity tst_recorder
           tst_spectral_metrics tst_streaming)
benches=(bench_compensate bench_forward bench_scale make_scale_model)
step build 190 cmake --build "$build" -j "$(nproc)" --target rankscope-cli "${numerical[@]}" \
    "${benches[@]}" || finish 1

regex="^($(IFS='|'; echo "${numerical[*]}"))$"
step tests 65 ctest --test-dir "$build" -R "$regex" -j 4 --timeout 60 --output-on-failure
step "bench_forward cuda" 20 "$build/bench/bench_forward" 8 --device=cuda
step "bench_compensate 4096x4096" 30 "$build/bench/bench_compensate" --shape=4096x4096 --device=cuda
step "bench_compensate 4096x14336" 30 "$build/bench/bench_compensate" --shape=4096x14336 --device=cuda
scale=/tmp/rankscope-tinyllama
if step "make_scale_model" 25 "$build/bench/make_scale_model" tinyllama-1.1b "$scale" --force; then
    # The GPU's memory in use, sampled every 100 ms while the TinyLlama-shaped model is compressed.
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 \
        >"$out/gpu-memory.csv" 2>/dev/null &
    sampler=$!
    trap 'kill "$sampler" 2>/dev/null' EXIT
    step "bench_scale cuda" 70 "$build/bench/bench_scale" "$scale" \
        --cli "$build/app/rankscope-cli" --device cuda --skip-sequential
    kill "$sampler" 2>/dev/null
    wait "$sampler" 2>/dev/null
    peak="$(sort -n "$out/gpu-memory.csv" | tail -1)"
    summary+=("peak GPU memory in use during bench_scale: ${peak:-n/a} MiB")
fi
finish "$failed"
