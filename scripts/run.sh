#!/usr/bin/env bash
# The main job: install what is missing, build, and open the workbench on a model
# (default: the bundled demo model ../shared/data/models/stories260K).
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

data="$RANKSCOPE_ROOT/../shared/data"
model="${1:-$data/models/stories260K}"
model="$(realpath -m "$model")"
# The demo texts fill in the run panel (calibration and evaluation) when they are there.
texts=()
if [ -f "$data/text/tinystories/calib.txt" ] && [ -f "$data/text/tinystories/eval.txt" ]; then
    texts=(--calib "$(realpath "$data/text/tinystories/calib.txt")"
           --eval "$(realpath "$data/text/tinystories/eval.txt")")
fi
rankscope_install_deps
rankscope_build rankscope rankscope-cli

if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ] && [ -z "${QT_QPA_PLATFORM:-}" ]; then
    rankscope_log "no display found (DISPLAY and WAYLAND_DISPLAY are unset). Alternatives:"
    rankscope_log "  xvfb-run -a $RANKSCOPE_BUILD/app/gui/rankscope $model ${texts[*]}"
    rankscope_log "  $RANKSCOPE_BUILD/app/rankscope-cli info $model"
    rankscope_log "  $RANKSCOPE_BUILD/app/rankscope-cli generate $model --max-tokens 256"
    exit 2
fi
exec "$RANKSCOPE_BUILD/app/gui/rankscope" "$model" "${texts[@]}"
