#!/usr/bin/env bash
# Renders every view of the workbench to PNG for review: builds the GUI, then, in a virtual
# display, opens the demo model, records two compression runs and a Lillama run and saves each
# view at 1024 x 700, 1280 x 720 and 1920 x 1080, in English (OUT_DIR/en) and Japanese
# (OUT_DIR/ja).
# Usage: bash scripts/render_views.sh [OUT_DIR]   (default: build/views)
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

out="${1:-$RANKSCOPE_BUILD/views}"
data="$RANKSCOPE_ROOT/../shared/data"
rankscope_install_deps
rankscope_build rankscope
for language in en ja; do
    rankscope_log "rendering the views into $out/$language"
    xvfb-run -a -s "-screen 0 2000x1200x24" "$RANKSCOPE_BUILD/app/gui/rankscope" \
        "$data/models/stories260K" --calib "$data/text/tinystories/calib.txt" \
        --eval "$data/text/tinystories/eval.txt" --language "$language" \
        --render-views "$out/$language"
done
