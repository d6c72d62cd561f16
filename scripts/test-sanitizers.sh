#!/usr/bin/env bash
# The test suite under AddressSanitizer (with its leak check) and UndefinedBehaviorSanitizer:
# builds with RANKSCOPE_SANITIZE=ON into build-asan/ (its own directory; the ordinary build is
# untouched) and runs every test except those labelled "e2e" (end-to-end runs through the CLI's
# processes, the GUI's timed jobs and outside runtimes, which the ordinary test command covers:
# under the sanitizers a process start costs seconds and the GUI misses its timing checks).
# Any sanitizer report fails the test that caused it.
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

RANKSCOPE_BUILD="${RANKSCOPE_SANITIZE_BUILD:-$RANKSCOPE_ROOT/build-asan}"
# One BLAS/OpenMP thread per test (RANKSCOPE_TEST_THREADS): two tests run at once on two cores,
# and OpenBLAS threads that wait for a busy core spin for a long time.
# No benchmarks: they time things, and the ordinary build has them.
RANKSCOPE_CMAKE_ARGS="-DRANKSCOPE_SANITIZE=ON -DRANKSCOPE_TEST_THREADS=1 -DRANKSCOPE_BUILD_BENCH=OFF ${RANKSCOPE_CMAKE_ARGS:-}"

rankscope_install_deps
rankscope_build

# halt_on_error: the first report ends the test, so ctest sees it fail. Leaks inside LibTorch,
# Qt and the system libraries that are not ours are listed in the suppression file.
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:strict_string_checks=1:check_initialization_order=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export LSAN_OPTIONS="suppressions=$RANKSCOPE_ROOT/scripts/sanitizers/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

cd "$RANKSCOPE_BUILD"
ctest --output-on-failure --timeout 1800 -j "${RANKSCOPE_TEST_JOBS:-2}" -LE e2e
