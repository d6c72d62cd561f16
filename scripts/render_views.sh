#!/usr/bin/env bash
# Renders every view of the workbench to PNG for review: builds the GUI, then, in a virtual
# display, opens the demo model, records two compression runs and a Lillama run and saves each
# view.
# Usage: bash scripts/render_views.sh [OUT_DIR]   (default: build/views)
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

out="${1:-$RANKSCOPE_BUILD/views}"
data="$RANKSCOPE_ROOT/../shared/data"
rankscope_install_deps
rankscope_build rankscope
rankscope_log "rendering the views into $out"
xvfb-run -a -s "-screen 0 1600x1000x24" "$RANKSCOPE_BUILD/app/gui/rankscope" \
    "$data/models/stories260K" --calib "$data/text/tinystories/calib.txt" \
    --eval "$data/text/tinystories/eval.txt" --render-views "$out"
