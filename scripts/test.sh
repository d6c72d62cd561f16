#!/usr/bin/env bash
# The test command (also what CI runs): install what is missing, build everything with warnings
# as errors, run the whole Qt Test suite through ctest. Exits non-zero on any failure.
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

rankscope_install_deps
rankscope_build
cd "$RANKSCOPE_BUILD"
ctest --output-on-failure --timeout 900 -j "${RANKSCOPE_TEST_JOBS:-1}"
