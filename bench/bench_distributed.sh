#!/usr/bin/env bash
# One job run as 1 process x 2 threads and as 2 processes x 1 thread on this machine (loopback
# c10d), with the bytes the processes exchanged. Prints the wall times, each run's stages and the
# ratio, for the projection in docs/distributed.md.
#
#   bench/bench_distributed.sh MODEL_DIR [BLOCKS] [CALIB_TOKENS] [JOB]
#
# BLOCKS (default 2) decoder blocks are worked on; the calibration passes run through every
# block. JOB: compress (default; W4 g128 + EoRA r64, with analysis), lord (LoRD, data-aware, rank
# 256, with analysis) or lillama (rank 256, 20 AdamW steps per block).
set -euo pipefail
model="${1:?usage: bench/bench_distributed.sh MODEL_DIR [BLOCKS] [CALIB_TOKENS]}"
blocks="${2:-2}"
tokens="${3:-4096}"
job="${4:-compress}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cli="${RANKSCOPE_CLI:-$root/build/app/rankscope-cli}"
calib="$root/../shared/data/text/tinystories/calib.txt"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

last=$((blocks - 1))
common=(--calib "$calib" --calib-tokens "$tokens" --include "layers\.([0-$last])\." --no-store)
case "$job" in
    compress) args=(compress "$model" --method rtn:bits=4,group=128 --comp eora --rank 64) ;;
    lord) args=(lowrank "$model" --method lord-data --rank 256) ;;
    lillama) args=(lowrank "$model" --method lillama --rank 256 --steps 20) ;;
    *) echo "unknown job $job (compress, lord or lillama)" >&2; exit 2 ;;
esac
args+=("${common[@]}")
unset RANK WORLD_SIZE LOCAL_RANK MASTER_ADDR MASTER_PORT

stages() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(' '.join(f'{k} {v:.1f} s' for k,v in d['stage_seconds'].items()))" "$1"; }

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
start=$(date +%s.%N)
OMP_NUM_THREADS=2 "$cli" "${args[@]}" --json "$out/one.json" >/dev/null 2>"$out/one.err"
one=$(echo "$(date +%s.%N) - $start" | bc)
printf '1 process x 2 threads:   %7.1f s   (%s)\n' "$one" "$(stages "$out/one.json")"

port=$((29000 + RANDOM % 1000))
start=$(date +%s.%N)
for rank in 0 1; do
    RANK=$rank LOCAL_RANK=$rank WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
        OMP_NUM_THREADS=1 "$cli" "${args[@]}" --json "$out/two.json" >/dev/null 2>"$out/two.$rank.err" &
done
wait
two=$(echo "$(date +%s.%N) - $start" | bc)
printf '2 processes x 1 thread:  %7.1f s   (%s)\n' "$two" "$(stages "$out/two.json")"
printf 'ratio (1x2 / 2x1):       %7.2f\n' "$(echo "$one / $two" | bc -l)"
bytes=$(grep -o '([0-9]* bytes)' "$out/two.0.err" | tr -dc 0-9)
printf 'exchanged by rank 0:     %s bytes in all, %s per block worked on\n' "$bytes" "$((bytes / blocks))"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
