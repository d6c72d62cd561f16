#!/usr/bin/env bash
# The comparison of RankScope and llama.cpp on stories260K in the README's "Exports": Q8_0 and Q4_0 bases, no
# compensation, SVD and EoRA at ranks 4, 8 and 16, each exported as GGUF (model.gguf +
# adapter.gguf) and evaluated on the whole of eval.txt by both.
#   bench/llama_cpp_table.sh [BUILD_DIR] [WORK_DIR]
# llama.cpp is node-llama-cpp from tests/llama_cpp/package.json, installed into
# BUILD_DIR/llama-cpp-check (as tst_llama_cpp does). Prints a Markdown table. WINDOWS=N limits
# both to the first N windows (a quick check); THREADS=N sets llama.cpp's threads (default 1).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath "${1:-$root/build}")
work=$(realpath -m "${2:-$(mktemp -d)}")
data=$(realpath "$root/../shared/data")
cli="$build/app/rankscope-cli"
runtime="$build/llama-cpp-check"
eval_text="$data/text/tinystories/eval.txt"
threads=${THREADS:-1}
windows=()
if [ -n "${WINDOWS:-}" ]; then windows=(--max-windows "$WINDOWS"); fi

trap 'echo "llama_cpp_table: failed; the logs are in $work" >&2' ERR
mkdir -p "$runtime" "$work"
cp "$root/tests/llama_cpp/package.json" "$root/tests/llama_cpp/check.mjs" "$runtime/"
# npm install does nothing when the pinned version is already there.
(cd "$runtime" && npm install --no-audit --no-fund --loglevel=error >"$work/npm.log" 2>&1)
export RANKSCOPE_DB="$work/rankscope.db"

llama_cpp() { # MODEL [ADAPTER]
    local lora=()
    if [ -n "${2:-}" ]; then lora=(--lora "$2"); fi
    (cd "$runtime" &&
        node check.mjs perplexity "$1" "$eval_text" --threads "$threads" \
            ${windows[@]+"${windows[@]}"} ${lora[@]+"${lora[@]}"}) |
        tail -1 | sed 's/.*"perplexity":\([0-9.]*\).*/\1/'
}
rankscope() { # JSON LABEL
    /usr/bin/python3 -c 'import json,sys
for v in json.load(open(sys.argv[1]))["variants"]:
    if v["label"] == sys.argv[2]: print("%.4f" % v["perplexity"]["perplexity"])' "$1" "$2"
}

echo "| base | compensation | RankScope | llama.cpp | difference |"
echo "|---|---|---:|---:|---:|"
for base in q8_0 q4_0; do
    rm -rf "$work/$base"-*
    "$cli" compress "$data/models/stories260K" --calib "$data/text/tinystories/calib.txt" \
        --eval "$eval_text" --method "$base" --comp none,svd,eora --ranks 4,8,16 --no-analysis \
        ${windows[@]+"${windows[@]}"} --json "$work/$base.json" >"$work/$base.log" 2>&1
    id=$(sed -n 's/^recorded as experiment \([0-9]*\) .*/\1/p' "$work/$base.log")
    for label in none svd@4 svd@8 svd@16 eora@4 eora@8 eora@16; do
        if [ "$label" = none ]; then
            variant=eora@8 # its model.gguf alone is the uncompensated base
        else
            variant=$label
        fi
        out="$work/$base-$variant"
        [ -d "$out" ] || "$cli" export "$id" "$out" --format gguf --variant "$variant" --force \
            >"$out.log" 2>&1
        if [ "$label" = none ]; then
            theirs=$(llama_cpp "$out/model.gguf")
        else
            theirs=$(llama_cpp "$out/model.gguf" "$out/adapter.gguf")
        fi
        ours=$(rankscope "$work/$base.json" "$label")
        diff=$(/usr/bin/python3 -c "print('%+.2f %%' % (100 * ($theirs - $ours) / $ours))")
        printf '| %s | %s | %s | %.4f | %s |\n' "${base^^}" "$label" "$ours" "$theirs" "$diff"
    done
done
