#!/usr/bin/env bash
# Builds cti-enrich and runs the whole test suite twice: a normal build, then
# the sanitizer build (-fsanitize=address,undefined). With CTI_VALGRIND=1 the
# integration tests also run under valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

echo "== build (release, warnings as errors)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCTI_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
echo "== tests"
ctest --test-dir build --output-on-failure -j"$jobs"

echo "== build (address and undefined-behaviour sanitizers)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCTI_SANITIZE=ON -DCTI_WERROR=ON >/dev/null
cmake --build build-asan -j"$jobs"
echo "== tests under the sanitizers"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j"$jobs"

if [ "${CTI_VALGRIND:-0}" = 1 ]; then
    echo "== integration tests under valgrind"
    CTI_ENRICH_WRAPPER="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite" \
        ctest --test-dir build --output-on-failure -j"$jobs" -L integration
fi
