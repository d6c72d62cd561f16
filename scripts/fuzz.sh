#!/usr/bin/env bash
# Runs the libFuzzer targets of fuzz/ with ASan and UBSan for SECONDS each (all of them, or the
# TARGETs named), after configuring and building the fuzz build when needed and generating the seed
# corpora from ../shared/data. Prints one summary line per target and exits non-zero when any
# target found a crash; crash inputs are kept in <build>/fuzz-artifacts/<target>/, the corpus in
# <build>/fuzz-corpus/<target>/ and libFuzzer's output in <build>/fuzz-logs/<target>.log.
#
#   scripts/fuzz.sh 600                      # every target, 10 minutes each
#   scripts/fuzz.sh 60 fuzz_gguf fuzz_lists  # two targets, a minute each
#
# The parsers that include LibTorch are built with GCC in a second build directory (see
# fuzz/CMakeLists.txt for why); the others with clang.
#
# Environment: RANKSCOPE_FUZZ_BUILD (clang build directory, default build-fuzz; the GCC one is
# the same name with -gcc), FUZZ_NICE (default 19),
# FUZZ_SKIP_BUILD=1 (use the targets as built, e.g. while another ninja runs in the same build).
set -euo pipefail

if [[ $# -lt 1 || ! $1 =~ ^[0-9]+$ ]]; then
    echo "usage: $0 SECONDS [TARGET...]" >&2
    exit 2
fi
seconds=$1
shift

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
data=$(dirname "$repo")/shared/data
clang_build=${RANKSCOPE_FUZZ_BUILD:-$repo/build-fuzz}
gcc_build=$clang_build-gcc
nice_level=${FUZZ_NICE:-19}

# Target -> the largest input worth trying (a little above its largest seed).
declare -A max_len=(
    [fuzz_safetensors]=8192 [fuzz_shard_index]=4096 [fuzz_hf_config]=4096
    [fuzz_tokenizer_json]=16384 [fuzz_sentencepiece_model]=8192 [fuzz_llama2c_tokenizer]=8192
    [fuzz_llama2c_header]=1024 [fuzz_gguf]=16384 [fuzz_export_reader]=32768
    [fuzz_method_spec]=256 [fuzz_lists]=256 [fuzz_overrides]=512
)
all_targets=(fuzz_safetensors fuzz_shard_index fuzz_hf_config fuzz_tokenizer_json
             fuzz_sentencepiece_model fuzz_llama2c_tokenizer fuzz_llama2c_header fuzz_gguf
             fuzz_export_reader fuzz_method_spec fuzz_lists fuzz_overrides)
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=("${all_targets[@]}")
# Targets that include LibTorch, built with GCC.
declare -A needs_gcc=([fuzz_safetensors]=1 [fuzz_shard_index]=1 [fuzz_llama2c_header]=1
                      [fuzz_export_reader]=1)
build_of() { [[ -n ${needs_gcc[$1]:-} ]] && echo "$gcc_build" || echo "$clang_build"; }

for target in "${targets[@]}"; do
    [[ -n ${max_len[$target]:-} ]] || { echo "unknown target $target" >&2; exit 2; }
done

# Configures (when needed) and builds `targets` in build directory $1 with compiler $2.
build_targets() {
    local dir=$1 compiler=$2 flags=$3
    shift 3
    [[ $# -gt 0 ]] || return 0
    if [[ ! -f $dir/build.ninja ]]; then
        nice -n 15 cmake -S "$repo" -B "$dir" -G Ninja -DCMAKE_CXX_COMPILER="$compiler" \
            -DRANKSCOPE_FUZZ=ON -DRANKSCOPE_SANITIZE=ON -DRANKSCOPE_BUILD_GUI=OFF \
            -DRANKSCOPE_BUILD_TESTS=OFF -DRANKSCOPE_BUILD_BENCH=OFF \
            -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=$flags"
    fi
    nice -n 15 ninja -C "$dir" -j1 "$@"
}
if [[ ${FUZZ_SKIP_BUILD:-0} != 1 ]]; then
    clang_targets=() gcc_targets=()
    for target in "${targets[@]}"; do
        if [[ -n ${needs_gcc[$target]:-} ]]; then gcc_targets+=("$target")
        else clang_targets+=("$target"); fi
    done
    build_targets "$clang_build" clang++ "-O1 -gline-tables-only" "${clang_targets[@]}"
    build_targets "$gcc_build" g++ "-O1 -g1" "${gcc_targets[@]}"
fi

# One seed directory per run, so that runs side by side do not disturb each other.
mkdir -p "$clang_build"
seeds=$(mktemp -d "$clang_build/fuzz-seeds.XXXXXX")
trap 'rm -rf "$seeds"' EXIT
python3 "$repo/fuzz/make_seeds.py" "$data" "$seeds"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1:allocator_may_return_null=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export LSAN_OPTIONS=suppressions=$repo/fuzz/lsan.supp:print_suppressions=0

found=0
for target in "${targets[@]}"; do
    build=$(build_of "$target")
    corpus=$build/fuzz-corpus/$target
    artifacts=$build/fuzz-artifacts/$target
    log=$build/fuzz-logs/$target.log
    mkdir -p "$corpus" "$artifacts" "$(dirname "$log")" "$seeds/$target"
    stamp=$(mktemp)
    started=$(date +%s)
    status=0
    nice -n "$nice_level" "$build/fuzz/$target" -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -max_len="${max_len[$target]}" -print_final_stats=1 \
        -artifact_prefix="$artifacts/" "$corpus" "$seeds/$target" >"$log" 2>&1 &
    pid=$!
    wait "$pid" || status=$?
    # The target's scratch files (fuzz/fuzz_input.h).
    rm -rf "/dev/shm/rankscope-fuzz-$pid" "${TMPDIR:-/tmp}/rankscope-fuzz-$pid"
    elapsed=$(($(date +%s) - started))

    stats=$(grep -E '^#[0-9]+' "$log" | grep 'cov:' | tail -n 1 || true)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$stats")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$stats")
    corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9A-Za-z]*\).*/\1/p' <<<"$stats")
    crashes=$(find "$artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
        -o -name 'oom-*' \) -newer "$stamp" -printf '%p ' 2>/dev/null || true)
    rm -f "$stamp"
    if [[ $status -ne 0 || -n $crashes ]]; then
        found=1
        [[ -n $crashes ]] || crashes="exit status $status (see $log)"
    fi
    printf '%-26s %5ss  execs %-10s cov %-6s ft %-7s corpus %-12s findings: %s\n' "$target" \
        "$elapsed" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "${crashes:-none}"
done
exit $found
